#!/usr/bin/env bash
# The main job on the embedded demo sample: simulate Geant4 showers, train a flow
# surrogate (a CaloINN-style latent flow), generate showers for the reference energies,
# evaluate them, write the report.
# Outputs go to ${1:-demo-out}/; the Geant4 sample is cached (see docs/calo.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/ensure-venv.sh"
OUT="${1:-demo-out}"
mkdir -p "$OUT"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MPLBACKEND=Agg
SAMPLES="$(python -c 'from physgen.calo.presets import get_preset; print(get_preset("demo").directory())')"
CONFIG="$(python -c 'import physgen, pathlib; print(pathlib.Path(physgen.__file__).parent / "configs" / "demo.yaml")')"
echo "== 1/5 Geant4 demo sample (cached in $SAMPLES)"
physgen calo simulate --preset demo --jobs 2
physgen calo inspect "$SAMPLES/train.h5"
echo "== 2/5 train (config $CONFIG)"
rm -rf "$OUT/run"
physgen calo train --model latent-flow --config "$CONFIG" --data "$SAMPLES/train.h5" --out "$OUT/run"
echo "== 3/5 generate one shower per reference incident energy"
rm -f "$OUT/generated.h5"
physgen calo generate --run "$OUT/run" --energies "$SAMPLES/reference.h5" --batch-size 500 --out "$OUT/generated.h5"
echo "== 4/5 evaluate against the Geant4 reference"
physgen calo evaluate --generated "$OUT/generated.h5" --reference "$SAMPLES/reference.h5" --floor "$SAMPLES/train.h5" --out "$OUT/evaluation" --quick --overwrite
echo "== 5/5 plots"
physgen calo plot "$OUT/generated.h5" --out "$OUT/plots-generated" --overwrite
echo "demo finished: report in $OUT/evaluation/report.html, metrics in $OUT/evaluation/metrics.json"
