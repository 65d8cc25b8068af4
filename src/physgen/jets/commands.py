"""``physgen jets ...`` command group."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from physgen.core.cli_errors import friendly_errors, overwrite_option

_PATH = click.Path(path_type=Path)


@click.group()
def jets():
    """Jets: Pythia 8 + FastJet reference data and IQN jet emulation."""


@jets.command()
@click.option(
    "--task",
    default="pairs",
    show_default=True,
    type=click.Choice(["pairs", "clouds"]),
    help="pairs: parton-level -> particle-level jets (anti-kT 0.4); clouds: JetNet-like "
    "particle clouds of ~1 TeV jets (anti-kT 0.8, 30 constituents).",
)
@click.option(
    "--n",
    "n_rows",
    required=True,
    type=click.IntRange(min=1),
    help="Jet pairs (or jets) to write.",
)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--out", required=True, type=_PATH, help="Output HDF5 file.")
@click.option(
    "--jet-type",
    default="g",
    show_default=True,
    type=click.Choice(["g", "q", "t", "W", "Z"]),
    help="clouds: the jet species.",
)
@click.option(
    "--pt-hat-min",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="pairs: pTHat cut [GeV].",
)
@click.option(
    "--biased",
    is_flag=True,
    help="pairs: pTHat^4-biased (flatter) spectrum; rows carry event weights.",
)
@click.option(
    "--detector",
    is_flag=True,
    help="pairs: also write parametric detector-level jets (a documented toy).",
)
@click.option("--no-mpi", is_flag=True, help="pairs: switch off multiparton interactions.")
@click.option("--chunk-events", default=500, show_default=True, type=click.IntRange(min=1))
@click.option("--resume", is_flag=True, help="Continue OUT.partial left by a killed run.")
@click.option(
    "--jobs",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes of a local Dask cluster (1: in this process).",
)
@click.option(
    "--scheduler", default=None, help="Address of a running Dask scheduler (tcp://HOST:8786)."
)
@friendly_errors
def simulate(
    task,
    n_rows,
    seed,
    out,
    jet_type,
    pt_hat_min,
    biased,
    detector,
    no_mpi,
    chunk_events,
    resume,
    jobs,
    scheduler,
):
    """Generate reference jets with Pythia 8 (pp, 13 TeV) and FastJet."""
    from physgen.jets.simulate import JetSimulationConfig, simulate_jets

    config = JetSimulationConfig(
        task=task,
        n=n_rows,
        seed=seed,
        chunk_events=chunk_events,
        pt_hat_min=pt_hat_min,
        biased=biased,
        mpi=not no_mpi,
        detector=detector,
        jet_type=jet_type,
    )
    result = simulate_jets(
        config,
        out,
        resume=resume,
        command_line=" ".join(sys.argv),
        jobs=jobs,
        scheduler=scheduler,
    )
    click.echo(
        f"wrote {result['rows']} {task} to {result['path']} "
        f"({result['rows_per_s']:.0f} per second in this run)"
    )


@jets.command()
@click.option("--data", required=True, type=_PATH, help="Pairs file from `jets simulate`.")
@click.option("--out", "run_dir", required=True, type=_PATH, help="Run directory.")
@click.option("--config", "config_path", type=_PATH, help="YAML/TOML: iqn, training, target.")
@click.option(
    "--target",
    type=click.Choice(["particle", "detector"]),
    help="Level to emulate (default: particle).",
)
@click.option("--epochs", type=click.IntRange(min=1), help="Override the number of epochs.")
@click.option("--max-rows", type=click.IntRange(min=2), help="Train on the first N pairs only.")
@click.option("--device", help="cpu, cuda or auto (default: the config's, else cpu).")
@click.option("--resume", is_flag=True, help="Continue from the run's checkpoint.")
@friendly_errors
def train(data, run_dir, config_path, target, epochs, max_rows, device, resume):
    """Train the autoregressive implicit quantile network (IQN) jet emulator."""
    from physgen.jets.runs import train_emulator_run

    train_emulator_run(
        data, run_dir, config_path, target, epochs, max_rows, device, resume, log=click.echo
    )


@jets.command()
@click.option("--run", "run_dir", required=True, type=_PATH)
@click.option("--inputs", required=True, type=_PATH, help="File whose parton jets to emulate.")
@click.option("--out", required=True, type=_PATH)
@click.option("--seed", default=0, show_default=True, type=int)
@overwrite_option
@friendly_errors
def generate(run_dir, inputs, out, seed, overwrite):
    """Emulate one jet for each parton-level jet of INPUTS."""
    from physgen.core.outputs import check_output
    from physgen.jets.runs import generate_run

    check_output(out, overwrite, [inputs, Path(run_dir) / "model.pt"])
    generate_run(run_dir, inputs, out, seed, log=click.echo)


@jets.command()
@click.option("--run", "run_dir", required=True, type=_PATH)
@click.option("--reference", required=True, type=_PATH, help="Held-out Pythia pairs.")
@click.option(
    "--generated",
    type=_PATH,
    help="Emulated jets for the reference's parton jets (default: generate them).",
)
@click.option(
    "--floor",
    type=_PATH,
    help="An independent Pythia sample: distances between two Pythia samples.",
)
@click.option("--max-rows", default=50_000, show_default=True, type=click.IntRange(min=2))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=_PATH,
    help="Directory for metrics.json and report.html.",
)
@overwrite_option
@friendly_errors
def evaluate(run_dir, reference, generated, floor, max_rows, out_dir, overwrite):
    """Closure (PIT), Wasserstein distances, classifier AUC and monotonicity; HTML report."""
    from physgen.core.outputs import check_output
    from physgen.jets.runs import evaluate_run

    check_output(out_dir, overwrite, [reference, generated, floor])
    evaluate_run(run_dir, reference, out_dir, generated, floor, max_rows, log=click.echo)
