#!/usr/bin/env python3
"""Times the same ViT train steps as `deno task bench` in PyTorch on the CPU (2 threads).

Uses Debian's python3-torch and the HF-structured ViT of tests/fixtures/gen_vit.py.
Prints one JSON object: {"torch": version, "threads": n, "train_step": [{name, batch_size,
step_ms, images_per_s}], "matmul": [{m, k, n, gflops}]}.

    /usr/bin/python3 bench/torch_step.py [--quick]
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
from gen_vit import ViTForImageClassification, config  # noqa: E402

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
quick = "--quick" in sys.argv

CONFIGS = [
    ("demo", dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, intermediate_size=256,
                  image_size=64, patch_size=8), 16),
    ("vit-tiny-16-224", dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
                             intermediate_size=768), 16),
    ("vit-base-16-224", {}, 2),
]


def step_ms(c, batch, reps):
    model = ViTForImageClassification(config(**c))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 3, c.get("image_size", 224), c.get("image_size", 224))
    y = torch.randint(0, 3, (batch,))
    best = float("inf")
    for r in range(reps + 1):
        t0 = time.perf_counter()
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        dt = time.perf_counter() - t0
        if r > 0:
            best = min(best, dt)
    return best * 1000


out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "train_step": [], "matmul": []}
for name, c, batch in CONFIGS:
    if quick and name == "vit-base-16-224":
        continue
    ms = step_ms(c, batch, 2 if name == "vit-base-16-224" else 3)
    out["train_step"].append({"name": name, "batch_size": batch, "step_ms": ms, "images_per_s": batch / ms * 1000})
for k, n in [(768, 768), (768, 3072), (3072, 768)]:
    a = torch.randn(3152, k)
    w = torch.randn(n, k)
    a @ w.t()
    t0 = time.perf_counter()
    for _ in range(3):
        a @ w.t()
    dt = (time.perf_counter() - t0) / 3
    out["matmul"].append({"m": 3152, "k": k, "n": n, "gflops": 2 * 3152 * k * n / dt / 1e9})
print(json.dumps(out))
