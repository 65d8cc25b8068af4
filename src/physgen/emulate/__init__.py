"""Emulation by committee: simulators, designs, committees of networks, active learning and
fits on the emulator."""

from physgen.models.registry import ModelRegistry

__all__ = ["EMULATE_MODELS"]

EMULATE_MODELS = ModelRegistry({"committee-emulator": "physgen.emulate.emulator:Emulator"})
