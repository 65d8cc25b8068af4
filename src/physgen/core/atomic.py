"""Atomic file writes: write under a temporary name beside the target, then rename.

The temporary name is ``.<name>.<pid>.<random>.tmp``: a write killed before its rename
leaves such a file, and the next write of the same target removes those whose process is
gone. JSON is written without NaN or inf (they become null: valid JSON)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(final_path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``final_path``; rename it there only on success.

    If the body raises, the temporary file is removed and ``final_path`` is untouched.
    """
    final_path = Path(final_path)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final_path)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final_path.name}.{os.getpid()}.", suffix=".tmp", dir=final_path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp_name)
    # mkstemp creates 0600 files; give the final file the permissions of a normal open()
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, final_path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(final_path: Path) -> list[Path]:
    """Remove temporaries of ``final_path`` left by killed writers; returns them."""
    removed = []
    for candidate in final_path.parent.glob(f".{final_path.name}.*.tmp"):
        pid = candidate.name[len(final_path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def finite_json(obj):
    """``obj`` with every NaN or infinite float replaced by None (JSON null)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: finite_json(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_json(value) for value in obj]
    return obj


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_npz_atomic(path: str | os.PathLike, **arrays) -> None:
    """numpy arrays as one .npz file, written atomically."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    text = json.dumps(finite_json(obj), indent=2, sort_keys=False, allow_nan=False)
    write_text_atomic(path, text + "\n")
