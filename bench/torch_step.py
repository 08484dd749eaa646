#!/usr/bin/env python3
"""Times the same ViT train steps as `deno task bench` in PyTorch, on the CPU (2 threads) or a GPU.

Uses Debian's python3-torch (or any torch) and the HF-structured ViT of tests/fixtures/gen_vit.py.
Prints one JSON object: {"torch": version, "device": name, "threads": n, "blas": {library,
version, kernel, source, unset_env}, "train_step": [{name, batch_size, precision, step_ms,
images_per_s}], "matmul": [{m, k, n, gflops}]}.

    /usr/bin/python3 bench/torch_step.py [--quick] [--device cpu|cuda] [--keep-blas-env]

PyTorch runs as a user's would: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which some machines set
for old OpenBLAS builds (they force the Haswell/AVX2 kernels), are removed before torch loads
OpenBLAS, unless --keep-blas-env is given. "blas" says which kernels OpenBLAS picked
(threadpoolctl's threadpool_info() when installed, Debian's python3-threadpoolctl).

On "cuda" ViT-B runs at batch 16 (as Tessera's bench does on a GPU adapter), fp32 keeps PyTorch's
default full-precision matmuls (no TF32, like Tessera's f32 kernels), and an fp16 autocast row
is added for reference, since the blog trains with fp16.
"""
import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

# Read by OpenBLAS once, when torch loads it: they must go before the import.
BLAS_OVERRIDES = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]
UNSET = []
if "--keep-blas-env" not in sys.argv:
    UNSET = [k for k in BLAS_OVERRIDES if os.environ.pop(k, None) is not None]

# A BLAS library to load before torch (its soname then serves torch's libblas.so.3): how a
# machine without OpenBLAS installed runs PyTorch on OpenBLAS for this process alone.
if os.environ.get("TORCH_BLAS_PRELOAD"):
    import ctypes
    ctypes.CDLL(os.environ["TORCH_BLAS_PRELOAD"], mode=ctypes.RTLD_GLOBAL)

import torch  # noqa: E402

T_IMPORT = time.perf_counter()

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
from gen_vit import ViTForImageClassification, config  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--quick", action="store_true")
parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
parser.add_argument("--keep-blas-env", action="store_true",
                    help="keep OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE as the environment sets them")
parser.add_argument("--e2e", help="time a whole fine-tuning run (bench/torch_e2e.py); the JSON "
                    "of its options: data, model, out, batch, eval_batch, epochs, max_steps, lr, "
                    "eval_steps, save_steps, logging_steps, save_total_limit, seed")
args = parser.parse_args()
if args.e2e:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_e2e import run  # noqa: E402
    result = run({**json.loads(args.e2e), "t0": T0, "t_import": T_IMPORT})
    print(json.dumps({**result, "blas_unset_env": UNSET}))
    sys.exit(0)
device = torch.device(args.device)
gpu = device.type == "cuda"
if not gpu:
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

CONFIGS = [
    ("demo", dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, intermediate_size=256,
                  image_size=64, patch_size=8), 16),
    ("vit-tiny-16-224", dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
                             intermediate_size=768), 16),
    ("vit-base-16-224", {}, 16 if gpu else 2),
]


def blas_info():
    """The BLAS torch loaded and the kernels it runs: threadpoolctl's report where installed, else
    OpenBLAS's own openblas_get_corename(), else the BLAS line of torch's build configuration."""
    info = {"unset_env": UNSET}
    try:
        from threadpoolctl import threadpool_info
        for lib in threadpool_info():
            if lib.get("user_api") == "blas":
                return {**info, "library": lib.get("internal_api"), "version": lib.get("version"),
                        "kernel": lib.get("architecture"), "threads": lib.get("num_threads"),
                        "source": "threadpoolctl"}
    except ImportError:
        pass
    try:
        import ctypes
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "libopenblas" in line})
        for path in paths:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            return {**info, "library": "openblas", "version": lib.openblas_get_config().decode(),
                    "kernel": lib.openblas_get_corename().decode(), "source": "openblas_get_corename"}
    except (OSError, AttributeError):
        pass
    line = next((l.strip() for l in torch.__config__.show().splitlines() if "BLAS_INFO" in l), "")
    return {**info, "library": line or "unknown", "version": None, "kernel": None,
            "source": "torch.__config__.show()"}


def sync():
    if gpu:
        torch.cuda.synchronize()


def step_ms(c, batch, reps, half=False):
    torch.manual_seed(0)
    model = ViTForImageClassification(config(**c)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cuda") if half else None
    x = torch.randn(batch, 3, c.get("image_size", 224), c.get("image_size", 224), device=device)
    y = torch.randint(0, 3, (batch,), device=device)
    best = float("inf")
    for r in range(reps + 1):
        sync()
        t0 = time.perf_counter()
        if half:
            with torch.autocast(device.type, dtype=torch.float16):
                _, loss = model(x, y)
        else:
            _, loss = model(x, y)
        if half:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
        else:
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if half:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        opt.zero_grad()
        loss.item()  # Tessera's bench reads the loss back once per step too
        dt = time.perf_counter() - t0
        if r > 0:
            best = min(best, dt)
    return best * 1000


out = {
    "torch": torch.__version__,
    "device": torch.cuda.get_device_name() if gpu else "cpu",
    "threads": torch.get_num_threads(),
    "blas": blas_info(),
    "train_step": [],
    "matmul": [],
}
for name, c, batch in CONFIGS:
    if args.quick and name == "vit-base-16-224":
        continue
    for half in [False, True] if gpu else [False]:
        reps = 10 if gpu else 2 if name == "vit-base-16-224" else 3
        ms = step_ms(c, batch, reps, half)
        out["train_step"].append({"name": name, "batch_size": batch, "precision": "fp16" if half else "fp32",
                                  "step_ms": ms, "images_per_s": batch / ms * 1000})
for k, n in [(768, 768), (768, 3072), (3072, 768)]:
    a = torch.randn(3152, k, device=device)
    w = torch.randn(n, k, device=device)
    a @ w.t()
    reps = 50 if gpu else 3
    sync()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ w.t()
    sync()
    dt = (time.perf_counter() - t0) / reps
    out["matmul"].append({"m": 3152, "k": k, "n": n, "gflops": 2 * 3152 * k * n / dt / 1e9})
print(json.dumps(out))
