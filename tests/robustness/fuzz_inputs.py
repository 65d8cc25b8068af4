"""Small valid inputs for the robustness table: showers, jet pairs, the CLI runner."""

from __future__ import annotations

import h5py
import numpy as np
from click.testing import CliRunner

from physgen.cli import main
from synthetic import jet_pairs, showers  # noqa: F401 (re-exported to the table)


def write_pairs(path, parton, particle):
    with h5py.File(path, "w") as h5:
        h5["parton_jets"], h5["particle_jets"] = parton, particle
        h5["weights"] = np.ones(len(parton))
    return path


def run_cli(args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=True)
