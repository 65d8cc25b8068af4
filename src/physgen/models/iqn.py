"""Autoregressive implicit quantile network (IQN) for conditional emulation p(y | x).

Kronheim, Kuchera, Prosper, Ramanujan, Al Kadhim (arXiv:2111.11415, 2306.15053): one network
learns the conditional quantile function q_j(tau | x, y_<j) of each output feature j, with
the target feature given as a one-hot input (one network for all features: the features
share what they learn about x, and training and sampling need a single model). Trained with
the pinball loss plus a penalty on negative dq/dtau (quantiles must increase with tau);
sampling draws tau ~ U(0, 1) per feature, feature by feature. Inputs and outputs are
standardised inside the model (fitted on the training data, saved with the weights).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from physgen.models.noise import NoiseSource, uniform

__all__ = ["IQNConfig", "AutoregressiveIQN", "pinball_loss"]


@dataclass(frozen=True)
class IQNConfig:
    hidden: tuple[int, ...] = (128, 128, 128)
    monotonicity_weight: float = 1.0


def pinball_loss(residual: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """rho_tau(r) = max(tau r, (tau - 1) r): minimised by the tau-quantile."""
    return torch.maximum(tau * residual, (tau - 1) * residual)


class AutoregressiveIQN(nn.Module):
    def __init__(self, n_inputs: int, n_outputs: int, config: IQNConfig = IQNConfig()):
        super().__init__()
        self.n_inputs, self.n_outputs, self.config = n_inputs, n_outputs, config
        layers, width = [], n_inputs + 2 * n_outputs + 1  # x, y_<j (masked), one-hot j, tau
        for size in config.hidden:
            layers += [nn.Linear(width, size), nn.SiLU()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        for name, size in (
            ("x_mean", n_inputs),
            ("x_std", n_inputs),
            ("y_mean", n_outputs),
            ("y_std", n_outputs),
        ):
            self.register_buffer(name, torch.zeros(size) if "mean" in name else torch.ones(size))

    def fit_scaling(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x_mean.copy_(x.mean(0))
        self.x_std.copy_(x.std(0).clamp_min(1e-8))
        self.y_mean.copy_(y.mean(0))
        self.y_std.copy_(y.std(0).clamp_min(1e-8))

    def _quantile_std(self, x_std, y_prev_std, feature: int, tau):
        """Standardised quantile of feature j given standardised x and the previous y."""
        n = len(x_std)
        mask = torch.zeros(self.n_outputs, device=x_std.device)
        mask[:feature] = 1
        one_hot = torch.zeros(n, self.n_outputs, device=x_std.device)
        one_hot[:, feature] = 1
        inputs = torch.cat([x_std, y_prev_std * mask, one_hot, tau[:, None] - 0.5], 1)
        return self.net(inputs).squeeze(1)

    def quantile(self, x: torch.Tensor, y_prev: torch.Tensor, feature: int, tau: torch.Tensor):
        """q_feature(tau | x, y_<feature) in physical units (y_prev may hold anything after it)."""
        x_std = (x - self.x_mean) / self.x_std
        y_std = (y_prev - self.y_mean) / self.y_std
        q = self._quantile_std(x_std, y_std, feature, tau)
        return q * self.y_std[feature] + self.y_mean[feature]

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Pinball loss over all features with random tau, plus the monotonicity penalty."""
        x_std = (x - self.x_mean) / self.x_std
        y_std = (y - self.y_mean) / self.y_std
        total = 0.0
        for feature in range(self.n_outputs):
            tau = torch.rand(len(x), device=x.device, requires_grad=True)
            with torch.enable_grad():  # dq/dtau is needed in validation (no_grad) passes too
                q = self._quantile_std(x_std, y_std, feature, tau)
                total = total + pinball_loss(y_std[:, feature] - q, tau).mean()
                if self.config.monotonicity_weight:
                    (slope,) = torch.autograd.grad(
                        q.sum(), tau, create_graph=torch.is_grad_enabled()
                    )
                    total = total + self.config.monotonicity_weight * torch.relu(-slope).mean()
        return total / self.n_outputs

    @torch.no_grad()
    def sample(self, x: torch.Tensor, noise: NoiseSource = None) -> torch.Tensor:
        """One draw of y per row of x: tau ~ U(0, 1) per feature, feature by feature
        (``noise``: a generator or a models.noise source)."""
        y = torch.zeros(len(x), self.n_outputs, device=x.device, dtype=x.dtype)
        for feature in range(self.n_outputs):
            tau = uniform(noise, (len(x),), x.device, x.dtype)
            y[:, feature] = self.quantile(x, y, feature, tau)
        return y

    @torch.no_grad()
    def quantile_grid(self, x, y, feature: int, taus: torch.Tensor, rows_per_pass: int = 2000):
        """q_feature(tau_k | x_i, y_i,<feature) for every row i and grid point k: (n, K)."""
        out = []
        for begin in range(0, len(x), rows_per_pass):
            xb, yb = x[begin : begin + rows_per_pass], y[begin : begin + rows_per_pass]
            n, k = len(xb), len(taus)
            q = self.quantile(
                xb.repeat_interleave(k, 0), yb.repeat_interleave(k, 0), feature, taus.repeat(n)
            )
            out.append(q.view(n, k))
        return torch.cat(out)

    @torch.no_grad()
    def pit(self, x: torch.Tensor, y: torch.Tensor, n_grid: int = 201) -> torch.Tensor:
        """Probability-integral transform u_j = F_j(y_j | x, y_<j) of each output, by linear
        interpolation of the quantile function on a tau grid in [0.001, 0.999]. For a model
        that has learned the true conditional, every column is uniform on (0, 1)."""
        taus = torch.linspace(0.001, 0.999, n_grid, dtype=x.dtype)
        u = torch.empty_like(y)
        for feature in range(self.n_outputs):
            q = self.quantile_grid(x, y, feature, taus).sort(1).values
            target = y[:, feature : feature + 1]
            above = (q < target).sum(1)
            low = (above - 1).clamp(0, n_grid - 2)
            q_low, q_high = q.gather(1, low[:, None]), q.gather(1, low[:, None] + 1)
            fraction = ((target - q_low) / (q_high - q_low).clamp_min(1e-12)).clamp(0, 1)
            value = taus[low] + fraction.squeeze(1) * (taus[1] - taus[0])
            value = torch.where(above == 0, taus[0] / 2, value)
            u[:, feature] = torch.where(above == n_grid, (1 + taus[-1]) / 2, value)
        return u

    @torch.no_grad()
    def monotonicity_violations(self, x, y, n_grid: int = 99) -> float:
        """Fraction of adjacent (tau_k, tau_k+1) grid pairs whose quantiles decrease."""
        taus = torch.linspace(0.01, 0.99, n_grid, dtype=x.dtype)
        decreasing, total = 0, 0
        for feature in range(self.n_outputs):
            q = self.quantile_grid(x, y, feature, taus)
            steps = q[:, 1:] - q[:, :-1]
            decreasing += int((steps < 0).sum())
            total += steps.numel()
        return decreasing / max(total, 1)
