import itertools
import json

import pytest
import torch
from click.testing import CliRunner

from physgen.cli import main
from physgen.lattice.exact import kaufman_log_z
from physgen.lattice.models import Ising, Potts
from physgen.lattice.symmetries import torus_symmetries
from physgen.models.hierarchical import HierarchicalSampler
from physgen.models.symmetrized import PermutationAveraged

BETA = 0.4406868


@pytest.mark.parametrize(("group", "size"), [("dihedral", 8), ("dihedral-half-shifts", 32)])
def test_torus_symmetries_are_distinct_and_keep_the_energies(group, size):
    permutations = torus_symmetries(8, group)
    assert len({tuple(p.tolist()) for p in permutations}) == size
    generator = torch.Generator().manual_seed(0)
    ising = torch.randint(2, (50, 64), generator=generator) * 2 - 1
    potts = torch.randint(3, (50, 64), generator=generator)
    for p in permutations:
        for model, spins in ((Ising(8), ising), (Potts(8, q=3), potts)):
            before = model.energy(spins.view(-1, 8, 8))
            assert torch.equal(model.energy(spins[:, p].view(-1, 8, 8)), before)
    with pytest.raises(ValueError, match="unknown symmetry group"):
        torus_symmetries(8, "rotations")


def test_averaged_sampler_is_normalised_samples_itself_and_lowers_the_reverse_kl(
    assert_sampling_follows_log_q,
):
    torch.manual_seed(0)
    base = HierarchicalSampler(4, z2_symmetric=True)
    with torch.no_grad():
        for parameter in base.parameters():
            parameter.add_(0.5 * torch.randn_like(parameter))
    averaged = PermutationAveraged(base, torus_symmetries(4, "dihedral-half-shifts"))
    configurations = torch.tensor(list(itertools.product((0, 1), repeat=16)))
    with torch.no_grad():
        log_q, log_q_base = averaged.log_prob(configurations), base.log_prob(configurations)
    assert torch.logsumexp(log_q, 0).item() == pytest.approx(0.0, abs=1e-5)
    assert_sampling_follows_log_q(averaged, log_q)
    # reverse KL(q || p) = E_q[log q + beta E] + log Z: convex in q, so averaging over
    # symmetries of p cannot raise it; here it must fall
    energy = Ising(4).energy((2 * configurations - 1).view(-1, 4, 4)).double()
    log_z = kaufman_log_z(BETA, 4)

    def reverse_kl(values):
        values = values.double()
        return float((values.exp() * (values + BETA * energy)).sum() + log_z)

    assert reverse_kl(log_q) < 0.9 * reverse_kl(log_q_base)
    with pytest.raises(ValueError, match="permutation"):
        PermutationAveraged(base, torch.zeros(2, 16, dtype=torch.long))


def test_estimate_cli_with_a_symmetrized_sampler_matches_kaufman(tmp_path):
    run = tmp_path / "run"
    arguments = ["lattice", "train", "--L", "4", "--beta", str(BETA), "--steps", "300"]
    trained = CliRunner().invoke(main, [*arguments, "--out", str(run)])
    assert trained.exit_code == 0, trained.output
    estimated = CliRunner().invoke(
        main, ["lattice", "estimate", str(run), "--samples", "20000", "--symmetrize", "dihedral"]
    )
    assert estimated.exit_code == 0, estimated.output
    result = json.loads(estimated.stdout)
    assert result["symmetrized"] == "dihedral"
    exact = kaufman_log_z(BETA, 4)
    assert abs(result["log_z"] - exact) < 4 * result["log_z_err"] + 1e-4


def test_the_cli_offers_exactly_the_symmetry_groups():
    # the CLI lists the names itself so that `physgen --help` does not import torch
    from physgen.lattice.commands import estimate
    from physgen.lattice.symmetries import SYMMETRY_GROUPS

    option = next(p for p in estimate.params if p.name == "symmetrize")
    assert tuple(option.type.choices) == SYMMETRY_GROUPS
