"""Row-indexed noise: what a row gets does not depend on how the sample is batched."""

import pytest
import torch

from physgen.models.noise import BLOCK_ROWS, RowNoise, normal, uniform


@pytest.mark.parametrize("batch", [1, 5, BLOCK_ROWS - 1, BLOCK_ROWS, BLOCK_ROWS + 3, 1000])
def test_rows_get_the_same_numbers_in_any_batching(batch):
    n = 700
    whole = RowNoise(11, 0, n)
    normals, uniforms = whole.normal(3), whole.uniform(2)
    parts_n, parts_u = [], []
    for start in range(0, n, batch):
        noise = RowNoise(11, start, min(start + batch, n))
        parts_n.append(noise.normal(3))
        parts_u.append(noise.uniform(2))
    assert torch.equal(torch.cat(parts_n), normals) and torch.equal(torch.cat(parts_u), uniforms)


def test_statistics_and_independence():
    noise = RowNoise(3, 0, 20_000)
    z, u = noise.normal(4), noise.uniform(4)
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    assert abs(u.mean() - 0.5) < 0.01 and 0 <= u.min() and u.max() < 1
    # neighbouring blocks and draws are not copies of each other
    # row i and row i + BLOCK_ROWS (the same place in the next block) are uncorrelated
    corr = torch.corrcoef(torch.stack([z[:-BLOCK_ROWS, 0], z[BLOCK_ROWS:, 0]]))
    assert abs(corr[0, 1]) < 0.03
    assert not torch.equal(RowNoise(3, 0, 10).normal(2), RowNoise(4, 0, 10).normal(2))


def test_helpers_accept_generators_and_noise_sources():
    g = torch.Generator().manual_seed(0)
    assert uniform(g, (5, 2)).shape == (5, 2)
    rows = RowNoise(0, 0, 4)
    assert normal(rows, (8, 3)).shape == (8, 3)  # rows outermost: 4 rows x (2 x 3)
    with pytest.raises(ValueError, match="does not split"):
        normal(RowNoise(0, 0, 4), (6, 3))
    assert RowNoise(0, 5, 5).normal(3).shape == (0, 3)
