"""Resumable HDF5 tables: named row-aligned datasets appended chunk by chunk.

Rows go to ``PATH.partial``, flushed after every chunk, with the number of finished chunks in
the attribute ``chunks_done``; ``finish()`` truncates to the wanted length and renames the
file to ``PATH``. A killed run keeps its finished chunks and ``resume=True`` continues them.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from physgen.core.errors import PhysgenInputError

__all__ = ["ResumableTable"]


class ResumableTable:
    def __init__(self, path, columns: dict, attrs: dict, resume: bool = False):
        """``columns`` maps a dataset name to (shape of one row, dtype)."""
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        if self.path.exists():
            raise PhysgenInputError(f"{self.path} exists; remove it or choose another --out")
        if self.partial.exists() and not resume:
            self.partial.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.partial.exists():
            self._h5 = h5py.File(self.partial, "a")
            self._check_same_settings(attrs)
        else:
            self._h5 = h5py.File(self.partial, "w")
            for name, (row_shape, dtype) in columns.items():
                self._h5.create_dataset(
                    name,
                    shape=(0, *row_shape),
                    maxshape=(None, *row_shape),
                    dtype=dtype,
                    chunks=(max(1, 65536 // max(1, int(np.prod(row_shape)))), *row_shape),
                    compression="gzip",
                    compression_opts=4,
                )
            self._h5.attrs.update(attrs)
            self._h5.attrs["chunks_done"] = 0
        self.columns = list(columns)

    def _check_same_settings(self, attrs: dict) -> None:
        for key, value in attrs.items():
            if key in ("command_line",):
                continue
            stored = self._h5.attrs.get(key)
            if stored is not None and str(stored) != str(value):
                self._h5.close()
                raise PhysgenInputError(
                    f"{self.partial}: cannot resume, it was made with {key}={stored!r}, not "
                    f"{value!r}; remove it or run with the same settings"
                )

    @property
    def chunks_done(self) -> int:
        return int(self._h5.attrs["chunks_done"])

    @property
    def n_rows(self) -> int:
        return int(self._h5[self.columns[0]].shape[0])

    def append(self, rows: dict) -> None:
        lengths = {len(rows[name]) for name in self.columns}
        if len(lengths) != 1:
            raise ValueError(f"columns differ in length: {lengths}")
        old = self.n_rows
        new = old + lengths.pop()
        for name in self.columns:
            self._h5[name].resize(new, axis=0)
            self._h5[name][old:new] = rows[name]
        self._h5.attrs["chunks_done"] = self.chunks_done + 1
        self._h5.flush()

    def finish(self, n_rows: int | None = None, attrs: dict | None = None) -> Path:
        if n_rows is not None:
            for name in self.columns:
                self._h5[name].resize(min(n_rows, self.n_rows), axis=0)
        self._h5.attrs.update(attrs or {})
        self._h5.close()
        os.replace(self.partial, self.path)
        return self.path

    def close(self) -> None:
        if self._h5.id.valid:
            self._h5.close()
