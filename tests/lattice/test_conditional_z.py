import itertools
import json

import pytest
import torch
from click.testing import CliRunner

from physgen.cli import main
from physgen.core.training import StepConfig
from physgen.lattice.conditional_z import (
    boundary_pool,
    neural_conditional_log_z,
    neural_strip_log_weights,
    strip_energy,
    train_strip_sampler,
)
from physgen.lattice.mutual_information import (
    exact_conditional_log_z,
    half_boundary_log_weights,
    mutual_information_estimate,
    row_index,
    torus_halves_mutual_information,
)
from physgen.lattice.variational import SamplerConfig, build_lattice, train_sampler

BETA = 0.4406868


def test_strip_energy_enumerated_gives_the_transfer_matrix_weights():
    L = 4
    strips = torch.tensor(list(itertools.product([-1, 1], repeat=2 * L))).view(-1, 2, L)
    exact = half_boundary_log_weights(L, BETA)
    boundaries = torch.tensor(list(itertools.product([-1, 1], repeat=2 * L)))[::37]
    for boundary in boundaries:
        x, y = boundary[:L].expand(len(strips), L), boundary[L:].expand(len(strips), L)
        enumerated = torch.logsumexp(-BETA * strip_energy(strips, x, y), 0)
        assert enumerated.item() == pytest.approx(
            exact[row_index(boundary[:L]), row_index(boundary[L:])].item(), abs=1e-9
        )


@pytest.fixture(scope="module")
def trained_4x4():
    config = SamplerConfig(L=4, beta=BETA, optimizer=StepConfig(steps=800, schedule="cosine"))
    full, _ = train_sampler(config, progress=False)
    spins = (2 * full.sample(20_000, torch.Generator().manual_seed(1)) - 1).view(-1, 4, 4)
    pool = boundary_pool(spins)
    strip, _ = train_strip_sampler(
        pool, 4, BETA, StepConfig(steps=1500, schedule="cosine"), progress=False
    )
    return config, full, strip, pool


def test_neural_strip_weights_match_the_transfer_matrix(trained_4x4):
    _, _, strip, pool = trained_4x4
    bits = pool[:2000]  # boundaries as the torus sampler produces them
    pm = 2 * bits - 1
    exact = half_boundary_log_weights(4, BETA)[row_index(pm[:, :4]), row_index(pm[:, 4:])]
    error = neural_strip_log_weights(strip, bits, BETA, draws=256) - exact
    assert error.abs().mean().item() < 0.02
    assert abs(error.mean().item()) < 0.005


def test_mutual_information_with_neural_conditional_z_matches_exact(trained_4x4):
    config, full, strip, _ = trained_4x4
    bits = full.sample(40_000, torch.Generator().manual_seed(2))
    with torch.no_grad():
        log_q = full.log_prob(bits)
    spins = (2 * bits - 1).view(-1, 4, 4)
    energies = torch.as_tensor(build_lattice(config).energy(spins))
    neural = mutual_information_estimate(
        spins, log_q, energies, BETA, *neural_conditional_log_z(strip, BETA, draws=64)
    )
    exact_z = mutual_information_estimate(
        spins, log_q, energies, BETA, *exact_conditional_log_z(4, BETA)
    )
    exact = torus_halves_mutual_information(4, BETA)["mutual_information"]
    # same outer samples: the neural conditional Z adds little beyond the outer error
    assert (
        abs(neural["mutual_information"] - exact_z["mutual_information"])
        < 0.5 * exact_z["mutual_information_err"]
    )
    assert abs(neural["mutual_information"] - exact) < 4 * neural["mutual_information_err"]


def test_estimate_cli_mutual_information_with_neural_conditional_z(tmp_path):
    run = tmp_path / "run"
    trained = CliRunner().invoke(
        main,
        ["lattice", "train", "--L", "4", "--beta", str(BETA), "--steps", "800", "--out", str(run)],
    )
    assert trained.exit_code == 0, trained.output
    arguments = ["lattice", "estimate", str(run), "--observables", "mi", "--samples", "40000"]
    neural = CliRunner().invoke(main, [*arguments, "--mi-conditional", "neural"])
    assert neural.exit_code == 0, neural.output
    result = json.loads(neural.stdout)
    assert (run / "strip_sampler.pt").exists()
    assert result["mutual_information_conditional_z"].startswith("conditional strip sampler")
    exact = torus_halves_mutual_information(4, BETA)["mutual_information"]
    assert abs(result["mutual_information"] - exact) < 4 * result["mutual_information_err"] + 2e-3
    again = CliRunner().invoke(main, [*arguments, "--mi-conditional", "neural"])
    assert json.loads(again.stdout) == result  # the kept strip sampler is reused


def test_hierarchical_strip_is_autoregressive_and_normalised(assert_stages_are_autoregressive):
    from physgen.models.hierarchical import HierarchicalStripSampler

    for L in (4, 8, 16):
        sampler = HierarchicalStripSampler(L)
        cells = (L // 2 + 2) * L
        assert_stages_are_autoregressive(sampler, sampler.boundary_cells.tolist(), cells)
    torch.manual_seed(0)
    sampler = HierarchicalStripSampler(4)
    with torch.no_grad():
        for parameter in sampler.parameters():
            parameter.add_(0.5 * torch.randn_like(parameter))
    strips = torch.tensor(list(itertools.product([0, 1], repeat=8)))
    for boundary in torch.randint(0, 2, (3, 8), generator=torch.Generator().manual_seed(1)):
        log_q = sampler.log_prob_strip(strips, boundary.expand(len(strips), 8))
        assert torch.logsumexp(log_q, 0).item() == pytest.approx(0.0, abs=1e-5)
    drawn = sampler.sample_strip(boundary.expand(4000, 8), torch.Generator().manual_seed(2))
    frequency = torch.bincount((drawn * 2 ** torch.arange(7, -1, -1)).sum(1), minlength=256) / 4000
    probability = log_q.exp()
    sigma = torch.sqrt(probability * (1 - probability) / 4000) + 1e-4
    assert ((frequency - probability).abs() / sigma).max() < 5


@pytest.mark.slow
def test_trained_hierarchical_strip_matches_the_transfer_matrix():
    L = 8
    config = SamplerConfig(L=L, beta=BETA, optimizer=StepConfig(steps=1500, schedule="cosine"))
    full, _ = train_sampler(config, progress=False)
    pool = boundary_pool(
        (2 * full.sample(10_000, torch.Generator().manual_seed(1)) - 1).view(-1, L, L)
    )
    strip, _ = train_strip_sampler(
        pool, L, BETA, StepConfig(steps=1500, schedule="cosine"), network="han", progress=False
    )
    pm = 2 * pool[:1000] - 1
    exact = half_boundary_log_weights(L, BETA)[row_index(pm[:, :L]), row_index(pm[:, L:])]
    error = neural_strip_log_weights(strip, pool[:1000], BETA, draws=128) - exact
    assert error.abs().mean().item() < 0.05
    assert abs(error.mean().item()) < 0.01
