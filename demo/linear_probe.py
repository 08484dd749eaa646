"""Logistic regression on features written by demo/linear_probe.ts: standardised features, an
L2 penalty of 1e-4 on the weights, LBFGS to convergence on the train split; prints the accuracy
on the train and validation splits; when the features have a test split, also on it, and a
5-fold cross-validated accuracy over the three splits pooled. Needs Debian's python3-torch.

usage: /usr/bin/python3 demo/linear_probe.py OUT_PREFIX
"""
import json
import os
import sys

import numpy as np
import torch

prefix = sys.argv[1]


def load(split):
    y = torch.tensor(json.load(open(f"{prefix}.{split}.labels.json")))
    x = torch.tensor(np.fromfile(f"{prefix}.{split}.f32", dtype=np.float32).reshape(len(y), -1))
    return x, y


def fit(xt, yt):
    """Standardisation and a logistic-regression head fitted on (xt, yt)."""
    torch.manual_seed(0)
    mu, sd = xt.mean(0), xt.std(0) + 1e-6
    head = torch.nn.Linear(xt.shape[1], int(yt.max()) + 1)
    opt = torch.optim.LBFGS(head.parameters(), max_iter=300)
    xn = (xt - mu) / sd

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(xn), yt) + 1e-4 * (head.weight**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return lambda x: head((x - mu) / sd).argmax(1)


def accuracy(predict, x, y):
    with torch.no_grad():
        return round((predict(x) == y).float().mean().item(), 4)


xt, yt = load("train")
xv, yv = load("validation")
predict = fit(xt, yt)
result = {"train_accuracy": accuracy(predict, xt, yt),
          "validation_accuracy": accuracy(predict, xv, yv)}
if os.path.exists(f"{prefix}.test.f32"):
    xs, ys = load("test")
    result["test_accuracy"] = accuracy(predict, xs, ys)
    # 5-fold cross-validation over all three splits pooled (1295 images instead of 133 scored):
    # a steadier figure for comparing pretrainings whose validation scores differ by a few images.
    x, y = torch.cat([xt, xv, xs]), torch.cat([yt, yv, ys])
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    correct = 0
    for fold in order.chunk(5):
        keep = torch.ones(len(y), dtype=torch.bool)
        keep[fold] = False
        with torch.no_grad():
            correct += (fit(x[keep], y[keep])(x[fold]) == y[fold]).sum().item()
    result["cv5_accuracy"] = round(correct / len(y), 4)
print(json.dumps(result))
