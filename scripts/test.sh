#!/usr/bin/env bash
# Runs the physgen test suite in its own virtual environment (created if missing).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/ensure-venv.sh"
cd "$ROOT"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MPLBACKEND=Agg
exec python -m pytest -q "$@"
