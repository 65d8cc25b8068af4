"""Jets: Pythia 8 + FastJet reference data and implicit-quantile-network emulation."""

from physgen.models.registry import ModelRegistry

__all__ = ["JET_MODELS"]

JET_MODELS = ModelRegistry({"iqn": "physgen.jets.emulator:JetEmulator"})
