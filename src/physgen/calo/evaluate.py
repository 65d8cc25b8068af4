"""CaloChallenge-compatible evaluation of generated showers against a reference file.

Metrics: separation power of every histogrammed high-level feature and of the voxel-energy
spectrum, classifier two-sample tests on low-level, low-level-normed and high-level inputs
(AUC, JSD), and the Frechet / kernel physics distances of the high-level feature vector.
Everything streams in chunks; only the classifiers hold the showers in memory (float32, or
bfloat16 when that would exceed ``memory_budget_gb``).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import h5py
import numpy as np
import torch

from physgen import __version__
from physgen.calo.evaluation_data import (
    cache_key,
    largest_voxel,
    load_cached_summary,
    store_cached_summary,
    summarize_showers,
)
from physgen.calo.features import ShowerFeatures, eta_phi_layers
from physgen.calo.geometry import Geometry
from physgen.calo.histograms import histogram_specs, voxel_energy_edges
from physgen.calo.io import open_shower_file
from physgen.core.atomic import write_json_atomic
from physgen.core.errors import PhysgenInputError
from physgen.metrics.classifier import OFFICIAL, QUICK, ClassifierConfig, repeated_two_sample_test
from physgen.metrics.distances import distance_method, fpd, kpd

ALL_METRICS = ("hist", "cls-low", "cls-low-normed", "cls-high", "fpd", "kpd")


@dataclass(frozen=True)
class EvaluationConfig:
    metrics: tuple[str, ...] = ALL_METRICS
    quick: bool = False
    repeats: int = 1  # classifier trainings with seeds seed, seed + 1, ...: mean and spread
    classifier: ClassifierConfig | None = None  # default: OFFICIAL, or QUICK with quick=True
    memory_budget_gb: float = 3.0  # showers held for the classifiers, both files together
    report: bool = True
    seed: int = 0
    device: str = "cpu"

    def classifier_config(self) -> ClassifierConfig:
        base = self.classifier or (QUICK if self.quick else OFFICIAL)
        return replace(base, seed=self.seed, device=self.device)


def _check_inputs(gen_path, ref_path, geometry, log) -> tuple:
    ref = open_shower_file(ref_path, geometry)
    try:
        gen = open_shower_file(gen_path, ref.geometry)
    except PhysgenInputError as err:
        if "wrong voxel count" in str(err):
            raise PhysgenInputError(
                f"mismatched geometries: the reference {ref_path} is {ref.geometry.name} "
                f"({ref.n_voxels} voxels) but the generated file is not ({err})"
            ) from None
        raise
    warnings = []
    with h5py.File(ref.path) as h5:
        ref_e = np.asarray(h5["incident_energies"][:]).ravel()
    with h5py.File(gen.path) as h5:
        gen_e = np.asarray(h5["incident_energies"][:]).ravel()
    gen_e = gen_e[np.isfinite(gen_e)]
    if len(gen_e) and (gen_e.min() < ref_e.min() * 0.99 or gen_e.max() > ref_e.max() * 1.01):
        warnings.append(
            f"incident energies differ: generated {gen_e.min():.4g}-{gen_e.max():.4g} "
            f"MeV, reference {ref_e.min():.4g}-{ref_e.max():.4g} MeV"
        )
    n = min(ref.n_events, gen.n_events)
    if ref.n_events != gen.n_events:
        warnings.append(
            f"files differ in length (reference {ref.n_events}, generated "
            f"{gen.n_events}): both subsampled to their first {n} showers"
        )
    for message in warnings:
        log(f"warning: {message}")
    return ref, gen, n, warnings


def high_level_vector(features: ShowerFeatures, geometry: Geometry) -> np.ndarray:
    """The classifier / FPD input of the official high-level test."""
    angular = eta_phi_layers(geometry)
    return np.concatenate(
        [
            np.log10(features.incident_energy)[:, None],
            np.log10(features.e_layer + 1e-8),
            features.ec_eta[:, angular] / 100,
            features.ec_phi[:, angular] / 100,
            features.width_eta[:, angular] / 100,
            features.width_phi[:, angular] / 100,
            np.log10(features.e_tot + 1e-8)[:, None],
            features.sparsity,
            features.ec_r / 100,
            features.width_r / 100,
        ],
        axis=1,
    ).astype(np.float32)


def _layer_matrix(geometry: Geometry) -> torch.Tensor:
    matrix = torch.zeros(geometry.n_voxels, geometry.n_layers)
    for index, sl in enumerate(geometry.layer_slices):
        matrix[sl, index] = 1
    return matrix


def low_level_transform(showers: torch.Tensor, incident: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.log10(incident)[:, None], showers / incident[:, None]], dim=1)


def low_level_normed_transform(geometry: Geometry):
    matrix = _layer_matrix(geometry)
    layer_of_voxel = matrix.argmax(1)

    def transform(showers: torch.Tensor, incident: torch.Tensor) -> torch.Tensor:
        e_layer = showers @ matrix
        per_voxel = e_layer[:, layer_of_voxel]
        normed = torch.where(per_voxel > 0, showers / per_voxel.clamp_min(1e-30), 0.0)
        return torch.cat([torch.log10(incident)[:, None], torch.log10(e_layer + 1e-8), normed], 1)

    return transform


def _summaries(ref, gen, n, config: EvaluationConfig, log, n_files: int = 2):
    keep = any(m in config.metrics for m in ("cls-low", "cls-low-normed"))
    bytes_needed = n_files * n * ref.n_voxels * 4
    dtype = torch.float32 if bytes_needed <= config.memory_budget_gb * 1e9 else torch.bfloat16
    if keep and dtype == torch.bfloat16:
        log(
            f"showers stored in bfloat16 for the classifiers ({bytes_needed / 1e9:.1f} GB in "
            f"float32 exceeds the {config.memory_budget_gb} GB budget)"
        )
    key = cache_key(ref.path, ref.geometry, n)
    ref_summary = None if keep else load_cached_summary(ref.path, key)
    if ref_summary is not None:
        log(f"reference features from cache (key {key[:12]})")
    else:
        edges = voxel_energy_edges(ref.geometry, largest_voxel(ref.path, ref.geometry, n))
        ref_summary = summarize_showers(ref.path, ref.geometry, edges, n, keep, dtype)
        store_cached_summary(ref.path, key, ref_summary)
    gen_summary = summarize_showers(
        gen.path, ref.geometry, ref_summary.voxel_edges, n, keep, dtype, check_values=False
    )
    return ref_summary, gen_summary, str(dtype).replace("torch.", "")


def implausible_energies(reference, generated, factor: float = 3.0) -> str | None:
    """A message when the generated showers' energy response is off the reference's by more
    than ``factor`` (median E_tot / E_inc), or a generated shower deposits more than ten times
    its incident energy: a generator failure that no distance should call close (a classifier
    can miss a global scale factor it never sees, e.g. showers scaled by 1e30)."""
    ref_ratio = np.median(reference.e_tot / reference.incident_energy)
    gen_ratios = generated.e_tot.astype(np.float64) / generated.incident_energy
    gen_ratio = np.median(gen_ratios)
    problems = []
    if not (ref_ratio / factor <= gen_ratio <= ref_ratio * factor):
        problems.append(
            f"median E_tot/E_inc {gen_ratio:.3g} against the reference's {ref_ratio:.3g}"
        )
    if (gen_ratios > 10).any():
        problems.append(f"{int((gen_ratios > 10).sum())} showers deposit over 10 x E_inc")
    if not problems:
        return None
    return "implausible generated energies (" + "; ".join(problems) + "): a generator failure"


def evaluate(
    generated,
    reference,
    out_dir,
    config: EvaluationConfig = EvaluationConfig(),
    geometry: Geometry | None = None,
    log=print,
    progress: bool = True,
    floor=None,
) -> dict:
    """Evaluate ``generated`` against ``reference``; writes metrics.json (and report.html).

    ``floor``: a second reference file (e.g. Geant4 with another seed). The same metrics of
    ``floor`` against ``reference`` are the statistical floor, reported beside every number
    with each metric's excess over it."""
    unknown = set(config.metrics) - set(ALL_METRICS)
    if unknown:
        raise PhysgenInputError(
            f"unknown metrics {sorted(unknown)}: choose from {', '.join(ALL_METRICS)}"
        )
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ref, gen, n, warnings = _check_inputs(generated, reference, geometry, log)
    geometry = ref.geometry
    floor_file = None
    if floor is not None:  # checked before any work: a floor mistake must not cost an hour
        if Path(floor).resolve() in (ref.path.resolve(), gen.path.resolve()):
            raise PhysgenInputError(
                f"--floor {floor} is the reference or the generated file itself: give a second "
                "reference file"
            )
        _, floor_file, n_floor, floor_warnings = _check_inputs(
            floor, reference, geometry, lambda m: log(_as_floor(m.replace("warning: ", "", 1)))
        )
        warnings += [_as_floor(w)[len("warning: ") :] for w in floor_warnings]
        if n_floor < n:  # the floor must be measured at the same sample size
            message = f"the floor file holds {n_floor} showers: every file subsampled to {n_floor}"
            log(f"warning: {message}")
            warnings.append(message)
            n = n_floor
    n_files = 2 if floor is None else 3
    ref_summary, gen_summary, storage = _summaries(ref, gen, n, config, log, n_files)
    metrics = {
        "physgen_version": __version__,
        "reference": str(ref.path),
        "generated": str(gen.path),
        "geometry": geometry.name,
        "n_reference": len(ref_summary.features),
        "n_generated_read": n,
        "n_generated_invalid": gen_summary.n_invalid,
        "classifier_storage": storage,
        "warnings": warnings,
    }
    if gen_summary.n_invalid:
        message = (
            f"generator failure: {gen_summary.n_invalid} of {n} generated showers have NaN, "
            "inf or negative voxel energies or a bad incident energy; they were excluded"
        )
        log(f"warning: {message}")
        warnings.append(message)
    metrics["generator_failure"] = bool(gen_summary.n_invalid)
    if gen_summary.features is not None and len(gen_summary.features):
        implausible = implausible_energies(ref_summary.features, gen_summary.features)
        metrics["implausible_energies"] = implausible
        if implausible is not None:
            log(f"warning: {implausible}")
            warnings.append(implausible)
    if gen_summary.features is None or len(gen_summary.features) < 10:
        metrics["error"] = "fewer than 10 valid generated showers: nothing to evaluate"
        write_json_atomic(out_dir / "metrics.json", metrics)
        log(f"error: {metrics['error']}")
        return metrics

    specs = histogram_specs(geometry, ref_summary, gen_summary, ref_summary.voxel_edges)
    metrics.update(_compare(specs, ref_summary, gen_summary, geometry, config, progress, ""))
    if floor_file is not None:
        floor_summary = summarize_showers(
            floor_file.path,
            geometry,
            ref_summary.voxel_edges,
            n,
            ref_summary.showers is not None,
            ref_summary.showers.dtype if ref_summary.showers is not None else torch.float32,
        )
        floor_specs = histogram_specs(geometry, ref_summary, floor_summary, ref_summary.voxel_edges)
        log(f"Geant4 floor: {floor_file.path} against the reference")
        metrics["floor_file"] = str(floor_file.path)
        metrics["floor"] = _compare(
            floor_specs, ref_summary, floor_summary, geometry, config, progress, "floor "
        )
        metrics["excess_over_floor"] = excess_over_floor(metrics, metrics["floor"])
        floor_summary.showers = None
    for suffix, result in metrics.get("classifiers", {}).items():
        if result["did_not_learn"]:
            message = (
                f"the {suffix} classifier did not learn: its test accuracy stayed at chance in "
                f"{result['chance_epochs']} of {result['epochs_run']} epochs and its training "
                f"loss never left ln 2 (lowest {min(result['history']['train_loss']):.3f}); its "
                "AUC says nothing about the samples - more showers, more epochs or --quick"
            )
            log(f"warning: {message}")
            warnings.append(message)
    ref_summary.showers = gen_summary.showers = None
    metrics["distance_units"] = "fpd and kpd are x 1e3, on the high-level vector of cls-high"
    metrics["config"] = {**asdict(config), "classifier": asdict(config.classifier_config())}
    metrics["wall_s"] = time.perf_counter() - started
    write_json_atomic(out_dir / "metrics.json", metrics)
    if config.report:
        from physgen.calo.report import write_report

        write_report(out_dir / "report.html", metrics, specs, geometry, ref_summary, gen_summary)
    return metrics


# the scalar metrics compared with the floor (errors and spreads are not differences of values)
FLOOR_KEYS = (
    "separation_mean_official",
    "separation_mean_extra",
    "separation_etot_over_einc",
    *(f"{kind}_{suffix}" for kind in ("auc", "jsd") for suffix in ("low", "low_normed", "high")),
    "fpd",
    "kpd",
)


def excess_over_floor(metrics: dict, floor: dict) -> dict:
    """Each scalar metric less its floor (the mean over repeats where there are several),
    with the error of the difference where both have one (added in quadrature: conservative,
    the two share the reference)."""
    excess = {}
    for key in FLOOR_KEYS:
        if key not in metrics or key not in floor:
            continue
        value, base = metrics.get(f"{key}_mean", metrics[key]), floor.get(f"{key}_mean", floor[key])
        excess[key] = value - base
        if f"{key}_err" in metrics and f"{key}_err" in floor:
            excess[f"{key}_err"] = float(np.hypot(metrics[f"{key}_err"], floor[f"{key}_err"]))
    return excess


def _as_floor(message: str) -> str:
    # _check_inputs names its first file "generated": here it is the floor file
    return "warning: floor: " + message.replace("generated", "floor file")


def _compare(specs, ref_summary, gen_summary, geometry, config, progress, label) -> dict:
    """The metrics of one pair of samples (the histograms' ``specs`` already made)."""
    metrics = {}
    if "hist" in config.metrics:
        official = {s.name: s.result.separation_power for s in specs if s.official}
        extra = {s.name: s.result.separation_power for s in specs if not s.official}
        metrics["separation_power"] = official
        metrics["separation_mean_official"] = float(np.mean(list(official.values())))
        metrics["separation_histograms_official"] = len(official)
        metrics["separation_extra"] = extra
        metrics["separation_mean_extra"] = float(np.mean(list(extra.values())))
        metrics["separation_etot_over_einc"] = official["etot_over_einc"]
        metrics["generated_out_of_range_fraction"] = {
            s.name: s.result.generated_out_of_range
            for s in specs
            if s.result.generated_out_of_range > 0
        }
    classifier_config = config.classifier_config()
    high_ref = high_level_vector(ref_summary.features, geometry)
    high_gen = high_level_vector(gen_summary.features, geometry)
    inputs = {
        "low": ("cls-low", low_level_transform),
        "low_normed": ("cls-low-normed", low_level_normed_transform(geometry)),
        "high": ("cls-high", None),
    }
    metrics["classifiers"] = {}
    for suffix, (name, transform) in inputs.items():
        if name not in config.metrics:
            continue
        if transform is None:
            reference, generated = high_ref, high_gen
        else:
            reference = (
                ref_summary.showers,
                torch.from_numpy(ref_summary.features.incident_energy),
            )
            generated = (
                gen_summary.showers,
                torch.from_numpy(gen_summary.features.incident_energy),
            )
        result = repeated_two_sample_test(
            reference,
            generated,
            classifier_config,
            config.repeats,
            transform=transform,
            progress=progress,
            description=label + name,
        )
        _store_classifier(metrics, suffix, result)
    n_rows = min(len(high_ref), len(high_gen))
    for name, function in (("fpd", fpd), ("kpd", kpd)):
        if name in config.metrics:
            value, error = function(high_ref, high_gen, seed=config.seed)
            metrics[name], metrics[f"{name}_err"] = 1e3 * value, 1e3 * error
            metrics[f"{name}_method"] = distance_method(name, n_rows)
    return metrics


def _store_classifier(metrics: dict, suffix: str, result: dict) -> None:
    metrics[f"auc_{suffix}"] = result["auc"]
    metrics[f"auc_{suffix}_err"] = result["auc_err"]
    metrics[f"jsd_{suffix}"] = result["jsd"]
    if len(result["repeats"]) > 1:
        metrics[f"auc_{suffix}_mean"] = result["auc_mean"]
        metrics[f"auc_{suffix}_spread"] = result["auc_spread"]
    metrics["classifiers"][suffix] = result


def load_metrics(out_dir) -> dict:
    return json.loads((Path(out_dir) / "metrics.json").read_text())
