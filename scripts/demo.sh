#!/usr/bin/env bash
# The main job on the embedded demo sample: simulate Geant4 showers, summarise and plot them.
# Outputs go to ${1:-demo-out}/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/ensure-venv.sh"
OUT="${1:-demo-out}"
mkdir -p "$OUT"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MPLBACKEND=Agg
SAMPLES="$(python -c 'from physgen.calo.presets import get_preset; print(get_preset("demo").directory())')"
echo "== 1. Geant4 demo sample (cached in $SAMPLES)"
physgen calo simulate --preset demo --jobs 2
echo "== 2. inspect"
physgen calo inspect "$SAMPLES/train.h5" | tee "$OUT/inspect-train.txt"
echo "== 3. plots"
physgen calo plot "$SAMPLES/train.h5" --out "$OUT/plots-train"
echo "demo finished: outputs in $OUT/"
