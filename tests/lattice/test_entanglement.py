import itertools
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from physgen.cli import main
from physgen.lattice.entanglement import (
    TrotterChain,
    exact_renyi2,
    renyi2_swap_estimate,
    replica_energy,
    swap_log_factors,
)
from physgen.lattice.models import AnisotropicIsing
from physgen.lattice.quantum_ising import renyi_entropy


def torus_states(chain):
    spins = itertools.product([-1, 1], repeat=chain.slices * chain.sites)
    return torch.tensor(list(spins)).view(-1, chain.slices, chain.sites)


def test_anisotropic_ising_energy_counts_each_bond_once():
    model = AnisotropicIsing(rows=3, cols=4, J_rows=0.7, J_cols=0.2)
    spins = torch.ones(1, 3, 4)
    assert model.energy(spins).item() == pytest.approx(-(0.7 + 0.2) * 12)
    spins[0, 1, :] = -1  # one flipped slice: its 2 x 4 time bonds change sign
    assert model.energy(spins).item() == pytest.approx(-0.7 * (12 - 16) - 0.2 * 12)


def test_replica_partition_function_by_enumeration_matches_transfer_matrix():
    chain = TrotterChain(sites=3, slices=3, step=0.4)
    states = torus_states(chain)
    energies = torch.as_tensor(chain.classical_model().energy(states)).double()
    log_z = torch.logsumexp(-energies, 0)
    first, second = (
        g.flatten() for g in torch.meshgrid(*[torch.arange(len(states))] * 2, indexing="ij")
    )
    exact = exact_renyi2(chain, [1, 2])
    for size in (1, 2):
        two_sheets = replica_energy(states[first], states[second], chain, size)
        enumerated = -(torch.logsumexp(-two_sheets, 0) - 2 * log_z).item()
        swapped = swap_log_factors(states[first], states[second], chain.K_time)[:, size - 1]
        by_swap = -(torch.logsumexp(-energies[first] - energies[second] + swapped, 0) - 2 * log_z)
        assert enumerated == pytest.approx(exact[size - 1], abs=1e-5)
        assert by_swap.item() == pytest.approx(exact[size - 1], abs=1e-5)


def test_trotter_limit_reaches_the_quantum_ground_state_at_order_delta_squared():
    quantum = np.array([renyi_entropy(6, size, 2.0) for size in (1, 2, 3)])
    errors = []
    for step in (0.2, 0.1):
        chain = TrotterChain(sites=6, slices=round(40 / step), step=step)
        errors.append(np.abs(exact_renyi2(chain, [1, 2, 3]) - quantum).max())
    assert errors[1] < 0.01
    assert 3.0 < errors[0] / errors[1] < 5.0  # (0.2 / 0.1)^2 = 4


def test_swap_estimator_with_exact_samples_matches_exact_value():
    chain = TrotterChain(sites=3, slices=3, step=0.4)
    states = torus_states(chain)
    energies = torch.as_tensor(chain.classical_model().energy(states)).double()
    probability = torch.softmax(-energies, 0)
    drawn = torch.multinomial(
        probability, 40_000, replacement=True, generator=torch.Generator().manual_seed(0)
    )
    log_w = np.zeros(len(drawn))  # exact samples: constant weights
    edges = states[drawn][:, [0, -1]]
    result = renyi2_swap_estimate(log_w, edges, chain.K_time, seed=1)
    exact = exact_renyi2(chain, [1, 2])
    pulls = (result["renyi2"][:2] - exact) / result["renyi2_err"][:2]
    assert np.all(np.abs(pulls) < 4)
    assert np.all(result["renyi2_err"][:2] < 0.01)
    assert result["pair_ess_fraction"] == pytest.approx(1.0)


def test_trained_sampler_estimates_renyi2_of_a_small_chain(tmp_path):
    run = tmp_path / "run"
    trained = CliRunner().invoke(
        main,
        [
            "lattice",
            "train",
            "--model",
            "tfim-chain",
            "--L",
            "4",
            "--beta",
            "4",
            "--trotter-step",
            "0.5",
            "--steps",
            "1500",
            "--batch-size",
            "500",
            "--out",
            str(run),
        ],
    )
    assert trained.exit_code == 0, trained.output
    estimated = CliRunner().invoke(
        main, ["lattice", "estimate", str(run), "--observables", "renyi2", "--samples", "40000"]
    )
    assert estimated.exit_code == 0, estimated.output
    renyi = json.loads(estimated.output)["renyi2"]
    assert renyi["subsystem_sizes"] == [1, 2, 3]
    exact = np.array(renyi["exact_lattice_renyi2"])
    assert exact == pytest.approx(exact_renyi2(TrotterChain(4, 8, 0.5), [1, 2, 3]))
    pulls = (np.array(renyi["renyi2"]) - exact) / np.array(renyi["renyi2_err"])
    assert np.all(np.abs(pulls) < 4), (renyi["renyi2"], exact)
    assert np.all(np.array(renyi["renyi2_err"]) < 0.02)


def test_tfim_chain_needs_whole_trotter_steps(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "lattice",
            "train",
            "--model",
            "tfim-chain",
            "--L",
            "4",
            "--beta",
            "1.1",
            "--trotter-step",
            "0.25",
            "--steps",
            "1",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code != 0
    assert "whole number of Trotter steps" in result.output
