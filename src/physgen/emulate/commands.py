"""``physgen emulate ...`` command group."""

from __future__ import annotations

from pathlib import Path

import click

from physgen.core.cli_errors import friendly_errors, overwrite_option

SIMULATOR_NAMES = ("ishigami", "linear-gaussian", "pythia-tune", "geant4-response")

simulator_option = click.option(
    "--simulator",
    "simulator_name",
    required=True,
    type=click.Choice(SIMULATOR_NAMES),
    help="ishigami (exact statistics), linear-gaussian (analytic posterior), pythia-tune "
    "(Pythia 8 e+e- at 91.2 GeV vs aLund, bLund, alphaS), geant4-response (calorimeter "
    "response vs energy and angle, through `physgen calo simulate`).",
)
option_option = click.option(
    "--sim-option",
    "sim_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A simulator setting, e.g. events=2000 (pythia-tune), showers=20 (geant4-response).",
)


@click.group()
def emulate():
    """Emulation by committee: active learning of expensive simulators, fits on the emulator."""


@emulate.command()
@simulator_option
@option_option
@click.option("--budget", type=click.IntRange(min=2), help="Simulator calls for training.")
@click.option(
    "--strategy",
    type=click.Choice(["committee", "lhs", "sobol", "random", "grid"]),
    help="committee: query where a committee of networks disagrees most; lhs, sobol, "
    "random, grid: the whole budget as one design. Default: committee.",
)
@click.option("--batch", type=click.IntRange(min=1), help="Committee: points per query.")
@click.option("--initial", type=click.IntRange(min=2), help="Committee: the starting design.")
@click.option(
    "--committee",
    "committee_kind",
    type=click.Choice(["ensemble", "dropout"]),
    help="A deep ensemble (default) or a dropout committee.",
)
@click.option("--test-points", type=click.IntRange(min=2), help="Held-out test calls.")
@click.option("--seed", type=click.IntRange(min=0))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="YAML/TOML with learning settings (emulate.loop.LearnConfig).",
)
@click.option(
    "--cache",
    type=click.Path(path_type=Path),
    help="A simulation cache folder shared between runs (default: OUT/simulations).",
)
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--scheduler", default=None, help="Address of a running Dask scheduler.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.option("--resume", is_flag=True, help="Continue a killed run (no call is repeated).")
@friendly_errors
def learn(
    simulator_name,
    sim_options,
    budget,
    strategy,
    batch,
    initial,
    committee_kind,
    test_points,
    seed,
    config_path,
    cache,
    jobs,
    scheduler,
    out_dir,
    resume,
):
    """Train an emulator on simulator calls chosen by a strategy; test error per batch."""
    from physgen.core.config import load_config
    from physgen.emulate.loop import LearnConfig
    from physgen.emulate.loop import learn as run_learning
    from physgen.emulate.simulators import get_simulator, parse_options

    simulator = get_simulator(simulator_name, parse_options(sim_options))
    overrides = {
        "budget": budget,
        "strategy": strategy,
        "batch": batch,
        "initial": initial,
        "test_points": test_points,
        "seed": seed,
        "committee": None if committee_kind is None else {"kind": committee_kind},
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    config = load_config(LearnConfig, config_path, overrides, log=lambda m: click.echo(m, err=True))
    record = run_learning(
        simulator,
        config,
        out_dir,
        resume,
        jobs,
        scheduler,
        cache,
        log=lambda m: click.echo(m, err=True),
    )
    click.echo(
        f"{out_dir}: {record['calls']} calls ({record['simulator_calls_this_run']} simulated now), "
        f"test RMSE {record['rmse']:.4g}"
    )


@emulate.command()
@simulator_option
@option_option
@click.option(
    "--parameters",
    required=True,
    help="The point, comma separated in the simulator's order (see `emulate info`).",
)
@click.option("--seed", default=12345, show_default=True, type=click.IntRange(min=0))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Observation JSON.")
@overwrite_option
@friendly_errors
def observe(simulator_name, sim_options, parameters, seed, out, overwrite):
    """Simulate one observation (summary, covariance, the true parameters) for `emulate fit`."""
    from physgen.emulate.observe import observe as make_observation
    from physgen.emulate.simulators import get_simulator, parse_options

    simulator = get_simulator(simulator_name, parse_options(sim_options))
    make_observation(simulator, parameters, seed, out, overwrite)
    click.echo(f"wrote {out}")


@emulate.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--observed", required=True, type=click.Path(path_type=Path))
@click.option("--walkers", default=32, show_default=True, type=click.IntRange(min=4))
@click.option("--steps", default=3000, show_default=True, type=click.IntRange(min=10))
@click.option("--burn", default=1000, show_default=True, type=click.IntRange(min=0))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--no-emulator-uncertainty",
    is_flag=True,
    help="Leave the committee's spread out of the likelihood's covariance.",
)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@overwrite_option
@friendly_errors
def fit(run_dir, observed, walkers, steps, burn, seed, no_emulator_uncertainty, out_dir, overwrite):
    """Posterior of the parameters given an observation, by MCMC on the emulator."""
    from physgen.emulate.fit_run import fit_run

    summary = fit_run(
        run_dir,
        observed,
        out_dir,
        walkers=walkers,
        steps=steps,
        burn=burn,
        seed=seed,
        emulator_uncertainty=not no_emulator_uncertainty,
        overwrite=overwrite,
    )
    for name, row in summary["parameters"].items():
        truth = (
            ""
            if row.get("truth") is None
            else f"  truth {row['truth']:.5g} (pull {row['pull']:+.2f})"
        )
        click.echo(f"{name:24s} {row['mean']:.5g} +- {row['std']:.3g}{truth}")
    click.echo(f"wrote {out_dir}/fit.json, posterior.npz, corner.png")


@emulate.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Report folder.")
@friendly_errors
def report(run_dirs, out):
    """Emulator error vs simulator calls of learning runs, per strategy (plot, HTML, JSON)."""
    from physgen.emulate.report import write_report

    path = write_report(run_dirs, out)
    click.echo(f"wrote {path}")


@emulate.command()
@simulator_option
@option_option
def info(simulator_name, sim_options):
    """The simulator's parameters, bounds and summaries."""
    from physgen.emulate.simulators import get_simulator, parse_options

    simulator = get_simulator(simulator_name, parse_options(sim_options))
    for name, (low, high) in zip(simulator.parameter_names, simulator.bounds, strict=True):
        click.echo(f"parameter {name}: [{low:g}, {high:g}]")
    click.echo(f"summaries: {', '.join(simulator.summary_names)}")
