"""A whole fine-tuning run in plain PyTorch, timed by phase: `bench/torch_step.py --e2e` runs it.

The same recipe as Tessera's `deno task bench --e2e`: the bundled model's weights (read from its
model.safetensors with numpy, as Debian has no safetensors package) in the HF-structured ViT of
tests/fixtures/gen_vit.py with a new head, the same ImageFolder images decoded with PIL and resized
bilinearly to the processor's size, normalised with its mean and std, batch 16, AdamW with linear
decay, gradient clipping at 1.0, evaluation and checkpoints at the same steps, the best checkpoint
loaded at the end, and a final evaluation. fp32 throughout (CPU autocast is bf16 only). torch 1.13
has no TensorBoard or plotting without extra packages: those phases are left at 0 and said so.
Prints one JSON object: {"phases": [{phase, ms, count}], "total_ms", "eval_accuracy", ...}.
"""
import json
import math
import os
import struct
import sys
import time

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures"))
from gen_vit import ViTForImageClassification, config  # noqa: E402

EXTS = (".jpg", ".jpeg", ".png")


class Phases:
    def __init__(self):
        self.totals = {}

    def add(self, name, seconds):
        t = self.totals.setdefault(name, [0.0, 0])
        t[0] += seconds * 1000
        t[1] += 1

    def span(self, name):
        phases = self

        class _Span:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                phases.add(name, time.perf_counter() - self.t0)

        return _Span()


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F16": np.float16, "F32": np.float32, "BF16": None}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.astype(np.float32))
    return out


def image_folder(root, split):
    base = os.path.join(root, split)
    if not os.path.isdir(base):
        return None
    classes = sorted(d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d)))
    rows = []
    for i, c in enumerate(classes):
        for f in sorted(os.listdir(os.path.join(base, c))):
            if f.lower().endswith(EXTS):
                rows.append((os.path.join(base, c, f), i))
    return classes, rows


def load_batch(rows, size, mean, std):
    xs = []
    for path, _ in rows:
        im = Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR)
        xs.append(np.asarray(im, dtype=np.float32))
    x = np.stack(xs) / 255.0
    x = (x - mean) / std
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def run(opts):
    """opts: data, model, out, batch, eval_batch, epochs, max_steps, lr, eval_steps, save_steps,
    logging_steps, save_total_limit, seed; t0 (perf_counter at process start) and t_import (after
    torch's import)."""
    phases = Phases()
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
    with phases.span("start-up: load model"):
        cfg_json = json.load(open(os.path.join(opts["model"], "config.json")))
        pre = json.load(open(os.path.join(opts["model"], "preprocessor_config.json")))
        train_classes, train_rows = image_folder(opts["data"], "train")
        split = "validation" if os.path.isdir(os.path.join(opts["data"], "validation")) else "test"
        _, eval_rows = image_folder(opts["data"], split)
        keys = ["hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                "image_size", "patch_size", "num_channels", "qkv_bias", "layer_norm_eps"]
        c = config(**{k: cfg_json[k] for k in keys if k in cfg_json}, num_labels=len(train_classes))
        torch.manual_seed(opts["seed"])
        model = ViTForImageClassification(c)
        weights = read_safetensors(os.path.join(opts["model"], "model.safetensors"))
        weights = {k: v for k, v in weights.items() if not k.startswith("classifier.")}
        missing, unexpected = model.load_state_dict(weights, strict=False)
        assert all(k.startswith("classifier.") for k in missing), missing
        assert not unexpected, unexpected
    size = pre["size"]["height"]
    mean = np.array(pre["image_mean"], dtype=np.float32)
    std = np.array(pre["image_std"], dtype=np.float32)
    batch = opts["batch"]
    per_epoch = math.ceil(len(train_rows) / batch)
    max_steps = opts["max_steps"] if opts["max_steps"] > 0 else per_epoch * opts["epochs"]
    decay = [p for n, p in model.named_parameters() if not (n.endswith(".bias") or "layernorm" in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith(".bias") or "layernorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.0},
                             {"params": no_decay, "weight_decay": 0.0}], lr=opts["lr"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, (max_steps - s) / max_steps))
    os.makedirs(opts["out"], exist_ok=True)

    def evaluate():
        model.eval()
        correct, loss_sum = 0, 0.0
        with torch.no_grad():
            for i in range(0, len(eval_rows), opts["eval_batch"]):
                rows = eval_rows[i:i + opts["eval_batch"]]
                with phases.span("decode+resize"):
                    x = load_batch(rows, size, mean, std)
                y = torch.tensor([r[1] for r in rows])
                with phases.span("evaluation"):
                    logits, loss = model(x, y)
                    loss_sum += loss.item() * len(rows)
                    correct += (logits.argmax(1) == y).sum().item()
        model.train()
        return correct / len(eval_rows), loss_sum / len(eval_rows)

    rng = np.random.default_rng(opts["seed"])
    step = 0
    best = (-1.0, None)
    kept = []
    log_loss = 0.0
    history = []
    model.train()
    while step < max_steps:
        order = rng.permutation(len(train_rows))
        for b in range(per_epoch):
            if step >= max_steps:
                break
            rows = [train_rows[i] for i in order[b * batch:(b + 1) * batch]]
            with phases.span("decode+resize"):
                x = load_batch(rows, size, mean, std)
            y = torch.tensor([r[1] for r in rows])
            with phases.span("forward"):
                _, loss = model(x, y)
            with phases.span("backward"):
                loss.backward()
            with phases.span("optimizer"):
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                opt.zero_grad()
            with phases.span("readbacks/syncs"):
                log_loss += loss.item()
            step += 1
            if step % opts["logging_steps"] == 0:
                history.append({"step": step, "loss": log_loss / opts["logging_steps"]})
                log_loss = 0.0
            acc = None
            if opts["eval_steps"] and step % opts["eval_steps"] == 0:
                acc, _ = evaluate()
            if opts["save_steps"] and step % opts["save_steps"] == 0:
                with phases.span("checkpoint writing"):
                    path = os.path.join(opts["out"], f"checkpoint-{step}.pt")
                    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                                "step": step}, path)
                    kept.append(path)
                    if acc is not None and acc > best[0]:
                        best = (acc, path)
                    while len(kept) > opts["save_total_limit"]:
                        old = next((k for k in kept if k != best[1]), None)
                        if old is None:
                            break
                        kept.remove(old)
                        os.remove(old)
    with phases.span("checkpoint writing"):
        if best[1]:
            model.load_state_dict(torch.load(best[1])["model"])
        torch.save(model.state_dict(), os.path.join(opts["out"], "model.pt"))
    accuracy, eval_loss = evaluate()
    total = (time.perf_counter() - opts["t0"]) * 1000
    phases.add("start-up: runtime init (Tessera: incl. conformance check; PyTorch: import torch)", opts["t_import"] - opts["t0"])
    named = sum(v[0] for v in phases.totals.values())
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "steps": step,
        "eval_accuracy": accuracy,
        "eval_loss": eval_loss,
        "total_ms": total,
        "phases": [{"phase": k, "ms": v[0], "count": v[1]} for k, v in phases.totals.items()],
        "unmeasured_ms": total - named,
        "missing": ["tensorboard", "plots"],
    }
