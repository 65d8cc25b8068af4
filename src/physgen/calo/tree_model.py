"""``trees``: gradient-boosted-tree flow matching (BUFF / CaloForest style, arXiv:2404.18219)
for showers with thousands of voxels.

One tree ensemble per time level cannot regress thousands of outputs on a CPU, so the model
works in a reduced space: the (layer-energy ratios, shapes) representation after logit and
standardisation is projected on its leading principal components (``tree_components``,
whitened); the trees learn flow matching of those coefficients given log E_inc; generated
coefficients are mapped back and the discarded directions are filled with independent
Gaussian noise of their measured per-feature variance (probabilistic PCA). The PCA, the
residual widths and the tree ensembles are saved with the model.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from physgen.calo.geometry import Geometry
from physgen.calo.shower_models import (
    MODELS,
    ShowerModelConfig,
    _LayerEnergyRepresentation,
    _log_energy,
    _logit_standardize,
)
from physgen.core.errors import PhysgenInputError
from physgen.models.trees import TreeFlowMatching

__all__ = ["TreeShowerModel"]


class TreeShowerModel(_LayerEnergyRepresentation):
    name = "trees"

    def __init__(self, geometry: Geometry, config: ShowerModelConfig):
        super().__init__(geometry, config)
        n_features = geometry.n_layers + geometry.n_voxels
        k = min(config.tree_components, n_features)
        self.preprocessing = _logit_standardize(n_features)
        self.register_buffer("pca_mean", torch.zeros(n_features))
        self.register_buffer("pca_components", torch.zeros(k, n_features))
        self.register_buffer("pca_scale", torch.ones(k))
        self.register_buffer("residual_std", torch.zeros(n_features))
        self.trees: TreeFlowMatching | None = None
        self.sampler_name = "midpoint" if config.trees.midpoint else "euler"
        self.steps = config.trees.steps

    def fit(self, incident_mev, showers_mev, run_dir=None, resume=False, progress=True) -> dict:
        started = time.perf_counter()
        self.fit_zero_suppression(showers_mev)
        energies = torch.as_tensor(np.asarray(incident_mev, np.float32))
        generator = torch.Generator().manual_seed(self.config.training.seed)
        showers = self.dequantize(torch.as_tensor(np.asarray(showers_mev, np.float32)), generator)
        x = self._representation(energies, showers)
        self.preprocessing.transforms[-1].fit(self.preprocessing.transforms[0](x)[0])
        with torch.no_grad():
            u, _ = self.preprocessing(x)
            mean = u.mean(0)
            k = len(self.pca_scale)
            torch.manual_seed(self.config.training.seed)
            _, _, v = torch.svd_lowrank(u - mean, q=min(k + 10, min(u.shape)), niter=4)
            components = v[:, :k].T.contiguous()
            coefficients = (u - mean) @ components.T
            scale = coefficients.std(0).clamp_min(1e-6)
            residual = u - mean - coefficients @ components
            explained = 1 - residual.var(0).sum() / u.var(0).sum()
            self.pca_mean.copy_(mean)
            self.pca_components.copy_(components)
            self.pca_scale.copy_(scale)
            self.residual_std.copy_(residual.std(0))
        pca_s = time.perf_counter() - started
        self.trees = TreeFlowMatching(self.config.trees).fit(
            (coefficients / scale).numpy(), _log_energy(energies).numpy(), progress=progress
        )
        return {
            "trees": {
                "pca_s": pca_s,
                "train_s": time.perf_counter() - started,
                "explained_variance": float(explained),
                "components": k,
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
        coefficients = torch.as_tensor(z, device=energies.device) * self.pca_scale
        noise = torch.randn(
            len(energies), len(self.residual_std), generator=generator, device=energies.device
        )
        u = self.pca_mean + coefficients @ self.pca_components + self.residual_std * noise
        x = self.preprocessing.inverse(u)
        n_layers = self.geometry.n_layers
        return self._assemble(x[:, :n_layers], x[:, n_layers:], energies)

    def log_prob(self, showers_mev, incident_mev):
        raise NotImplementedError("the trees model has no tractable density")

    def _extra_payload(self) -> dict:
        return {"trees": self.trees.to_bytes() if self.trees is not None else None}

    def _load_extra(self, payload: dict) -> None:
        raw = payload.get("trees")
        self.trees = TreeFlowMatching.from_bytes(raw) if raw is not None else None


MODELS[TreeShowerModel.name] = TreeShowerModel
