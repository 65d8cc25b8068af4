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
