#!/usr/bin/env bash
# Measures the README's table: the default fine-tune of the bundled pretrained model against the
# same budget from random initialisation, over several seeds. Prints one line per run and writes
# a JSON summary to .cache/finetune_vs_scratch.json.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${SEEDS:-1 2 3}"
modes="${MODES:-pretrained scratch}"
model_dir="${MODEL_DIR:-}"   # another pretrained folder to compare (default: the bundled one)
export NO_COLOR=1
mkdir -p .cache/runs
summary=".cache/finetune_vs_scratch${MODEL_DIR:+-$(basename "$MODEL_DIR")}.json"
echo '{"runs":[' > "$summary"
first=1
for seed in $seeds; do
  for mode in $modes; do
    out=".cache/runs/${mode}-${seed}"
    rm -rf "$out"
    extra=()
    if [ "$mode" = pretrained ] && [ -n "$model_dir" ]; then extra=(--model "$model_dir"); fi
    if [ "$mode" = scratch ]; then
      printf '%s' '{"hidden_size":128,"num_hidden_layers":4,"num_attention_heads":4,"intermediate_size":256,"image_size":64,"patch_size":8}' > .cache/demo_config.json
      extra=(--config .cache/demo_config.json)
    fi
    start=$(date +%s.%N)
    deno task train --seed "$seed" --output-dir "$out" "${extra[@]}" > "$out.log" 2>&1
    end=$(date +%s.%N)
    acc=$(python3 -c "import json;print(json.load(open('$out/eval_results.json'))['eval_accuracy'])")
    wall=$(python3 -c "print(round($end-$start,1))")
    echo "$mode seed $seed: eval_accuracy $acc, wall ${wall}s"
    [ $first = 1 ] || echo ',' >> "$summary"
    first=0
    echo "{\"mode\":\"$mode\",\"seed\":$seed,\"eval_accuracy\":$acc,\"wall_s\":$wall}" >> "$summary"
  done
done
echo ']}' >> "$summary"
