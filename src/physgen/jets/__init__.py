"""Jets: Pythia 8 + FastJet reference data and implicit-quantile-network emulation."""
