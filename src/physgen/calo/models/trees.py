"""``trees``: gradient-boosted-tree flow matching (BUFF / CaloForest style, arXiv:2404.18219)
for showers with thousands of voxels.

One tree ensemble per time level cannot regress thousands of outputs on a CPU, so the model
works in the principal-component latent space of calo.models.latent (``latent_components``
whitened coefficients of the preprocessed showers): the trees learn flow matching of those
coefficients given log E_inc; generated coefficients are decoded with probabilistic-PCA
noise in the discarded directions. The PCA, the residual widths and the tree ensembles are
saved with the model.
"""

from __future__ import annotations

import time
from dataclasses import field
from typing import Literal

import torch

from physgen.calo.models.latent import LatentConfig, LatentRepresentation
from physgen.calo.showers import log_energy
from physgen.core.config import settings
from physgen.core.errors import PhysgenInputError
from physgen.models.trees import TreeConfig, TreeFlowMatching

__all__ = ["TreeShowerConfig", "TreeShowerModel"]


@settings
class TreeShowerConfig(LatentConfig):
    model: Literal["trees"] = "trees"
    trees: TreeConfig = field(default_factory=TreeConfig)


class TreeShowerModel(LatentRepresentation):
    name = "trees"
    config_class = TreeShowerConfig
    samplers = ("euler", "midpoint")

    def __init__(self, config: TreeShowerConfig):
        super().__init__(config)
        self.trees: TreeFlowMatching | None = None
        self.sampler_name = "midpoint" if config.trees.midpoint else "euler"
        self.steps = config.trees.steps

    def _fit(self, incident_mev, showers_mev, run):
        started = time.perf_counter()
        condition, coefficients, explained = self._fit_latent(incident_mev, showers_mev)
        pca_s = time.perf_counter() - started
        progress = getattr(run, "progress", True)
        self.trees = TreeFlowMatching(self.config.trees).fit(
            coefficients.numpy(), condition.numpy(), progress=progress
        )
        return {
            "trees": {
                "pca_s": pca_s,
                "train_s": time.perf_counter() - started,
                "explained_variance": explained,
                "components": self.pca.n_components,
            }
        }

    def _generate(self, incident_mev, noise):
        if self.trees is None:
            raise PhysgenInputError("the trees model is not fitted")
        initial = noise.normal(self.pca.n_components).cpu().numpy()
        try:
            z = self.trees.sample(
                log_energy(incident_mev).cpu().numpy(),
                method=self.sampler_name,
                steps=self.steps,
                initial=initial,
            )
        except ValueError as err:
            raise PhysgenInputError(str(err)) from err
        z = torch.as_tensor(z, device=incident_mev.device)
        return self._showers_from_latent(z, incident_mev, noise)

    def _extra_state(self) -> dict:
        return {"trees": self.trees.to_bytes() if self.trees is not None else None}

    def _load_extra_state(self, extra: dict) -> None:
        raw = extra.get("trees")
        self.trees = TreeFlowMatching.from_bytes(raw) if raw is not None else None
