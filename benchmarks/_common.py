"""Helpers shared by the benchmark scripts: result files, tables, peak memory."""

from __future__ import annotations

import json
import platform
import resource
import sys
import time
from pathlib import Path

from physgen.core.atomic import finite_json

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    import torch

    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": __import__("os").cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_result(name: str, payload) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    # allow_nan=False: a NaN (a one-seed spread, say) is written as null, never as bare NaN
    path.write_text(json.dumps(finite_json(payload), indent=2, allow_nan=False) + "\n")
    return path


def merge_result(name: str, payload: dict) -> Path:
    """Update the keys of an existing result file (several scripts write lattice.json)."""
    path = RESULTS / f"{name}.json"
    existing = json.loads(path.read_text()) if path.exists() else {}
    return write_result(name, {**existing, **payload})


def replace_rows(rows: list[dict], new_rows: list[dict], keys, defaults=None) -> list[dict]:
    """``rows`` without those that a new row replaces (the same values of ``keys``; a missing
    key reads as its ``defaults`` entry), followed by the new rows."""
    defaults = defaults or {}

    def identity(row):
        return tuple(row.get(k, defaults.get(k)) for k in keys)

    replaced = {identity(r) for r in new_rows}
    return [r for r in rows if identity(r) not in replaced] + list(new_rows)


def print_table(rows: list[dict], columns: list[str]) -> None:
    widths = [max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns]
    print(" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(_fmt(row.get(c)).ljust(w) for c, w in zip(columns, widths, strict=True)))
    sys.stdout.flush()


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
