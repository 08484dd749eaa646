#!/usr/bin/env bash
# Measures the README's table: the default fine-tune of the bundled pretrained model against the
# same architecture and budget from random initialisation, over several seeds. Prints one line
# per run and writes a JSON summary to .cache/finetune_vs_scratch[-MODEL][-DATA].json.
#   [MODEL_DIR=DIR] [DATA_DIR=DIR] [SEEDS="1 2 3"] [MODES="pretrained scratch"] \
#     demo/finetune_vs_scratch.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${SEEDS:-1 2 3}"
modes="${MODES:-pretrained scratch}"
model_dir="${MODEL_DIR:-}"   # another pretrained folder to compare (default: the bundled one)
data_dir="${DATA_DIR:-}"     # another dataset (default: the generated beans-like one)
export NO_COLOR=1
mkdir -p .cache/runs
suffix="${MODEL_DIR:+-$(basename "$MODEL_DIR")}${DATA_DIR:+-$(basename "$DATA_DIR")}"
summary=".cache/finetune_vs_scratch${suffix}.json"
# From scratch means the compared model's architecture with random weights.
python3 -c "
import json, sys
c = json.load(open(sys.argv[1] + '/config.json'))
keys = ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
        'image_size', 'patch_size']
print(json.dumps({k: c[k] for k in keys}))" "${model_dir:-models/vit-tiny-contours}" \
  > .cache/demo_config.json
echo '{"runs":[' > "$summary"
first=1
for seed in $seeds; do
  for mode in $modes; do
    out=".cache/runs/${mode}-${seed}${DATA_DIR:+-$(basename "$DATA_DIR")}"
    rm -rf "$out"
    extra=()
    if [ -n "$data_dir" ]; then extra+=(--data "$data_dir"); fi
    if [ "$mode" = pretrained ] && [ -n "$model_dir" ]; then extra+=(--model "$model_dir"); fi
    if [ "$mode" = scratch ]; then extra+=(--config .cache/demo_config.json); fi
    start=$(date +%s.%N)
    deno task train --seed "$seed" --output-dir "$out" "${extra[@]}" > "$out.log" 2>&1
    end=$(date +%s.%N)
    acc=$(python3 -c \
      "import json;print(json.load(open('$out/eval_results.json'))['eval_accuracy'])")
    wall=$(python3 -c "print(round($end-$start,1))")
    echo "$mode seed $seed: eval_accuracy $acc, wall ${wall}s"
    [ $first = 1 ] || echo ',' >> "$summary"
    first=0
    echo "{\"mode\":\"$mode\",\"seed\":$seed,\"eval_accuracy\":$acc,\"wall_s\":$wall}" >> "$summary"
  done
done
echo ']}' >> "$summary"
