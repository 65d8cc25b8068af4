"""Calorimeter shower models, one module per family (flows, latent, diffusion, trees; the
shared part in calo.models.base); every class implements the models.base.ConditionalGenerator
contract and is listed in ``SHOWER_MODELS``."""

from physgen.models.registry import ModelRegistry

__all__ = ["SHOWER_MODELS"]

SHOWER_MODELS = ModelRegistry(
    {
        "coupling": "physgen.calo.models.flows:CouplingShowerModel",
        "caloflow": "physgen.calo.models.flows:CaloFlowShowerModel",
        "latent-flow": "physgen.calo.models.latent:LatentFlowShowerModel",
        "diffusion": "physgen.calo.models.diffusion:DiffusionShowerModel",
        "flow-matching": "physgen.calo.models.diffusion:FlowMatchingShowerModel",
        "trees": "physgen.calo.models.trees:TreeShowerModel",
    }
)
