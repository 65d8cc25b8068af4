"""Flows that sample and integrate known densities: targets with exact normalisations, flows
trained by reverse KL, neural importance sampling and FAB, importance-sampling estimates."""

from physgen.models.registry import ModelRegistry

__all__ = ["INTEGRATE_MODELS"]

INTEGRATE_MODELS = ModelRegistry({"density-flow": "physgen.integrate.sampler:DensityFlow"})
