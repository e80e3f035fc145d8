#!/usr/bin/env bash
# GPU check of the engine (issue #9): one command, at most 8 minutes. Run from the repo root on a
# machine with CUDA and InBedder installed (or with the wheels of .whl/ unpacked on PYTHONPATH).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
timeout 480 python bench/gpu_check.py --device cuda --texts "${TEXTS:-20000}" --batch-size "${BATCH:-512}"
