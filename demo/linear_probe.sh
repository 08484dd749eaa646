#!/usr/bin/env bash
# Linear probe of a model's CLS features on the generated beans-like dataset: how much of the
# classes a pretraining puts in the features before any fine-tuning (README, "Fine-tuning versus
# training from scratch"). MODEL_DIR may be "random" for a random initialisation of the bundled
# model's architecture. Needs Debian's python3-torch for the logistic regression.
#   demo/linear_probe.sh [MODEL_DIR] [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-models/vit-tiny-contours}"
data="${2:-.cache/beans-synthetic}"
mkdir -p .cache/probe
out=".cache/probe/$(basename "$model")"
deno run --allow-read=. --allow-env=LP_NATIVE_VECTOR_WIDTH --allow-run=grep --allow-write=.cache \
  demo/linear_probe.ts "$model" "$data" "$out"
/usr/bin/python3 demo/linear_probe.py "$out"
