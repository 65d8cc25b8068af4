import pytest


@pytest.fixture
def assert_stages_are_autoregressive():
    """Check of a staged sampler's plan: every stage conditions only on cells fixed before
    it, and every cell is fixed exactly once."""

    def check(sampler, first_cells, n_cells):
        known = set(first_cells)
        assert len(known) == len(first_cells)
        for number in range(len(sampler.stage_nets)):
            contexts, targets = sampler._stage(number)
            assert set(contexts.flatten().tolist()) <= known
            generated = targets.flatten().tolist()
            assert len(set(generated)) == len(generated) and not known & set(generated)
            known |= set(generated)
        assert known == set(range(n_cells))

    return check


@pytest.fixture
def assert_sampling_follows_log_q():
    """Check that a sampler of q-state sites draws every configuration with the probability
    exp(log_q) it assigns (log_q over all configurations in base-q order): every frequency
    of n draws within ``bound`` standard deviations."""
    import torch

    def check(sampler, log_q, n=40000, q=2, bound=5.5):
        spins = sampler.sample(n, torch.Generator().manual_seed(1))
        code = (spins * q ** torch.arange(spins.shape[1] - 1, -1, -1)).sum(1)
        frequency = torch.bincount(code, minlength=len(log_q)).double() / n
        probability = log_q.exp().double()
        sigma = torch.sqrt(probability * (1 - probability) / n) + 1e-4
        assert ((frequency - probability).abs() / sigma).max() < bound

    return check
