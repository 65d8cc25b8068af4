"""Flow matching with gradient-boosted trees (BUFF / CaloForest style, arXiv:2404.18219).

The velocity field of the optimal-transport path x_t = (1 - t) y + t eps is learned by one
xgboost regressor per time level, on features [x_t, conditions], each training row
duplicated ``duplicates`` times with fresh noise. Sampling integrates from t = 1 to 0 with
Euler steps (one model per step) or the midpoint rule (models also at the half levels).
Fits on the CPU with all cores. Needs the extra ``physgen[trees]``.
"""

from __future__ import annotations

import pickle
from dataclasses import asdict
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from physgen.core.config import settings
from physgen.core.errors import MissingExtraError

__all__ = ["TreeConfig", "TreeFlowMatching"]


@settings
class TreeConfig:
    steps: Annotated[int, Field(ge=1)] = 20
    duplicates: Annotated[int, Field(ge=1)] = 20
    midpoint: bool = False  # also fit the half levels, for midpoint sampling
    n_estimators: Annotated[int, Field(ge=1)] = 100
    max_depth: Annotated[int, Field(ge=1)] = 6
    learning_rate: Annotated[float, Field(gt=0)] = 0.3
    seed: Annotated[int, Field(ge=0)] = 0
    n_jobs: int = -1
    # one_output_per_tree: a tree ensemble per output; multi_output_tree: trees with vector
    # leaves, one ensemble for all outputs (much cheaper for many outputs)
    multi_strategy: Literal["one_output_per_tree", "multi_output_tree"] = "one_output_per_tree"


def _xgboost():
    try:
        import xgboost
    except ModuleNotFoundError:
        raise MissingExtraError("trees", "xgboost") from None
    return xgboost


class TreeFlowMatching:
    """p(x | c) by flow matching with one tree ensemble per time level."""

    def __init__(self, config: TreeConfig = TreeConfig()):
        self.config = config
        self.models: dict[float, object] = {}

    def _levels(self) -> np.ndarray:
        steps = self.config.steps
        grid = (
            np.arange(1, 2 * steps + 1) / (2 * steps)
            if self.config.midpoint
            else np.arange(1, steps + 1) / steps
        )
        return np.round(grid, 12)

    def fit(self, x: np.ndarray, conditions: np.ndarray | None = None, progress: bool = False):
        from tqdm import tqdm

        xgboost = _xgboost()
        x = np.asarray(x, np.float32)
        conditions = (
            np.zeros((len(x), 0), np.float32)
            if conditions is None
            else np.asarray(conditions, np.float32).reshape(len(x), -1)
        )
        rng = np.random.default_rng(self.config.seed)
        x_rep = np.repeat(x, self.config.duplicates, axis=0)
        c_rep = np.repeat(conditions, self.config.duplicates, axis=0)
        for level in tqdm(self._levels(), disable=not progress, desc="trees", unit="level"):
            noise = rng.standard_normal(x_rep.shape, dtype=np.float32)
            x_t = (1 - level) * x_rep + level * noise
            model = xgboost.XGBRegressor(
                n_estimators=self.config.n_estimators,
                max_depth=self.config.max_depth,
                learning_rate=self.config.learning_rate,
                n_jobs=self.config.n_jobs,
                random_state=self.config.seed,
                tree_method="hist",
                multi_strategy=self.config.multi_strategy,
            )
            model.fit(np.concatenate([x_t, c_rep], 1), noise - x_rep)
            self.models[float(level)] = model
        self.n_features = x.shape[1]
        return self

    def _velocity(self, x, conditions, level):
        prediction = self.models[float(np.round(level, 12))].predict(
            np.concatenate([x, conditions], 1)
        )
        return prediction.reshape(len(x), -1)

    def sample(
        self,
        conditions: np.ndarray | None = None,
        n: int | None = None,
        method: str = "euler",
        seed: int = 0,
        steps: int | None = None,
        initial: np.ndarray | None = None,
    ) -> np.ndarray:
        """One sample per row of ``conditions`` (or ``n`` unconditional samples), integrated
        from ``initial`` (standard normal, one row each; drawn from ``seed`` when None).

        ``steps`` may be any divisor of the fitted number of levels (the ensembles of the
        coarser grid are a subset of the fitted ones)."""
        if method not in ("euler", "midpoint"):
            raise ValueError(f"unknown method '{method}': euler or midpoint")
        if method == "midpoint" and not self.config.midpoint:
            raise ValueError("midpoint sampling needs a model fitted with midpoint=True")
        steps = steps or self.config.steps
        if steps < 1 or self.config.steps % steps:
            raise ValueError(
                f"{steps} steps: the trees were fitted on {self.config.steps} levels; use a "
                "divisor of it"
            )
        if conditions is None:
            conditions = np.zeros((n, 0), np.float32)
        conditions = np.asarray(conditions, np.float32).reshape(len(conditions), -1)
        if initial is None:
            rng = np.random.default_rng(seed)
            initial = rng.standard_normal((len(conditions), self.n_features), dtype=np.float32)
        x = np.asarray(initial, np.float32)
        dt = 1.0 / steps
        for k in range(steps, 0, -1):
            t = k / steps
            if method == "euler":
                x = x - dt * self._velocity(x, conditions, t)
            else:
                half = x - 0.5 * dt * self._velocity(x, conditions, t)
                x = x - dt * self._velocity(half, conditions, t - 0.5 * dt)
        return x

    def to_bytes(self) -> bytes:
        payload = {
            "config": asdict(self.config),
            "n_features": self.n_features,
            "models": {
                level: model.get_booster().save_raw("json") for level, model in self.models.items()
            },
        }
        return pickle.dumps(payload)

    @classmethod
    def from_bytes(cls, data: bytes) -> TreeFlowMatching:
        xgboost = _xgboost()
        payload = pickle.loads(data)
        model = cls(TreeConfig(**payload["config"]))
        model.n_features = payload["n_features"]
        for level, raw in payload["models"].items():
            regressor = xgboost.XGBRegressor()
            regressor.load_model(bytearray(raw))
            model.models[level] = regressor
        return model
