"""``physgen jets evaluate``: how well an emulator reproduces held-out Pythia jets.

- closure of the quantiles: the probability-integral transform of held-out truth through the
  learned conditional CDFs must be uniform; KS test per feature, overall and per pT bin;
- Wasserstein-1 distance of each output feature's marginal and of the pT response in pT bins;
- a classifier two-sample AUC on (input, output) pairs;
- the fraction of monotonicity violations of the quantile functions on an (x, tau) grid.
With a second, independent Pythia sample (``floor``) the same distances and AUC between two
Pythia samples give the statistical floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from physgen.core.errors import PhysgenInputError
from physgen.jets.emulator import JetEmulator, emulate
from physgen.jets.features import TARGET_NAMES, input_features, target_features
from physgen.metrics.classifier import ClassifierConfig, classifier_two_sample_test

__all__ = ["JetEvaluationConfig", "evaluate_emulator", "PT_BINS", "JET_NAMES"]

PT_BINS = (20.0, 30.0, 50.0, 100.0, 200.0, np.inf)
JET_NAMES = ("pt", "eta", "phi", "m")
PAIR_CLASSIFIER = ClassifierConfig(hidden=(128, 128, 128), learning_rate=1e-3, max_epochs=30)


@dataclass(frozen=True)
class JetEvaluationConfig:
    max_rows: int = 50_000
    pit_rows: int = 20_000
    monotonicity_rows: int = 2_000
    classifier: ClassifierConfig = PAIR_CLASSIFIER
    seed: int = 0


def _bin_label(low, high) -> str:
    return f"{low:g}-{high:g}" if np.isfinite(high) else f">{low:g}"


def _pair_features(parton, jets):
    return np.concatenate([input_features(parton), target_features(parton, jets)], 1)


def _distances(parton_a, jets_a, parton_b, jets_b) -> dict:
    out = {
        f"w1_{name}": float(stats.wasserstein_distance(jets_a[:, i], jets_b[:, i]))
        for i, name in enumerate(JET_NAMES)
    }
    for low, high in zip(PT_BINS[:-1], PT_BINS[1:], strict=True):
        in_a = (parton_a[:, 0] >= low) & (parton_a[:, 0] < high)
        in_b = (parton_b[:, 0] >= low) & (parton_b[:, 0] < high)
        if in_a.sum() > 10 and in_b.sum() > 10:
            out[f"w1_response_pt_{_bin_label(low, high)}"] = float(
                stats.wasserstein_distance(
                    jets_a[in_a, 0] / parton_a[in_a, 0], jets_b[in_b, 0] / parton_b[in_b, 0]
                )
            )
    return out


def _classifier_auc(parton_a, jets_a, parton_b, jets_b, config, progress, description) -> dict:
    features_a = _pair_features(parton_a, jets_a)
    mean, std = features_a.mean(0), features_a.std(0) + 1e-8
    result = classifier_two_sample_test(
        (features_a - mean) / std,
        (_pair_features(parton_b, jets_b) - mean) / std,
        config,
        progress=progress,
        description=description,
    )
    return {key: result[key] for key in ("auc", "auc_err", "jsd", "best_epoch")}


def pit_closure(emulator: JetEmulator, parton, jets) -> dict:
    """KS tests of the PIT values against U(0, 1), per feature, overall and per pT bin."""
    u = emulator.pit(parton, jets)
    tests = {}
    for low, high in [(PT_BINS[0], np.inf), *zip(PT_BINS[:-1], PT_BINS[1:], strict=True)]:
        chosen = (parton[:, 0] >= low) & (parton[:, 0] < high)
        if chosen.sum() < 20:
            continue
        label = "all" if low == PT_BINS[0] and not np.isfinite(high) else _bin_label(low, high)
        for i, name in enumerate(TARGET_NAMES):
            result = stats.kstest(u[chosen, i], "uniform")
            tests[f"{name}@{label}"] = {
                "n": int(chosen.sum()),
                "ks": float(result.statistic),
                "p_value": float(result.pvalue),
            }
    return {"pit": u, "tests": tests, "min_p_value": min(t["p_value"] for t in tests.values())}


MIN_REFERENCE_ROWS = 100


def evaluate_emulator(
    emulator: JetEmulator,
    reference: tuple[np.ndarray, np.ndarray],
    generated: np.ndarray | None = None,
    floor: tuple[np.ndarray, np.ndarray] | None = None,
    config: JetEvaluationConfig = JetEvaluationConfig(),
    progress: bool = True,
) -> dict:
    """Metrics of the emulator against held-out ``reference`` = (parton jets, true jets)."""
    parton, truth = (a[: config.max_rows] for a in reference)
    if len(parton) < MIN_REFERENCE_ROWS:
        raise PhysgenInputError(
            f"the reference holds {len(parton)} jet pairs: the closure tests and the classifier "
            f"need at least {MIN_REFERENCE_ROWS}"
        )
    if generated is None:
        generated = emulate(emulator, parton, seed=config.seed)
    generated = generated[: len(parton)]
    closure = pit_closure(emulator, parton[: config.pit_rows], truth[: config.pit_rows])
    result = {
        "n_reference": len(parton),
        "pit_tests": closure["tests"],
        "pit_ks_min_pvalue": closure["min_p_value"],
        "pit_ks_max_statistic": max(t["ks"] for t in closure["tests"].values()),
        "monotonicity_violation_fraction": emulator.monotonicity_violations(
            parton[: config.monotonicity_rows], truth[: config.monotonicity_rows]
        ),
        "distances": _distances(parton, truth, parton, generated),
        "classifier": _classifier_auc(
            parton, truth, parton, generated, config.classifier, progress, "classifier (emulator)"
        ),
    }
    if floor is not None:
        floor_parton, floor_truth = (a[: config.max_rows] for a in floor)
        result["floor_distances"] = _distances(parton, truth, floor_parton, floor_truth)
        result["floor_classifier"] = _classifier_auc(
            parton,
            truth,
            floor_parton,
            floor_truth,
            config.classifier,
            progress,
            "classifier (floor)",
        )
    arrays = {"pit": closure["pit"], "parton": parton, "truth": truth, "generated": generated}
    return result, arrays
