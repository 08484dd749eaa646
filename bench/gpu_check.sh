#!/usr/bin/env bash
# The whole check on a lent GPU machine, in one call (device time is short):
#   here:   bash ../shared/device/prepare.sh
#   device: carry [".device"], command: bash .device/on-device.sh bash bench/gpu_check.sh [quick]
# 1. the matmul and op tests on the GPU adapter (its kernels differ from the CPU ones);
# 2. `bench --compare`: every matmul variant, the train steps, and PyTorch's same steps on CUDA;
# 3. the default `deno task train`, timed;
# 4. the whole test suite.
# Logs and the bench JSON go to $OUT. With "quick", step 2 times only the default variants and
# steps 1 and 4 are skipped; with "nosuite", step 4 is skipped.
set -u
export NO_COLOR=1
out=${OUT:-.cache/gpu_check}
mkdir -p "$out" .cache
mode=${1:-full}
perms="--allow-read=. --allow-write=.cache/test --allow-run --allow-sys=hostname"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader \
  >"$out/gpu.txt" 2>&1 || true
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())' \
  >>"$out/gpu.txt" 2>&1 || true
cat "$out/gpu.txt"
if [ "$mode" != quick ]; then
  echo "== matmul and op tests on this adapter"
  timeout 150 deno test $perms tensor/ops_test.ts tensor/fp16_test.ts tests/trainer_test.ts \
    >"$out/ops_test.log" 2>&1
  echo "exit $?"; grep -E "^(ok|FAILED)|FAILED|passed" "$out/ops_test.log" | tail -5
fi
echo "== bench"
bench_flags="--compare --python python3 --out $out/bench.json"
[ "$mode" = quick ] && bench_flags="$bench_flags --quick"
timeout 300 deno run -A bench/bench.ts $bench_flags 2>&1 | tee "$out/bench.txt"
echo "== default train"
start=$(date +%s%N)
timeout 150 deno task train >"$out/train.log" 2>&1
echo "exit $?, $((($(date +%s%N) - start) / 1000000)) ms"; tail -n 4 "$out/train.log"
if [ "$mode" = full ]; then
  echo "== whole test suite"
  timeout 200 deno test $perms >"$out/test.log" 2>&1
  echo "exit $?"; grep -E "^(ok|FAILED) \||^ERRORS|=>" "$out/test.log" | tail -15
fi
