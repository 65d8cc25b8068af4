"""`physgen lattice estimate`: estimators of a trained sampler, with the exact value beside."""

from __future__ import annotations

from pathlib import Path

from physgen.core.device import resolve_device
from physgen.core.errors import PhysgenInputError
from physgen.core.run import Run
from physgen.lattice.conditional_z import (
    ConditionalStripSampler,
    StripConfig,
    boundary_pool,
    neural_conditional_log_z,
)
from physgen.lattice.estimators import draw, neural_mcmc, nis_estimates
from physgen.lattice.exact import kaufman_log_z
from physgen.lattice.symmetries import torus_symmetries
from physgen.lattice.variational import (
    boltzmann_beta,
    build_lattice,
    lattice_spins,
    load_sampler,
    trotter_chain,
)
from physgen.models.symmetrized import PermutationAveraged

OBSERVABLES = ("free-energy", "energy", "nmcmc", "mi", "renyi2")
STRIP_STEPS, STRIP_DRAWS = 2000, 64  # the conditional strip sampler of the mi observable


def estimate_run(
    run_dir,
    observables: list[str],
    samples: int,
    seed: int = 1,
    mi_conditional: str = "auto",
    symmetrize: str = "none",
    device: str = "cpu",
) -> dict:
    unknown = sorted(set(observables) - set(OBSERVABLES))
    if unknown:
        raise PhysgenInputError(
            f"unknown observable(s) {', '.join(unknown)}: choose from {', '.join(OBSERVABLES)}"
        )
    legacy = Path(run_dir) / "sampler.pt"  # runs of physgen <= 0.1.0
    if legacy.exists() and not (Path(run_dir) / Run.MODEL).exists():
        path = legacy
    else:
        path = Run(run_dir).require_model("physgen lattice train")
    sampler, config = load_sampler(path)
    sampler = sampler.to(resolve_device(device))
    if symmetrize != "none":
        if config.lattice not in ("ising2d", "potts"):
            raise PhysgenInputError(
                f"--symmetrize needs a square torus (ising2d, potts), not {config.lattice}"
            )
        sampler = PermutationAveraged(sampler, torus_symmetries(config.L, symmetrize))
    lattice = build_lattice(config)
    beta = boltzmann_beta(config)
    log_q, energies = draw(
        sampler,
        lambda s: lattice.energy(lattice_spins(config, s).view(-1, *lattice.shape)),
        samples,
        seed=seed,
    )
    estimates = nis_estimates(log_q, energies, beta, lattice.n_sites)
    result = {
        "model": config.lattice,
        "L": config.L,
        "beta": config.beta,
        "n_samples": samples,
        "symmetrized": symmetrize,
        "ess_fraction": estimates["ess_fraction"],
    }
    if "free-energy" in observables:
        for key in (
            "log_z",
            "log_z_err",
            "free_energy_per_site",
            "free_energy_per_site_err",
            "variational_free_energy_per_site",
        ):
            result[key] = estimates[key]
        if config.lattice == "ising2d":
            exact = kaufman_log_z(config.beta, config.L)
            result["exact_log_z"] = exact
            result["free_energy_relative_error"] = abs(estimates["log_z"] - exact) / abs(exact)
            result["variational_relative_error"] = abs(
                estimates["variational_free_energy_per_site"] * config.beta * lattice.n_sites
                + exact
            ) / abs(exact)
    if "energy" in observables:
        for key in ("energy_per_site", "energy_per_site_err", "specific_heat_per_site"):
            result[key] = estimates[key]
    if "mi" in observables:
        result.update(
            _mutual_information(sampler, config, lattice, samples, seed, run_dir, mi_conditional)
        )
    if "nmcmc" in observables:
        result.update(
            {f"nmcmc_{k}": v for k, v in neural_mcmc(log_q, energies, beta, seed).items()}
        )
    if "renyi2" in observables:
        if config.lattice != "tfim-chain":
            raise PhysgenInputError("the renyi2 observable needs a tfim-chain run")
        from physgen.lattice.entanglement import chain_renyi2

        result["renyi2"] = chain_renyi2(sampler, trotter_chain(config), samples, seed + 2)
    return result


def _mutual_information(sampler, config, lattice, samples, seed, run_dir, conditional) -> dict:
    """I(A:B) of the torus halves; conditional partition functions from the transfer matrix
    ("exact", L <= 12) or from a conditional strip sampler trained once and kept in the run
    ("neural"); "auto" takes the transfer matrix where it reaches."""
    import torch

    from physgen.lattice.mutual_information import (
        exact_conditional_log_z,
        mutual_information_estimate,
        torus_halves_mutual_information,
    )

    if config.lattice != "ising2d" or config.L % 2:
        raise PhysgenInputError("the mi observable needs ising2d with an even L")
    exact_z = conditional == "exact" or (conditional == "auto" and config.L <= 12)
    if exact_z and config.L > 12:
        raise PhysgenInputError(
            "exact conditional partition functions need L <= 12 (transfer matrix): "
            "use --mi-conditional neural"
        )
    spins = sampler.sample(samples, _generator(sampler, seed + 1)).cpu()
    sampler = sampler.cpu()
    with torch.no_grad():
        log_q = sampler.log_prob(spins)
    spins_pm = lattice_spins(config, spins).view(-1, config.L, config.L)
    if exact_z:
        log_z = exact_conditional_log_z(config.L, config.beta)
        method = "transfer matrix (exact)"
    else:
        strip = _strip_sampler(sampler, config, Path(run_dir) / "strip_sampler.pt", seed)
        log_z = neural_conditional_log_z(strip, config.beta, STRIP_DRAWS, seed=seed)
        method = f"conditional strip sampler, {STRIP_DRAWS} draws per half"
    estimate = mutual_information_estimate(
        spins_pm, log_q, lattice.energy(spins_pm), config.beta, *log_z
    )
    result = {
        "mutual_information": estimate["mutual_information"],
        "mutual_information_err": estimate["mutual_information_err"],
        "mutual_information_conditional_z": method,
    }
    if config.L <= 12:
        exact = torus_halves_mutual_information(config.L, config.beta)["mutual_information"]
        result["exact_mutual_information"] = exact
    return result


def _strip_sampler(sampler, config, path: Path, seed: int):
    """The run's conditional strip sampler; trained on the sampler's boundaries if absent."""

    from physgen.core.training import StepConfig

    if path.exists():
        try:
            return ConditionalStripSampler.load(path).net
        except (PhysgenInputError, KeyError):  # a damaged or older cache: train it again
            path.unlink()
    network = "han" if config.L >= 32 else "made"  # a one-layer VAN of the strip is O(L^4)
    spins = 2 * sampler.sample(20_000, _generator(sampler, seed)).cpu() - 1
    strip_config = StripConfig(
        L=config.L,
        beta=config.beta,
        network=network,
        optimizer=StepConfig(steps=STRIP_STEPS, schedule="cosine", seed=seed),
    )
    model = ConditionalStripSampler.from_config(strip_config)
    model.fit(None, boundary_pool(spins.view(-1, config.L, config.L)))
    model.save(path)
    return model.net


def _generator(sampler, seed: int):
    import torch

    device = next(sampler.buffers(), next(sampler.parameters(), torch.empty(0))).device
    return torch.Generator(device=device).manual_seed(seed)
