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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import h5py
import numpy as np
import torch

from physgen import __version__
from physgen.calo.evaluation_data import (
    ShowerSummary,
    cache_key,
    load_cached_summary,
    store_cached_summary,
    summarize_showers,
)
from physgen.calo.features import ShowerFeatures, eta_phi_layers
from physgen.calo.geometry import Geometry
from physgen.calo.io import open_shower_file
from physgen.core.atomic import write_json_atomic
from physgen.core.errors import PhysgenInputError
from physgen.metrics.classifier import OFFICIAL, QUICK, ClassifierConfig, classifier_two_sample_test
from physgen.metrics.distances import fpd, kpd
from physgen.metrics.separation import HistogramComparison, compare_histograms, separation_power

ALL_METRICS = ("hist", "cls-low", "cls-low-normed", "cls-high", "fpd", "kpd")


@dataclass(frozen=True)
class EvaluationConfig:
    metrics: tuple[str, ...] = ALL_METRICS
    quick: bool = False
    classifier: ClassifierConfig | None = None  # default: OFFICIAL, or QUICK with quick=True
    memory_budget_gb: float = 3.0  # showers held for the classifiers, both files together
    report: bool = True
    seed: int = 0
    device: str = "cpu"

    def classifier_config(self) -> ClassifierConfig:
        base = self.classifier or (QUICK if self.quick else OFFICIAL)
        return replace(base, seed=self.seed, device=self.device)


@dataclass
class HistogramSpec:
    name: str
    label: str
    reference: np.ndarray
    generated: np.ndarray
    edges: np.ndarray
    log_x: bool = False
    result: object = field(default=None)


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
    return ref, gen, n, float(ref_e.max()), warnings


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


def histogram_specs(
    geometry: Geometry, ref: ShowerSummary, gen: ShowerSummary, voxel_edges: np.ndarray
) -> list[HistogramSpec]:
    rf, gf = ref.features, gen.features
    is_ds1 = geometry.pid != 11
    centre_range = None if is_ds1 else 30.0
    specs = [
        HistogramSpec(
            "etot_over_einc",
            r"$E_{tot}/E_{inc}$",
            rf.e_tot / rf.incident_energy,
            gf.e_tot / gf.incident_energy,
            np.linspace(0.5, 1.5, 101),
        )
    ]
    angular = eta_phi_layers(geometry)
    for index, layer in enumerate(geometry.active_layers):
        tag = f"{layer.layer_id:02d}"
        top = max(float(rf.e_layer[:, index].max()), geometry.threshold_mev * 10)
        specs.append(
            HistogramSpec(
                f"e_layer_{tag}",
                f"E layer {layer.layer_id} [MeV]",
                rf.e_layer[:, index],
                gf.e_layer[:, index],
                np.logspace(np.log10(geometry.threshold_mev), np.log10(top), 41),
                log_x=True,
            )
        )
        r_max = float(layer.r_edges_mm[-1])
        pairs = [
            ("ec_r", "EC r", rf.ec_r, gf.ec_r, (0.0, r_max)),
            ("width_r", "width r", rf.width_r, gf.width_r, (0.0, r_max / 2)),
        ]
        if angular[index]:
            low_high = (-centre_range, centre_range) if centre_range else (-r_max / 4, r_max / 4)
            width_top = centre_range if centre_range else r_max / 4
            pairs = [
                ("ec_eta", "EC eta", rf.ec_eta, gf.ec_eta, low_high),
                ("ec_phi", "EC phi", rf.ec_phi, gf.ec_phi, low_high),
                ("width_eta", "width eta", rf.width_eta, gf.width_eta, (0.0, width_top)),
                ("width_phi", "width phi", rf.width_phi, gf.width_phi, (0.0, width_top)),
                *pairs,
            ]
        for name, label, r_values, g_values, (lo, hi) in pairs:
            specs.append(
                HistogramSpec(
                    f"{name}_{tag}",
                    f"{label} layer {layer.layer_id} [mm]",
                    r_values[:, index],
                    g_values[:, index],
                    np.linspace(lo, hi, 101),
                )
            )
        specs.append(
            HistogramSpec(
                f"sparsity_{tag}",
                f"sparsity layer {layer.layer_id}",
                rf.sparsity[:, index],
                gf.sparsity[:, index],
                np.linspace(0, 1, 21),
            )
        )
    for spec in specs:
        spec.result = compare_histograms(spec.reference, spec.generated, spec.edges)
    voxel = HistogramSpec("voxel_energy", "voxel energy [MeV]", None, None, voxel_edges, log_x=True)
    voxel.result = HistogramComparison(
        voxel_edges,
        ref.voxel_counts,
        gen.voxel_counts,
        separation_power(ref.voxel_counts, gen.voxel_counts),
        ref.voxel_out_of_range,
        gen.voxel_out_of_range,
    )
    specs.append(voxel)
    return specs


def _summaries(ref, gen, n, voxel_edges, config: EvaluationConfig, log):
    keep = any(m in config.metrics for m in ("cls-low", "cls-low-normed"))
    bytes_needed = 2 * n * ref.n_voxels * 4
    dtype = torch.float32 if bytes_needed <= config.memory_budget_gb * 1e9 else torch.bfloat16
    if keep and dtype == torch.bfloat16:
        log(
            f"showers stored in bfloat16 for the classifiers ({bytes_needed / 1e9:.1f} GB in "
            f"float32 exceeds the {config.memory_budget_gb} GB budget)"
        )
    key = cache_key(ref.path, ref.geometry, voxel_edges, n)
    ref_summary = None if keep else load_cached_summary(ref.path, key)
    if ref_summary is not None:
        log(f"reference features from cache (key {key[:12]})")
    else:
        ref_summary = summarize_showers(ref.path, ref.geometry, voxel_edges, n, keep, dtype)
        store_cached_summary(ref.path, key, ref_summary)
    gen_summary = summarize_showers(
        gen.path, ref.geometry, voxel_edges, n, keep, dtype, check_values=False
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
) -> dict:
    """Evaluate ``generated`` against ``reference``; writes metrics.json (and report.html)."""
    unknown = set(config.metrics) - set(ALL_METRICS)
    if unknown:
        raise PhysgenInputError(
            f"unknown metrics {sorted(unknown)}: choose from {', '.join(ALL_METRICS)}"
        )
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ref, gen, n, e_max, warnings = _check_inputs(generated, reference, geometry, log)
    geometry = ref.geometry
    voxel_edges = np.logspace(np.log10(geometry.threshold_mev), np.log10(e_max), 51)
    ref_summary, gen_summary, storage = _summaries(ref, gen, n, voxel_edges, config, log)
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

    specs = histogram_specs(geometry, ref_summary, gen_summary, voxel_edges)
    if "hist" in config.metrics:
        metrics["separation_power"] = {s.name: s.result.separation_power for s in specs}
        values = list(metrics["separation_power"].values())
        metrics["separation_mean"] = float(np.mean(values))
        metrics["separation_etot_over_einc"] = metrics["separation_power"]["etot_over_einc"]
        out_of_range = {
            s.name: s.result.generated_out_of_range
            for s in specs
            if s.result.generated_out_of_range > 0
        }
        metrics["generated_out_of_range_fraction"] = out_of_range

    classifier_config = config.classifier_config()
    high_ref = high_level_vector(ref_summary.features, geometry)
    high_gen = high_level_vector(gen_summary.features, geometry)
    tests = {
        "low": ("cls-low", low_level_transform),
        "low_normed": ("cls-low-normed", low_level_normed_transform(geometry)),
    }
    metrics["classifiers"] = {}
    for suffix, (name, transform) in tests.items():
        if name in config.metrics:
            result = classifier_two_sample_test(
                (ref_summary.showers, torch.from_numpy(ref_summary.features.incident_energy)),
                (gen_summary.showers, torch.from_numpy(gen_summary.features.incident_energy)),
                classifier_config,
                transform,
                progress,
                description=name,
            )
            _store_classifier(metrics, suffix, result)
    # the showers were only needed by the low-level classifiers: free them before the
    # distance computations, whose temporaries would otherwise stack on top of them
    ref_summary.showers = gen_summary.showers = None
    if "cls-high" in config.metrics:
        result = classifier_two_sample_test(
            high_ref, high_gen, classifier_config, progress=progress, description="cls-high"
        )
        _store_classifier(metrics, "high", result)
    if "fpd" in config.metrics:
        metrics["fpd"], metrics["fpd_err"] = (
            1e3 * v for v in fpd(high_ref, high_gen, seed=config.seed)
        )
    if "kpd" in config.metrics:
        metrics["kpd"], metrics["kpd_err"] = (
            1e3 * v for v in kpd(high_ref, high_gen, seed=config.seed)
        )
    metrics["distance_units"] = "fpd and kpd are x 1e3, on the high-level vector of cls-high"
    metrics["config"] = {**asdict(config), "classifier": asdict(classifier_config)}
    metrics["wall_s"] = time.perf_counter() - started
    write_json_atomic(out_dir / "metrics.json", metrics)
    if config.report:
        from physgen.calo.report import write_report

        write_report(out_dir / "report.html", metrics, specs, geometry, ref_summary, gen_summary)
    return metrics


def _store_classifier(metrics: dict, suffix: str, result: dict) -> None:
    metrics[f"auc_{suffix}"] = result["auc"]
    metrics[f"auc_{suffix}_err"] = result["auc_err"]
    metrics[f"jsd_{suffix}"] = result["jsd"]
    metrics["classifiers"][suffix] = result


def load_metrics(out_dir) -> dict:
    return json.loads((Path(out_dir) / "metrics.json").read_text())
