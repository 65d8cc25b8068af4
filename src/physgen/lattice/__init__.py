"""Lattice spin systems: models, exact solutions, neural samplers and their estimators."""
