#!/usr/bin/env bash
# Measures the README's table: the default fine-tune of the bundled pretrained model against the
# same budget from random initialisation, over several seeds. Prints one line per run and writes
# a JSON summary to .cache/finetune_vs_scratch.json.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${SEEDS:-1 2 3}"
export NO_COLOR=1
mkdir -p .cache/runs
echo '{"runs":[' > .cache/finetune_vs_scratch.json
first=1
for seed in $seeds; do
  for mode in pretrained scratch; do
    out=".cache/runs/${mode}-${seed}"
    rm -rf "$out"
    extra=()
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
    [ $first = 1 ] || echo ',' >> .cache/finetune_vs_scratch.json
    first=0
    echo "{\"mode\":\"$mode\",\"seed\":$seed,\"eval_accuracy\":$acc,\"wall_s\":$wall}" >> .cache/finetune_vs_scratch.json
  done
done
echo ']}' >> .cache/finetune_vs_scratch.json
