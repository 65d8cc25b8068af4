"""A sampler averaged over a set of site permutations (symmetries of the target).

q_G(s) = (1 / |G|) sum_g q(g^-1 s), sampled by drawing x from q and applying a uniformly
chosen g. Exact for any set of permutations (a mixture); when the target density is
invariant under them, averaging cannot increase the reverse KL divergence (it is convex), so
a sampler trained without the symmetry usually reweights better after it. Costs |G| log q
evaluations per sample; sampling costs one draw.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from physgen.models.noise import uniform

__all__ = ["PermutationAveraged"]


class PermutationAveraged(nn.Module):
    """``base`` (sample / log_prob over (batch, n_sites) spins) averaged over the rows of
    ``permutations`` (|G|, n_sites): g s = s[:, permutation]."""

    def __init__(self, base: nn.Module, permutations: torch.Tensor):
        super().__init__()
        permutations = torch.as_tensor(permutations, dtype=torch.long)
        n_sites = permutations.shape[1]
        identity = torch.arange(n_sites)
        if not all(torch.equal(p.sort().values, identity) for p in permutations):
            raise ValueError("every row of permutations must be a permutation of the sites")
        self.base = base
        self.n_sites, self.q = base.n_sites, base.q
        self.register_buffer("permutations", permutations)
        self.register_buffer("inverses", torch.argsort(permutations, dim=1))

    def log_prob(self, spins: torch.Tensor) -> torch.Tensor:
        spins = spins.long().flatten(1)
        terms = torch.stack([self.base.log_prob(spins[:, inverse]) for inverse in self.inverses])
        return torch.logsumexp(terms, 0) - math.log(len(self.inverses))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        x = self.base.sample(n, generator)
        u = uniform(generator, (n,), x.device)
        chosen = (u * len(self.permutations)).long().clamp_max(len(self.permutations) - 1)
        return torch.gather(x, 1, self.permutations.to(x.device)[chosen])
