"""physgen's separation powers against the official CaloChallenge script's on the shared
Geant4 files. The expected values were produced once by running the official code/evaluate.py
(CaloChallenge/homepage, commit and command in the file's provenance block) on float64 copies
of the two files, outside this project; its code is not part of physgen."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from physgen.calo.evaluate import EvaluationConfig, evaluate

OFFICIAL = Path(__file__).parent / "data" / "official_separation_ds2_shared.json"
SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def official_and_physgen(tmp_path_factory):
    expected = json.loads(OFFICIAL.read_text())
    files = expected["provenance"]["input_files"]
    paths = {}
    for role in ("generated", "reference"):
        path = SHARED / "calochallenge" / "g4-ds2-e-1-100GeV" / Path(files[role]["source"]).name
        if not path.exists() or _sha256(path) != files[role]["source_sha256"]:
            pytest.skip(f"{path} is missing or not the file the official values were made from")
        # a copy: the reference-feature cache is written beside the reference
        paths[role] = tmp_path_factory.mktemp(role) / path.name
        paths[role].write_bytes(path.read_bytes())
    config = EvaluationConfig(metrics=("hist",), report=False)
    out = tmp_path_factory.mktemp("out")
    metrics = evaluate(
        paths["generated"], paths["reference"], out, config, progress=False, log=lambda m: None
    )
    return expected, metrics


def test_every_official_histogram_matches_the_official_script(official_and_physgen):
    expected, metrics = official_and_physgen
    official = expected["separation_power"]
    assert set(metrics["separation_power"]) == set(official)  # the same 227 histograms
    assert metrics["separation_histograms_official"] == len(official) == 227
    differences = {k: abs(metrics["separation_power"][k] - v) for k, v in official.items()}
    worst = max(differences, key=differences.get)
    assert differences[worst] < 1e-9, (worst, differences[worst])


def test_the_headline_is_the_official_mean(official_and_physgen):
    expected, metrics = official_and_physgen
    assert metrics["separation_mean_official"] == pytest.approx(
        expected["separation_mean_official"], abs=1e-12
    )
    extras = metrics["separation_extra"]
    assert len(extras) == 3 * 45 and not set(extras) & set(metrics["separation_power"])
    assert metrics["separation_mean_extra"] == pytest.approx(np.mean(list(extras.values())))
