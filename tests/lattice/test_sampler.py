import itertools
import math

import numpy as np
import pytest
import torch

from physgen.core.training import StepConfig
from physgen.lattice.estimators import (
    draw,
    integrated_autocorrelation_time,
    neural_mcmc,
    nis_estimates,
)
from physgen.lattice.exact import kaufman_log_z
from physgen.lattice.mutual_information import (
    exact_conditional_log_z,
    mutual_information_estimate,
    torus_halves_mutual_information,
)
from physgen.lattice.variational import (
    SamplerConfig,
    build_lattice,
    lattice_spins,
    load_sampler,
    save_sampler,
    train_sampler,
)
from physgen.models.autoregressive import MADE, AutoregressiveSampler, PixelCNN


def all_configurations(n_sites, q=2):
    return torch.tensor(list(itertools.product(range(q), repeat=n_sites)))


@pytest.mark.parametrize(
    ("conditional", "z2"),
    [
        (MADE(9, 2, depth=1), False),
        (MADE(9, 2, depth=1), True),
        (MADE(9, 3, depth=2, width=3), False),
        (PixelCNN(3, 2, depth=2, width=4, kernel=3), True),
        (PixelCNN(3, 3, depth=3, width=4), False),
    ],
)
def test_log_q_is_normalised_and_sampling_follows_it(
    conditional, z2, assert_sampling_follows_log_q
):
    torch.manual_seed(0)
    sampler = AutoregressiveSampler(conditional, z2)
    with torch.no_grad():
        for parameter in sampler.parameters():
            parameter.add_(0.5 * torch.randn_like(parameter))
    configurations = all_configurations(9, conditional.q)
    log_q = sampler.log_prob(configurations)
    assert torch.logsumexp(log_q, 0).item() == pytest.approx(0.0, abs=1e-5)
    assert_sampling_follows_log_q(sampler, log_q.detach(), n=4000, q=conditional.q, bound=5)


def nis_against_kaufman(sampler, config, n=20000, seed=3):
    """(log q, energies, NIS estimates, Kaufman ln Z) of a trained sampler on the L x L torus."""
    lattice = build_lattice(config)
    log_q, energies = draw(
        sampler,
        lambda s: lattice.energy(lattice_spins(config, s).view(-1, *lattice.shape)),
        n,
        seed=seed,
    )
    result = nis_estimates(log_q, energies, config.beta, lattice.n_sites)
    return log_q, energies, result, kaufman_log_z(config.beta, config.L)


def test_trained_van_reproduces_kaufman_on_4x4(tmp_path):
    config = SamplerConfig(
        L=4,
        beta=0.4406868,
        batch_size=500,
        optimizer=StepConfig(steps=800, learning_rate=2e-3, seed=0),
    )
    sampler, history = train_sampler(config, tmp_path / "run", progress=False)
    lattice = build_lattice(config)
    log_q, energies, result, exact = nis_against_kaufman(sampler, config)
    assert abs(result["log_z"] - exact) < 4 * result["log_z_err"] + 1e-4
    assert result["ess_fraction"] > 0.5
    # the variational bound holds: F_q >= F
    assert result["variational_free_energy_per_site"] >= -exact / (config.beta * 16) - 1e-9
    assert neural_mcmc(log_q, energies, config.beta)["acceptance"] > 0.5
    # mutual information of the halves, with the exact conditional partition functions
    spins = sampler.sample(20000, torch.Generator().manual_seed(4))
    with torch.no_grad():
        log_q_mi = sampler.log_prob(spins)
    spins_pm = lattice_spins(config, spins).view(-1, 4, 4)
    log_z_a, log_z_b = exact_conditional_log_z(4, config.beta)
    mi = mutual_information_estimate(
        spins_pm, log_q_mi, lattice.energy(spins_pm), config.beta, log_z_a, log_z_b
    )
    exact_mi = torus_halves_mutual_information(4, config.beta)["mutual_information"]
    assert abs(mi["mutual_information"] - exact_mi) < 4 * mi["mutual_information_err"] + 2e-3
    assert mi["mutual_information_err"] < 0.02
    save_sampler(tmp_path / "sampler.pt", sampler, config)
    again, again_config = load_sampler(tmp_path / "sampler.pt")
    spins = sampler.sample(10, torch.Generator().manual_seed(0))
    assert torch.allclose(again.log_prob(spins), sampler.log_prob(spins))
    assert again_config == config


def test_nis_with_exact_proposal_has_no_variance():
    rng = np.random.default_rng(0)
    energies = rng.normal(size=1000)
    beta, log_z = 0.7, 3.0
    log_q = -beta * energies - log_z  # q is exactly the Boltzmann density
    result = nis_estimates(log_q, energies, beta, n_sites=10)
    assert result["log_z"] == pytest.approx(log_z)
    assert result["log_z_err"] == pytest.approx(0, abs=1e-12)
    assert result["ess_fraction"] == pytest.approx(1.0)
    assert neural_mcmc(log_q, energies, beta)["acceptance"] == 1.0


def test_autocorrelation_time():
    rng = np.random.default_rng(1)
    assert integrated_autocorrelation_time(rng.normal(size=20000)) == pytest.approx(0.5, abs=0.05)
    # AR(1) with coefficient a: tau_int = (1 + a) / (2 (1 - a))
    a, x = 0.8, np.zeros(200000)
    noise = rng.normal(size=len(x))
    for t in range(1, len(x)):
        x[t] = a * x[t - 1] + noise[t]
    assert integrated_autocorrelation_time(x) == pytest.approx((1 + a) / (2 * (1 - a)), rel=0.1)


def test_ess_of_known_weights():
    log_q = np.zeros(4)
    energies = -np.log(np.array([1.0, 1.0, 2.0, 4.0]))  # beta = 1: w = 1, 1, 2, 4
    result = nis_estimates(log_q, energies, 1.0, 1)
    assert result["ess_fraction"] == pytest.approx(64 / (4 * 22))
    assert result["log_z"] == pytest.approx(math.log(2))


@pytest.mark.parametrize("z2, hidden", [(False, 0), (True, 0), (False, 3), (True, 3)])
def test_han_log_q_is_normalised_and_sampling_follows_it(z2, hidden, assert_sampling_follows_log_q):
    from physgen.models.hierarchical import HierarchicalSampler

    torch.manual_seed(0)
    # hidden: every stage (the 5-site cross and the single sites) gets hidden units
    sampler = HierarchicalSampler(4, z2_symmetric=z2, hidden=hidden, hidden_min_sites=1)
    with torch.no_grad():
        for parameter in sampler.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    configurations = all_configurations(16)
    with torch.no_grad():
        log_q = sampler.log_prob(configurations)
    assert torch.logsumexp(log_q, 0).item() == pytest.approx(0.0, abs=1e-5)
    assert_sampling_follows_log_q(sampler, log_q)


def test_han_sites_are_each_generated_once(assert_stages_are_autoregressive):
    from physgen.models.hierarchical import HierarchicalSampler

    for L in (4, 8, 32):
        sampler = HierarchicalSampler(L)
        assert_stages_are_autoregressive(sampler, sampler.border_sites.tolist(), L * L)
    with pytest.raises(ValueError, match="power of two"):
        HierarchicalSampler(6)


def test_trained_han_reproduces_kaufman_on_8x8():
    config = SamplerConfig(
        L=8,
        beta=0.4406868,
        network="han",
        batch_size=500,
        annealing=0.99,
        optimizer=StepConfig(steps=600, learning_rate=5e-3, seed=0),
    )
    sampler, _ = train_sampler(config, progress=False)
    _, _, result, exact = nis_against_kaufman(sampler, config)
    assert abs(result["log_z"] - exact) < 4 * result["log_z_err"] + 1e-4
    assert result["ess_fraction"] > 0.2


def test_folded_binary_log_q_equals_the_one_hot_form_and_its_flip():
    from torch.nn import functional as F

    from physgen.models.hierarchical import ConditionalMADE

    torch.manual_seed(3)
    net = ConditionalMADE(n_context=5, n_sites=7)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(0.7 * torch.randn_like(parameter))
    values, context = torch.randint(2, (64, 7)), torch.randint(2, (64, 5))
    one_hot = net.log_prob(values, F.one_hot(context, 2).float())
    folded, flipped = net.log_prob_bits(values, context, flipped=True)
    assert torch.allclose(folded, one_hot, atol=1e-5)
    assert torch.allclose(flipped, net.log_prob(1 - values, F.one_hot(1 - context, 2).float()))
    made = net.made
    reference = AutoregressiveSampler(made).log_prob(values)
    direct, flip = made.log_prob_bits(values, flipped=True)
    assert torch.allclose(direct, reference, atol=1e-5)
    assert torch.allclose(flip, AutoregressiveSampler(made).log_prob(1 - values), atol=1e-5)


def test_blocked_draw_with_hidden_units_equals_the_site_by_site_draw():
    from torch.nn import functional as F

    from physgen.models.autoregressive import draw_binary
    from physgen.models.hierarchical import ConditionalMADE

    torch.manual_seed(4)
    net = ConditionalMADE(n_context=6, n_sites=11, hidden=3)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(0.8 * torch.randn_like(parameter))
        context = torch.randint(2, (256, 6)).float()
        weight, offset = net._binary_weights()
        logits = F.linear(context, weight[:, 11:], offset)
        values, context_weight, out = net._hidden_weights()
        h = F.linear(context, context_weight, net.hidden_in.bias)
        hidden = (h, values, out, net.activation, 3)
        uniforms = torch.rand(256, 11)
        draws = [
            draw_binary(logits, weight[:, :11], uniforms, block, hidden) for block in (1, 2, 4, 11)
        ]
        for other in draws[1:]:
            assert torch.equal(draws[0], other)
        # each site is drawn from the conditional that log_prob_bits assigns it
        bits = draws[0]
        inputs = torch.cat([bits.float(), context], 1)
        d = F.linear(inputs, weight, offset) + net._hidden_logits(inputs)
        p_drawn = torch.where(bits == 1, torch.sigmoid(d), 1 - torch.sigmoid(d))
        u_drawn = torch.where(bits == 1, uniforms, 1 - uniforms)
        assert (u_drawn <= p_drawn + 1e-6).all()


@pytest.mark.parametrize("network", ["made", "han"])
def test_training_resumes_exactly_and_repeats_bit_for_bit(network, tmp_path):
    """Faults of physgen 0.1.0: the sampler's own random generator was not in the checkpoint
    (6 straight steps and 3 + resume differed by up to 0.34 in the weights), and the network
    was built before the seed was set (the same command twice gave other weights)."""
    from physgen.core.run import Run
    from physgen.lattice.variational import LatticeSampler

    config = SamplerConfig(
        L=4, network=network, batch_size=64, optimizer=StepConfig(steps=6, checkpoint_every=3)
    )
    straight = LatticeSampler.from_config(config)
    straight.fit(None, None, Run(tmp_path / "a", progress=False))
    again = LatticeSampler.from_config(config)
    again.fit(None, None, Run(tmp_path / "b", progress=False))
    short = SamplerConfig(**{**config.__dict__, "optimizer": StepConfig(steps=3)})
    interrupted = LatticeSampler.from_config(short)
    interrupted.fit(None, None, Run(tmp_path / "c", progress=False))
    resumed = LatticeSampler.from_config(config)
    resumed.fit(None, None, Run(tmp_path / "c", resume=True, progress=False))
    for key, value in straight.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_lattice_sampler_file_of_physgen_0_1_loads(tmp_path):
    from physgen.lattice.variational import LatticeSampler

    config = SamplerConfig(L=4, batch_size=16)
    model = LatticeSampler.from_config(config)
    old = {"config": {k: v for k, v in model.config.__dict__.items() if k != "model"}}
    old["config"]["optimizer"] = model.config.optimizer.__dict__
    old["state_dict"] = model.net.state_dict()
    torch.save(old, tmp_path / "sampler.pt")
    net, loaded_config = load_sampler(tmp_path / "sampler.pt")
    spins = model.net.sample(10, torch.Generator().manual_seed(0))
    assert torch.equal(net.log_prob(spins), model.net.log_prob(spins))
    assert loaded_config == config
