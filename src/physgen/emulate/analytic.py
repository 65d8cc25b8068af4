"""Simulators with known answers: the Ishigami function (mean, variance and Sobol indices
known) and a linear-Gaussian simulator (its posterior under a uniform prior is a truncated
Gaussian with closed-form mean and covariance away from the bounds)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from physgen.emulate.simulator import Simulator

__all__ = ["Ishigami", "IshigamiSettings", "LinearGaussian", "LinearGaussianSettings"]


@dataclass(frozen=True)
class IshigamiSettings:
    a: float = 7.0
    b: float = 0.1


class Ishigami(Simulator):
    """f = sin x1 + a sin^2 x2 + b x3^4 sin x1 on [-pi, pi]^3 (deterministic)."""

    name = "ishigami"
    parameter_names = ("x1", "x2", "x3")
    summary_names = ("f",)
    settings_class = IshigamiSettings
    noisy = False

    @property
    def bounds(self) -> np.ndarray:
        return np.array([[-math.pi, math.pi]] * 3)

    def run(self, point, seed):
        return self.values(np.atleast_2d(point))[0], np.zeros((1, 1))

    def values(self, points: np.ndarray) -> np.ndarray:
        x1, x2, x3 = points[:, 0], points[:, 1], points[:, 2]
        a, b = self.settings.a, self.settings.b
        return (np.sin(x1) + a * np.sin(x2) ** 2 + b * x3**4 * np.sin(x1))[:, None]

    def exact_statistics(self) -> dict:
        """Mean, variance and first-order Sobol indices (Ishigami and Homma 1990)."""
        a, b, pi = self.settings.a, self.settings.b, math.pi
        v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
        v2 = a**2 / 8
        v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
        variance = v1 + v2 + v13
        return {
            "mean": a / 2,
            "variance": variance,
            "sobol_first": [v1 / variance, v2 / variance, 0.0],
        }


@dataclass(frozen=True)
class LinearGaussianSettings:
    dim: int = 2
    noise: float = 0.05  # standard deviation of each summary
    bound: float = 1.0  # parameters in [-bound, bound]^dim


class LinearGaussian(Simulator):
    """y = A theta + noise, A fixed (seeded) 2*dim x dim matrix, Gaussian noise."""

    name = "linear-gaussian"
    settings_class = LinearGaussianSettings

    @property
    def parameter_names(self):
        return tuple(f"theta{i + 1}" for i in range(self.settings.dim))

    @property
    def summary_names(self):
        return tuple(f"y{i + 1}" for i in range(2 * self.settings.dim))

    @property
    def bounds(self) -> np.ndarray:
        return np.array([[-self.settings.bound, self.settings.bound]] * self.settings.dim)

    @property
    def matrix(self) -> np.ndarray:
        dim = self.settings.dim
        return np.random.default_rng(12345).normal(size=(2 * dim, dim))

    def run(self, point, seed):
        noise = self.settings.noise
        mean = self.matrix @ np.asarray(point, dtype=float)
        summary = mean + noise * np.random.default_rng(seed).normal(size=mean.shape)
        return summary, noise**2 * np.eye(len(mean))

    def posterior(self, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of theta given ``observed`` under a flat prior (exact where
        the posterior lies well inside the bounds)."""
        a = self.matrix
        precision = a.T @ a / self.settings.noise**2
        covariance = np.linalg.inv(precision)
        return covariance @ a.T @ observed / self.settings.noise**2, covariance
