import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.special import logsumexp

from physgen.cli import main
from physgen.lattice.exact import (
    BETA_C,
    free_energy_per_site,
    kaufman_log_z,
    log_z_by_enumeration,
    onsager_free_energy,
)
from physgen.lattice.models import Ising, Potts, Z2Gauge, spins_from_bits
from physgen.lattice.mutual_information import torus_halves_mutual_information

# published finite-size free energies at beta_c (../shared/notes/lattice.md)
REFERENCE_F = {
    4: -2.201381413,
    8: -2.132388215,
    16: -2.115326188,
    32: -2.111069367,
    64: -2.110005667,
}


@pytest.mark.parametrize("L", sorted(REFERENCE_F))
def test_kaufman_matches_published_values(L):
    f = free_energy_per_site(kaufman_log_z(BETA_C, L), BETA_C, L * L)
    assert f == pytest.approx(REFERENCE_F[L], abs=2e-9)


def test_kaufman_log_z_16():
    assert kaufman_log_z(BETA_C, 16) == pytest.approx(238.6422566351, abs=1e-9)


@pytest.mark.parametrize("beta", [0.1, 0.3, BETA_C, 0.6, 1.5])
@pytest.mark.parametrize(("n", "m"), [(4, 4), (3, 5)])
def test_kaufman_equals_enumeration_on_and_off_criticality(beta, n, m):
    def energy(bits):
        spins = spins_from_bits(bits).reshape(-1, n, m)
        return -(spins * np.roll(spins, -1, 1)).sum((1, 2)) - (spins * np.roll(spins, -1, 2)).sum(
            (1, 2)
        )

    assert kaufman_log_z(beta, n, m) == pytest.approx(
        log_z_by_enumeration(energy, n * m, beta), abs=1e-9
    )


def test_onsager_limit():
    assert onsager_free_energy(BETA_C) == pytest.approx(-2.109651145, abs=1e-8)
    # large tori approach the infinite-volume free energy
    f128 = free_energy_per_site(kaufman_log_z(BETA_C, 128), BETA_C, 128 * 128)
    assert abs(f128 - onsager_free_energy(BETA_C)) < abs(
        REFERENCE_F[64] - onsager_free_energy(BETA_C)
    )


def test_potts_two_states_is_ising_at_half_coupling():
    # delta(s, s') = (1 + s s') / 2: Z_Potts(beta) = exp(beta N_bonds / 2) Z_Ising(beta / 2)
    beta, L = 0.7, 3
    potts = log_z_by_enumeration(Potts(L, q=2).energy, L * L, beta, states=2)
    assert potts == pytest.approx(beta * L * L + kaufman_log_z(beta / 2, L), abs=1e-9)


def test_z2_gauge_plaquette_count_and_ordered_energy():
    gauge = Z2Gauge(3)
    ordered = np.ones((1, 2, 3, 3), dtype=int)
    assert gauge.energy(ordered)[0] == -9
    flipped = ordered.copy()
    flipped[0, 0, 1, 1] = -1  # one link touches two plaquettes
    assert gauge.energy(flipped)[0] == -9 + 4


def test_ising3d_energy_of_ordered_state():
    assert Ising(3, dim=3).energy(np.ones((1, 3, 3, 3)))[0] == -81
    assert Ising(2, dim=2, h=0.5).energy(np.ones((1, 2, 2)))[0] == -8 - 2


def test_mutual_information_matches_enumeration():
    L, beta = 4, 0.4
    index = np.arange(2**16)
    spins = spins_from_bits((index[:, None] >> np.arange(16)) & 1)
    log_w = -beta * Ising(L).energy(spins)
    p = np.exp(log_w - logsumexp(log_w))
    halves = [np.bincount(index & 0xFF, p, 256), np.bincount(index >> 8, p, 256)]
    entropy = [-(h * np.log(h)).sum() for h in halves]
    expected = entropy[0] + entropy[1] + (p * np.log(p)).sum()
    result = torus_halves_mutual_information(L, beta)
    assert result["mutual_information"] == pytest.approx(expected, abs=1e-10)
    assert result["log_z"] == pytest.approx(kaufman_log_z(beta, L), abs=1e-10)


def test_mutual_information_limits_and_peak():
    values = {
        b: torus_halves_mutual_information(6, b)["mutual_information"]
        for b in (0.05, 0.3, BETA_C, 1.5)
    }
    assert values[0.05] < 0.05  # nearly independent spins
    # deep in the ordered phase only the global Z2 sign is shared: I -> ln 2
    assert values[1.5] == pytest.approx(math.log(2), abs=0.02)
    assert values[BETA_C] > values[0.3] > values[0.05]


def test_cli_exact_json():
    result = CliRunner().invoke(
        main, ["lattice", "exact", "--model", "ising2d", "--L", "16", "--beta", "0.4406868"]
    )
    data = json.loads(result.output)
    assert data["log_z"] == pytest.approx(238.64226, abs=1e-4)
    assert data["free_energy_per_site"] == pytest.approx(-2.1153262, abs=1e-6)
    with_mi = CliRunner().invoke(main, ["lattice", "exact", "--L", "6", "--beta", "0.3", "--mi"])
    assert json.loads(with_mi.output)["mutual_information"] > 0
    too_big = CliRunner().invoke(main, ["lattice", "exact", "--L", "16", "--beta", "0.3", "--mi"])
    assert too_big.exit_code != 0 and "L <= 14" in too_big.output


def test_exact_conditional_partition_function():
    import torch

    from physgen.lattice.mutual_information import exact_conditional_log_z

    L, beta = 4, 0.5
    index = torch.arange(2**16)
    spins = (2 * ((index[:, None] >> torch.arange(15, -1, -1)) & 1) - 1).double().view(-1, L, L)
    energies = torch.as_tensor(Ising(L).energy(spins))
    log_z_a, log_z_b = exact_conditional_log_z(L, beta)
    for pick in (0, 777, 40000):
        same_a = (spins[:, :2] == spins[pick, :2]).flatten(1).all(1)
        same_b = (spins[:, 2:] == spins[pick, 2:]).flatten(1).all(1)
        assert log_z_a(spins[pick : pick + 1]).item() == pytest.approx(
            torch.logsumexp(-beta * energies[same_a], 0).item(), abs=1e-9
        )
        assert log_z_b(spins[pick : pick + 1]).item() == pytest.approx(
            torch.logsumexp(-beta * energies[same_b], 0).item(), abs=1e-9
        )
