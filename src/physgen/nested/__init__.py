"""Nested sampling whose proposals are generative models trained on the live points."""

from physgen.models.registry import ModelRegistry

__all__ = ["NESTED_MODELS"]

NESTED_MODELS = ModelRegistry(
    {
        "nested-flow": "physgen.nested.proposal:FlowProposal",
        "nested-flow-matching": "physgen.nested.fm_proposal:FlowMatchingProposal",
    }
)
