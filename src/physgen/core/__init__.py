"""Domain-free plumbing: errors, atomic writes, devices, seeding, training loop."""
