"""The code base passes ruff: its lint rules (pyproject.toml) and its formatter.

ruff's verdicts change between versions; constraints.txt pins the one the project's
virtual environment installs (scripts/ensure-venv.sh)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["src", "tests", "benchmarks"]


def _ruff() -> str:
    beside_python = Path(sys.executable).parent / "ruff"
    ruff = str(beside_python) if beside_python.exists() else shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    return ruff


def _versions(ruff: str) -> str:
    """The installed ruff and the pinned one, for the failure message."""
    installed = subprocess.run([ruff, "--version"], capture_output=True, text=True).stdout.strip()
    constraints = ROOT / "constraints.txt"
    pins = re.findall(r"(?m)^ruff==(\S+)", constraints.read_text()) if constraints.exists() else []
    pinned = pins[0] if pins else "no version"
    return f"{installed or 'ruff (version unknown)'}; constraints.txt pins {pinned}"


def _passes(*args: str, hint: str = "") -> None:
    ruff = _ruff()
    run = subprocess.run([ruff, *args, *PATHS], cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        pytest.fail(
            f"ruff {' '.join(args)} failed ({_versions(ruff)}){hint}\n"
            f"{run.stdout[-3000:]}{run.stderr[-1000:]}",
            pytrace=False,
        )


def test_ruff_check():
    _passes("check")


def test_ruff_format():
    _passes("format", "--check", hint=f"; fix with: ruff format {' '.join(PATHS)}")
