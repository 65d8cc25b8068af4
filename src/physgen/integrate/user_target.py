"""A target from a user's file: ``--target my_density.py:log_density``.

The file defines the named function, (n, dim) torch tensor -> (n,) log-density (built from
torch operations, so that its gradient exists), and ``bounds = [(low, high), ...]``, the box
it lives on; optionally ``log_z_exact`` (the log of its integral over the box). The function is
called once on a few points of the box at load: a wrong shape, NaN, +inf or a result without
a gradient is refused there with the reason, not an hour into training.
"""

from __future__ import annotations

import numpy as np
import torch

from physgen.core.errors import PhysgenInputError
from physgen.core.user_file import load_user_module
from physgen.integrate.targets import Target

__all__ = ["UserTarget", "load_user_target", "check_target"]


class UserTarget(Target):
    def __init__(self, name, function, lower, upper, exact_log_z=None):
        self.name, self.function = name, function
        self.lower, self.upper = lower, upper
        self.dim = len(lower)
        self.exact_log_z = exact_log_z

    def _log_density(self, x):
        return self.function(x)


def check_target(target: Target, points: int = 16, seed: int = 0) -> None:
    """Call the target on ``points`` random points of its box; a clear error when its values
    are not (n,) finite-or--inf with a gradient."""
    rng = np.random.default_rng(seed)
    x = torch.tensor(target.from_unit(rng.random((points, target.dim))), dtype=torch.float64)
    x.requires_grad_(True)
    try:
        values = target.log_density(x)
    except Exception as err:
        raise PhysgenInputError(
            f"target {target.name} fails on ({points}, {target.dim}) points of its box "
            f"({type(err).__name__}: {err}); does its dimension match its bounds?"
        ) from None
    if not isinstance(values, torch.Tensor) or values.shape != (points,):
        shape = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        raise PhysgenInputError(
            f"target {target.name} must return a torch tensor of shape ({points},) for "
            f"({points}, {target.dim}) points, got {shape}"
        )
    bad = torch.isnan(values) | (values == np.inf)
    if bad.any():
        row = int(torch.nonzero(bad)[0])
        raise PhysgenInputError(
            f"target {target.name} returns {values[row].item()} at "
            f"{x[row].detach().numpy().round(6).tolist()}"
        )
    if not values.requires_grad:
        raise PhysgenInputError(
            f"target {target.name} is not differentiable: its values carry no gradient "
            "(build it from torch operations on its input, not numpy)"
        )


def load_user_target(spec: str) -> UserTarget:
    path, _, function_name = spec.rpartition(":")
    module = load_user_module(path, "target")
    function = getattr(module, function_name, None)
    if not callable(function):
        raise PhysgenInputError(f"{path} defines no function {function_name}(x)")
    bounds = getattr(module, "bounds", None)
    if bounds is None:
        raise PhysgenInputError(f"{path} defines no bounds = [(low, high), ...] of the target")
    bounds = np.asarray(bounds, np.float64)
    if bounds.ndim != 2 or bounds.shape[1] != 2 or not (bounds[:, 1] > bounds[:, 0]).all():
        raise PhysgenInputError(f"{path}: bounds must be (low, high) pairs with low < high")
    exact = getattr(module, "log_z_exact", None)
    target = UserTarget(
        f"{path}:{function_name}",
        function,
        bounds[:, 0],
        bounds[:, 1],
        None if exact is None else float(exact),
    )
    check_target(target)
    return target
