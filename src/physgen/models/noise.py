"""Random numbers indexed by the row of a sample, so that what a row gets does not depend on
how the sample is split into batches.

A sampler asks its noise source for ``normal(*shape)`` or ``uniform(*shape)`` and gets one
tensor of that shape per row, (rows, *shape). ``RowNoise`` covers rows [start, stop) of a
sample: the rows are grouped in fixed blocks of ``BLOCK_ROWS`` counted from row 0, each
block has its own generator seeded from (seed, block index), and every draw is made for
whole blocks and cut to the rows asked for. A batch that covers rows 300-700 therefore
gets the numbers that a batch of 0-10000 gives those rows, as long as the sampler makes
the same sequence of draws per row (which a sampler of fixed shapes does). Where batches do
not matter (training), samplers take a plain torch.Generator instead (``uniform``/``normal``
accept either).
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "BLOCK_ROWS",
    "RowNoise",
    "GivenNoise",
    "seed_from",
    "uniform",
    "normal",
    "NoiseSource",
]

BLOCK_ROWS = 16  # a batch of one shower draws one block: small keeps batch-1 generation cheap


def seed_from(generator: torch.Generator | None) -> int:
    """One 63-bit seed drawn from ``generator`` (the global RNG when None)."""
    return int(torch.randint(0, 2**62, (1,), generator=generator, dtype=torch.int64))


def _block_seed(seed: int, block: int) -> int:
    words = np.random.SeedSequence([seed, block]).generate_state(2, np.uint32)
    return int(words.view(np.uint64)[0]) >> 1


class RowNoise:
    """Noise for rows [start, stop) of a sample drawn with ``seed``."""

    def __init__(self, seed: int, start: int, stop: int, device="cpu", block: int = BLOCK_ROWS):
        if not 0 <= start <= stop:
            raise ValueError(f"row range [{start}, {stop}) is empty or negative")
        self.start, self.stop, self.block = start, stop, block
        self.device = torch.device(device)
        first = start // block
        blocks = range(first, (stop - 1) // block + 1) if stop > start else range(0)
        self._generators = [
            torch.Generator(device=self.device).manual_seed(_block_seed(seed, index))
            for index in blocks
        ]
        self._offset = start - first * block

    @property
    def rows(self) -> int:
        return self.stop - self.start

    def _draw(self, draw, shape, dtype) -> torch.Tensor:
        if not self._generators:
            return torch.empty(0, *shape, dtype=dtype, device=self.device)
        parts = [
            draw((self.block, *shape), generator=g, dtype=dtype, device=self.device)
            for g in self._generators
        ]
        return torch.cat(parts)[self._offset : self._offset + self.rows]

    def normal(self, *shape: int, dtype=torch.float32) -> torch.Tensor:
        return self._draw(torch.randn, shape, dtype)

    def uniform(self, *shape: int, dtype=torch.float32) -> torch.Tensor:
        return self._draw(torch.rand, shape, dtype)


class GivenNoise:
    """Noise handed in by the caller: a (rows, width) tensor of standard normals whose
    columns the sampler's draws consume in order (``normal(k)`` takes the next k columns).
    This makes a sampler a fixed function of (conditions, noise), which is what an exported
    graph (ONNX) needs. A uniform draw is Phi of a normal column, kept below 1 as torch.rand.
    Without ``values`` it draws fresh normals and counts them: ``used`` after one pass is the
    width a sampler needs (``width_of``)."""

    def __init__(self, values: torch.Tensor | None = None, rows: int | None = None):
        if values is None and rows is None:
            raise ValueError("GivenNoise needs values or a number of rows")
        self.values = values
        self._rows = values.shape[0] if values is not None else rows
        self.used = 0

    @property
    def rows(self) -> int:
        return self._rows

    def normal(self, *shape: int, dtype=torch.float32) -> torch.Tensor:
        width = math.prod(shape)
        if self.values is None:
            part = torch.randn(self.rows, width)
        else:
            part = self.values[:, self.used : self.used + width]
            if part.shape[1] != width:
                raise ValueError(
                    f"the sampler draws more than the {self.values.shape[1]} noise columns "
                    "it was given"
                )
        self.used += width
        return part.to(dtype).reshape(self.rows, *shape)

    def uniform(self, *shape: int, dtype=torch.float32) -> torch.Tensor:
        z = self.normal(*shape, dtype=torch.float32)
        u = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
        return u.clamp(0, 1 - 2.0**-24).to(dtype)

    @staticmethod
    def width_of(draw) -> int:
        """Columns of noise ``draw(noise)`` consumes per row (one counting pass)."""
        counter = GivenNoise(rows=1)
        draw(counter)
        return counter.used


NoiseSource = RowNoise | GivenNoise | torch.Generator | None


def _per_row(source, shape) -> int:
    if source.rows == 0:
        return 0
    total = math.prod(shape)
    if shape[0] % source.rows or total % source.rows:
        raise ValueError(f"a draw of shape {tuple(shape)} does not split into {source.rows} rows")
    return total // source.rows


def uniform(source: NoiseSource, shape, device=None, dtype=torch.float32) -> torch.Tensor:
    """U(0, 1) numbers of ``shape``: ``torch.rand`` on a generator (or the global RNG), or
    from a noise source whose rows lead the shape (shape[0] a multiple of its rows, rows
    outermost, e.g. (rows * groups, sites))."""
    if isinstance(source, RowNoise | GivenNoise):
        return source.uniform(_per_row(source, shape), dtype=dtype).reshape(shape)
    return torch.rand(shape, generator=source, device=device, dtype=dtype)


def normal(source: NoiseSource, shape, device=None, dtype=torch.float32) -> torch.Tensor:
    """Standard normal numbers of ``shape``; the sources as for ``uniform``."""
    if isinstance(source, RowNoise | GivenNoise):
        return source.normal(_per_row(source, shape), dtype=dtype).reshape(shape)
    return torch.randn(shape, generator=source, device=device, dtype=dtype)
