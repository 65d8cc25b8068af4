"""Lattice spin systems: models, exact solutions, neural samplers and their estimators."""

from physgen.models.registry import ModelRegistry

__all__ = ["LATTICE_MODELS"]

LATTICE_MODELS = ModelRegistry(
    {
        "lattice-sampler": "physgen.lattice.variational:LatticeSampler",
        "lattice-strip": "physgen.lattice.conditional_z:ConditionalStripSampler",
    }
)
