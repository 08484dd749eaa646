#!/usr/bin/env bash
# Measures docs/performance.md's LoRA-against-full-fine-tuning table: the default `deno task
# train` (bundled model, generated beans-like data, blog arguments) fine-tuning every weight,
# against LoRA as PEFT's ViT example sets it up (r 16, alpha 16, dropout 0.1, query and value,
# classifier saved), at the blog's lr 2e-4 and at the example's 5e-3, and at 5e-3 for as many
# steps as fit in the full run's train_runtime (same wall-time budget). Runs one after another
# (timings mean nothing in parallel); prints one line per run and writes a JSON summary to
# .cache/lora_vs_full.json (the runs' folders and logs are under .cache/lora_vs_full/).
#   [SEEDS="1 2 3"] [MODES="full lora lora-5e-3 lora-5e-3-budget"] [REUSE=1] \
#     deno task lora-vs-full
# REUSE=1 keeps a run whose folder already has eval_results.json instead of running it again.
# lora-5e-3-budget needs the same seed's full and lora-5e-3 runs before it (MODES' order).
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${SEEDS:-1 2 3}"
modes="${MODES:-full lora lora-5e-3 lora-5e-3-budget}"
export NO_COLOR=1
runs=.cache/lora_vs_full
mkdir -p "$runs"
summary=.cache/lora_vs_full.json
lora=(--peft lora --lora-r 16 --lora-alpha 16 --lora-dropout 0.1
  --lora-target-modules query,value --modules-to-save classifier)
field() { # field FILE KEY: a number from a JSON file
  python3 -c "import json,sys;print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"
}
echo '{"runs":[' > "$summary"
first=1
for seed in $seeds; do
  for mode in $modes; do
    out="$runs/$mode-$seed"
    if [ "${REUSE:-0}" = 1 ] && [ -f "$out/eval_results.json" ]; then
      wall=null # kept from an earlier run (REUSE=1): its wall time is not known here
    else
      rm -rf "$out"
      args=(--seed "$seed" --output-dir "$out")
      case "$mode" in
        full) ;;
        lora) args+=("${lora[@]}") ;;
        lora-5e-3) args+=("${lora[@]}" --learning-rate 5e-3) ;;
        lora-5e-3-budget)
          # LoRA steps cost less: as many as fit in the full run's train_runtime, at LoRA's
          # measured seconds per step (the same periodic evaluations and saves included).
          full_s=$(field "$runs/full-$seed/train_results.json" train_runtime)
          lora_s=$(field "$runs/lora-5e-3-$seed/train_results.json" train_runtime)
          lora_steps=$(field "$runs/lora-5e-3-$seed/trainer_state.json" global_step)
          steps=$(python3 -c "print(int($lora_steps * $full_s / $lora_s))")
          args+=("${lora[@]}" --learning-rate 5e-3 --max-steps "$steps")
          ;;
        *) echo "unknown mode $mode" >&2; exit 2 ;;
      esac
      start=$(date +%s.%N)
      deno task train "${args[@]}" > "$out.log" 2>&1
      end=$(date +%s.%N)
      wall=$(python3 -c "print(round($end-$start,1))")
    fi
    acc=$(field "$out/eval_results.json" eval_accuracy)
    runtime=$(field "$out/train_results.json" train_runtime)
    steps=$(field "$out/trainer_state.json" global_step)
    trainable=$(grep -m1 '^trainable params' "$out.log" | sed 's/.*trainable%: //')
    echo "$mode seed $seed: eval_accuracy $acc, $steps steps, train_runtime ${runtime}s," \
      "wall ${wall} s, trainable ${trainable}%"
    [ $first = 1 ] || echo ',' >> "$summary"
    first=0
    echo "{\"mode\":\"$mode\",\"seed\":$seed,\"eval_accuracy\":$acc,\"steps\":$steps," \
      "\"train_runtime\":$runtime,\"wall_s\":$wall,\"trainable_pct\":$trainable}" >> "$summary"
  done
done
echo ']}' >> "$summary"
