"""``physgen calo ...`` command group."""

from __future__ import annotations

import json
from pathlib import Path

import click

from physgen.calo.models import SHOWER_MODELS
from physgen.core.cli_errors import friendly_errors, overwrite_option


def _geometry_option(function):
    return click.option(
        "--geometry",
        default=None,
        metavar="NAME|XML",
        help="ds1-photons, ds1-pions, ds2, ds3 or a binning XML file "
        "(default: from the voxel count).",
    )(function)


def _resolve_geometry(name):
    from physgen.calo.geometry import get_geometry

    return None if name is None else get_geometry(name)


@click.group()
def calo():
    """Calorimeter showers in the CaloChallenge format."""


@calo.command()
@click.argument("file", type=click.Path(path_type=Path))
@_geometry_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@friendly_errors
def inspect(file, geometry, as_json):
    """Summarize a CaloChallenge HDF5 FILE: events, energies, geometry, E_tot/E_inc, sparsity."""
    from physgen.calo.summary import summarize_file

    summary = summarize_file(file, _resolve_geometry(geometry))
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"file                 {summary['path']}")
    click.echo(f"events               {summary['n_events']}")
    click.echo(f"geometry             {summary['geometry']} ({summary['n_voxels']} voxels)")
    click.echo(
        f"incident energy      {summary['e_inc_min_mev'] / 1e3:.4g} - "
        f"{summary['e_inc_max_mev'] / 1e3:.4g} GeV"
    )
    click.echo(f"mean E_tot/E_inc     {summary['mean_etot_over_einc']:.4f}")
    click.echo(f"mean sparsity        {summary['mean_sparsity']:.4f}")
    for key, value in summary["attrs"].items():
        click.echo(f"attr {key:<16}{value}")


@calo.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for the PNG files (created if missing).",
)
@_geometry_option
@overwrite_option
@friendly_errors
def plot(file, out_dir, geometry, overwrite):
    """Plot the average shower per layer and energy histograms of FILE as PNG."""
    from physgen.calo.plots import plot_file
    from physgen.core.outputs import check_output

    check_output(out_dir, overwrite, [file])
    for path in plot_file(file, out_dir, _resolve_geometry(geometry)):
        click.echo(str(path))


@calo.command()
@click.option(
    "--geometry",
    default="ds2",
    show_default=True,
    type=click.Choice(["ds2", "ds3"]),
    help="Par04 readout geometry of CaloChallenge dataset 2 or 3.",
)
@click.option(
    "--particle", default="e-", show_default=True, type=click.Choice(["e-", "e+", "gamma"])
)
@click.option(
    "--energy",
    default="1:100",
    show_default=True,
    help="Incident energy in GeV: one value (10), a list (1,10,50) or a range (1:100).",
)
@click.option(
    "--spectrum",
    default="log-uniform",
    show_default=True,
    type=click.Choice(["log-uniform", "uniform"]),
    help="Spectrum of a range of energies.",
)
@click.option(
    "--n",
    "n_events",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of showers.",
)
@click.option("--seed", default=1, show_default=True, type=int, help="Random seed of the sample.")
@click.option(
    "--jobs",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes of a local Dask cluster (ignored with --scheduler).",
)
@click.option(
    "--scheduler",
    default=None,
    help="Address of a running Dask scheduler (tcp://HOST:8786, e.g. of a dask-jobqueue "
    "SLURMCluster): chunks run on its workers; the file is the same as a local run's.",
)
@click.option(
    "--fast-sim",
    "fast_sim",
    default=None,
    type=click.Path(path_type=Path),
    help="A trained run folder: its surrogate simulates every e-/e+/photon entering the "
    "calorimeter inside the Geant4 run (docs/deploy.md).",
)
@click.option(
    "--angle",
    "angle_deg",
    default=0.0,
    show_default=True,
    type=float,
    help="Incidence angle in degrees to the calorimeter normal (the voxel binning stays on "
    "the normal through the entry point, as in the CaloChallenge files).",
)
@click.option("--out", type=click.Path(path_type=Path), help="Output CaloChallenge HDF5 file.")
@click.option("--resume", is_flag=True, help="Continue an interrupted or shorter run of --out.")
@click.option(
    "--preset",
    default=None,
    help="Simulate a named standard sample into the cache instead (demo, ds2-e-1-100GeV).",
)
@click.option(
    "--sampling-fraction",
    default=0.033,
    show_default=True,
    type=float,
    help="Voxel energy = silicon energy / sampling fraction.",
)
@click.option(
    "--physics",
    default="auto",
    show_default=True,
    help="auto (standard list when Geant4 data are installed, else data-free EM), "
    "data-free-em, or a Geant4 reference list such as FTFP_BERT.",
)
@click.option(
    "--chunk-size",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="Showers per chunk (the unit of parallel work and of what a kill keeps).",
)
@friendly_errors
def simulate(
    geometry,
    particle,
    energy,
    spectrum,
    n_events,
    seed,
    jobs,
    scheduler,
    fast_sim,
    angle_deg,
    out,
    resume,
    preset,
    sampling_fraction,
    physics,
    chunk_size,
):
    """Simulate reference showers with Geant4 (the Par04 calorimeter) into a CaloChallenge file."""
    import shlex
    import sys

    from physgen.calo.simulate import SimulationConfig
    from physgen.calo.simulate import simulate as run_simulation
    from physgen.core.errors import PhysgenInputError

    command_line = shlex.join(["physgen", *sys.argv[1:]])
    if jobs < 1:
        raise PhysgenInputError("--jobs must be at least 1")
    if preset is not None:
        from physgen.calo.presets import get_preset

        chosen = get_preset(preset)
        click.echo(f"preset {chosen.name}: {chosen.description}", err=True)
        for name, config in chosen.configs().items():
            path = chosen.path(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            config = SimulationConfig(**{**config.__dict__, "chunk_size": chunk_size})
            result = run_simulation(
                config,
                path,
                jobs=jobs,
                resume=True,
                command_line=command_line,
                log=lambda m: click.echo(m, err=True),
                scheduler=scheduler,
            )
            _report(path, result)
        return
    if out is None:
        raise PhysgenInputError("give --out FILE (or --preset NAME)")
    config = SimulationConfig(
        geometry=geometry,
        particle=particle,
        energy_gev=energy,
        spectrum=spectrum,
        n_events=n_events,
        seed=seed,
        sampling_fraction=sampling_fraction,
        physics=physics,
        chunk_size=chunk_size,
        fast_sim=str(fast_sim.resolve()) if fast_sim is not None else "",
        angle_deg=angle_deg,
    )
    result = run_simulation(
        config,
        out,
        jobs=jobs,
        resume=resume,
        command_line=command_line,
        log=lambda m: click.echo(m, err=True),
        scheduler=scheduler,
    )
    _report(out, result)


def _report(path, result):
    if result["n_simulated"]:
        rate = result["n_simulated"] / max(result["wall_s"], 1e-9)
        click.echo(
            f"{path}: {result['n_simulated']} showers in {result['wall_s']:.1f} s "
            f"({rate:.2f} showers/s, {result['cpu_s'] / result['n_simulated']:.3f} CPU-s "
            "per shower)"
        )
    else:
        click.echo(f"{path}: complete")


@calo.command()
@click.option(
    "--generated",
    required=True,
    type=click.Path(path_type=Path),
    help="Generated showers (CaloChallenge HDF5).",
)
@click.option(
    "--reference",
    required=True,
    type=click.Path(path_type=Path),
    help="Reference showers (CaloChallenge HDF5), e.g. from `physgen calo simulate`.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for metrics.json and report.html.",
)
@click.option(
    "--metrics",
    default="all",
    show_default=True,
    help="Comma list of hist, cls-low, cls-low-normed, cls-high, fpd, kpd (or all).",
)
@click.option(
    "--quick",
    is_flag=True,
    help="Small classifier (1 x 256 on standardised inputs, >= 1000 steps, kept at the lowest "
    "test loss) instead of the official one.",
)
@click.option(
    "--repeats",
    default=1,
    show_default=True,
    type=click.IntRange(1, 100),
    help="Train each classifier K times (seeds seed..seed+K-1): AUC mean and spread beside the "
    "Hanley-McNeil error.",
)
@click.option(
    "--floor",
    "floor_file",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A second reference file (e.g. Geant4 with another seed): the same metrics against the "
    "reference as the statistical floor, and each metric's excess over it.",
)
@click.option("--epochs", type=int, default=None, help="Override the classifier's maximum epochs.")
@click.option(
    "--patience", type=int, default=None, help="Stop a classifier after N epochs without gain."
)
@_geometry_option
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--memory-budget-gb",
    default=3.0,
    show_default=True,
    type=float,
    help="Above this, showers are held in bfloat16 for the classifiers.",
)
@click.option("--no-report", is_flag=True, help="Write metrics.json only.")
@overwrite_option
@friendly_errors
def evaluate(
    generated,
    reference,
    out_dir,
    metrics,
    quick,
    repeats,
    floor_file,
    epochs,
    patience,
    geometry,
    device,
    seed,
    memory_budget_gb,
    no_report,
    overwrite,
):
    """Compare generated with reference showers: CaloChallenge metrics and an HTML report."""
    from dataclasses import replace

    from physgen.calo.evaluate import ALL_METRICS, EvaluationConfig
    from physgen.calo.evaluate import evaluate as run_evaluation
    from physgen.core.device import resolve_device
    from physgen.core.outputs import check_output

    check_output(out_dir, overwrite, [generated, reference, floor_file])
    chosen = ALL_METRICS if metrics == "all" else tuple(m.strip() for m in metrics.split(","))
    config = EvaluationConfig(
        metrics=chosen,
        quick=quick,
        repeats=repeats,
        memory_budget_gb=memory_budget_gb,
        report=not no_report,
        seed=seed,
        device=resolve_device(device),
    )
    if epochs is not None or patience is not None:
        base = config.classifier_config()
        config = replace(
            config,
            classifier=replace(
                base,
                max_epochs=epochs or base.max_epochs,
                patience=patience if patience is not None else base.patience,
            ),
        )
    result = run_evaluation(
        generated,
        reference,
        out_dir,
        config,
        _resolve_geometry(geometry),
        log=lambda m: click.echo(m, err=True),
        floor=floor_file,
    )
    if "error" in result:
        raise SystemExit(1)
    floor_values = result.get("floor", {})
    for key in ("auc_low", "auc_low_normed", "auc_high", "fpd", "kpd", "separation_mean_official"):
        if key in result:
            error = result.get(f"{key}_err")
            line = f"{key:<24} {result[key]:.4f}" + (f" +- {error:.4f}" if error else "")
            if f"{key}_spread" in result:
                line += f" (mean of {repeats} {result[f'{key}_mean']:.4f}, spread "
                line += f"{result[f'{key}_spread']:.4f})"
            if key in floor_values:
                line += f"   floor {floor_values[key]:.4f}"
            click.echo(line)
    click.echo(
        f"wrote {out_dir / 'metrics.json'}"
        + ("" if no_report else f" and {out_dir / 'report.html'}")
    )


@calo.command()
@click.option(
    "--model",
    "model_name",
    default=None,
    type=click.Choice(SHOWER_MODELS.names),
    help="Shower model family (default: the config's 'model', else caloflow; an explicit "
    "--model overrides the config's).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="YAML or TOML file with model and training settings (see docs/calo.md).",
)
@click.option(
    "--data",
    required=True,
    type=click.Path(path_type=Path),
    help="Training showers (CaloChallenge HDF5).",
)
@click.option(
    "--out",
    "run_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Run directory: model.pt, config, history, checkpoints.",
)
@click.option("--epochs", type=click.IntRange(min=1), help="Override the number of epochs.")
@click.option("--device", help="cpu, cuda or auto (default: the config's, else cpu).")
@click.option("--seed", type=int, help="Override the training seed.")
@click.option("--resume", is_flag=True, help="Continue from the run directory's checkpoints.")
@friendly_errors
def train(model_name, config_path, data, run_dir, epochs, device, seed, resume):
    """Train a shower model on a CaloChallenge file."""
    from physgen.calo.training_run import train_run

    train_run(
        model_name,
        config_path,
        data,
        run_dir,
        epochs=epochs,
        device=device,
        seed=seed,
        resume=resume,
        log=lambda m: click.echo(m, err=True),
    )


@calo.command()
@click.option(
    "--run",
    "run_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Run directory written by `physgen calo train`.",
)
@click.option(
    "--energies",
    required=True,
    help="A CaloChallenge file (one shower per incident energy in it) or a GeV range "
    "LOW:HIGH (log-uniform) with --n.",
)
@click.option(
    "--n", "n_events", type=click.IntRange(min=1), help="Number of showers for a GeV range."
)
@click.option(
    "--batch-size",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Showers per pass; the showers depend on --seed, not on this.",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output HDF5 file.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto.")
@click.option(
    "--sampler",
    default=None,
    help="diffusion: euler, heun, edm, dpmpp2m, lms, unipc, restart, ddpm; "
    "flow-matching: euler, midpoint (default: the model's config).",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=None,
    help="Noise levels / time steps of the sampler.",
)
@overwrite_option
@friendly_errors
def generate(run_dir, energies, n_events, batch_size, seed, out, device, sampler, steps, overwrite):
    """Generate showers with a trained model into a CaloChallenge file."""
    from physgen.calo.training_run import generate_run
    from physgen.core.outputs import check_output

    check_output(out, overwrite, [energies, Path(run_dir) / "model.pt"])
    result = generate_run(
        run_dir, energies, n_events, batch_size, seed, out, device, sampler, steps
    )
    click.echo(
        f"{out}: {result['n_showers']} showers in {result['wall_s']:.1f} s "
        f"({1e3 * result['wall_s'] / result['n_showers']:.3f} ms per shower at batch "
        f"{batch_size})"
    )


@calo.command()
@click.option(
    "--run",
    "run_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Run directory written by `physgen calo train`.",
)
@click.option(
    "--onnx",
    "onnx_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Output ONNX file (inputs incident_energy (N,1) MeV and noise (N,W); output showers "
    "(N, voxels) MeV).",
)
@click.option("--sampler", default=None, help="diffusion / flow matching: the sampler to unroll.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Its number of steps.")
@click.option(
    "--network-only",
    is_flag=True,
    help="Diffusion / flow matching: export the network alone (the sampler loop runs outside).",
)
@click.option(
    "--check",
    default=1000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Showers on which onnxruntime is compared with torch after the export (0: none).",
)
@overwrite_option
@friendly_errors
def export(run_dir, onnx_path, sampler, steps, network_only, check, overwrite):
    """Export a trained shower model as one ONNX graph (docs/deploy.md)."""
    from physgen.calo.training_run import export_run
    from physgen.core.outputs import check_output

    check_output(onnx_path, overwrite, [Path(run_dir) / "model.pt"])
    result = export_run(run_dir, onnx_path, sampler, steps, network_only, check)
    click.echo(json.dumps(result, indent=2))
