"""``trees``: gradient-boosted-tree flow matching (BUFF / CaloForest style, arXiv:2404.18219)
for showers with thousands of voxels.

One tree ensemble per time level cannot regress thousands of outputs on a CPU, so the model
works in the principal-component latent space of calo.latent_models (``latent_components``
whitened coefficients of the preprocessed showers): the trees learn flow matching of those
coefficients given log E_inc; generated coefficients are decoded with probabilistic-PCA
noise in the discarded directions. The PCA, the residual widths and the tree ensembles are
saved with the model.
"""

from __future__ import annotations

import time

import torch

from physgen.calo.geometry import Geometry
from physgen.calo.latent_models import LatentRepresentation
from physgen.calo.shower_models import MODELS, ShowerModelConfig, _log_energy
from physgen.core.errors import PhysgenInputError
from physgen.models.trees import TreeFlowMatching

__all__ = ["TreeShowerModel"]


class TreeShowerModel(LatentRepresentation):
    name = "trees"

    def __init__(self, geometry: Geometry, config: ShowerModelConfig):
        super().__init__(geometry, config)
        self.trees: TreeFlowMatching | None = None
        self.sampler_name = "midpoint" if config.trees.midpoint else "euler"
        self.steps = config.trees.steps

    def fit(self, incident_mev, showers_mev, run_dir=None, resume=False, progress=True) -> dict:
        started = time.perf_counter()
        self.fit_zero_suppression(showers_mev)
        log_energy, coefficients, explained = self._fit_latent(incident_mev, showers_mev)
        pca_s = time.perf_counter() - started
        self.trees = TreeFlowMatching(self.config.trees).fit(
            coefficients.numpy(), log_energy.numpy(), progress=progress
        )
        return {
            "trees": {
                "pca_s": pca_s,
                "train_s": time.perf_counter() - started,
                "explained_variance": explained,
                "components": self.pca.n_components,
            }
        }

    def _generate(self, energies, generator):
        if self.trees is None:
            raise RuntimeError("the trees model is not fitted")
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        try:
            z = self.trees.sample(
                _log_energy(energies).cpu().numpy(),
                method=self.sampler_name,
                seed=seed,
                steps=self.steps,
            )
        except ValueError as err:
            raise PhysgenInputError(str(err)) from err
        z = torch.as_tensor(z, device=energies.device)
        return self._showers_from_latent(z, energies, generator)

    def _extra_payload(self) -> dict:
        return {"trees": self.trees.to_bytes() if self.trees is not None else None}

    def _load_extra(self, payload: dict) -> None:
        raw = payload.get("trees")
        self.trees = TreeFlowMatching.from_bytes(raw) if raw is not None else None


MODELS[TreeShowerModel.name] = TreeShowerModel
