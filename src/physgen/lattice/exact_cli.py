"""Exact answers for `physgen lattice exact`: Kaufman for the 2D Ising torus, enumeration
for other small lattices, the transfer matrix for the mutual information."""

from __future__ import annotations

from physgen.core.errors import PhysgenInputError
from physgen.lattice.exact import (
    free_energy_per_site,
    kaufman_log_z,
    log_z_by_enumeration,
    onsager_free_energy,
)
from physgen.lattice.models import Ising, Potts, Z2Gauge, spins_from_bits


def exact_summary(model: str, size: int, beta: float, q: int = 3, mi: bool = False) -> dict:
    if size < 2:
        raise PhysgenInputError("--L must be at least 2")
    if beta <= 0:
        raise PhysgenInputError("--beta must be positive")
    result = {"model": model, "L": size, "beta": beta}
    if model == "ising2d":
        result["n_sites"] = size * size
        result["log_z"] = kaufman_log_z(beta, size)
        result["method"] = "Kaufman (finite torus)"
        result["onsager_free_energy_per_site"] = onsager_free_energy(beta)
    else:
        lattice = {
            "ising3d": lambda: Ising(size, dim=3),
            "potts": lambda: Potts(size, q=q),
            "z2gauge": lambda: Z2Gauge(size),
        }[model]()
        if lattice.n_sites > 26:
            raise PhysgenInputError(
                f"{model} with L={size} has {lattice.n_sites} spins: exact enumeration is limited "
                "to 26 (only ising2d has a closed form for any L)"
            )
        states = q if model == "potts" else 2

        def energy(digits):
            return lattice.energy(digits if model == "potts" else spins_from_bits(digits))

        result["n_sites"] = lattice.n_sites
        result["log_z"] = log_z_by_enumeration(energy, lattice.n_sites, beta, states)
        result["method"] = "enumeration"
    result["free_energy_per_site"] = free_energy_per_site(result["log_z"], beta, result["n_sites"])
    if mi:
        if model != "ising2d":
            raise PhysgenInputError("--mi is available for ising2d")
        if size % 2 or size > 14:
            raise PhysgenInputError(
                f"exact mutual information needs an even L <= 14 (transfer matrix of 2^L row "
                f"states); L={size} is out of reach - estimate it with a trained sampler"
            )
        from physgen.lattice.mutual_information import torus_halves_mutual_information

        result["mutual_information"] = torus_halves_mutual_information(size, beta)[
            "mutual_information"
        ]
    return result
