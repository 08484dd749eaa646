"""Logistic regression on features written by bench/linear_probe.ts: standardised features, an
L2 penalty of 1e-4 on the weights, LBFGS to convergence on the train split; prints the accuracy
on the train and validation splits. Needs Debian's python3-torch.

usage: /usr/bin/python3 bench/linear_probe.py OUT_PREFIX
"""
import json
import sys

import numpy as np
import torch

prefix = sys.argv[1]


def load(split):
    y = torch.tensor(json.load(open(f"{prefix}.{split}.labels.json")))
    x = torch.tensor(np.fromfile(f"{prefix}.{split}.f32", dtype=np.float32).reshape(len(y), -1))
    return x, y


torch.manual_seed(0)
xt, yt = load("train")
xv, yv = load("validation")
mu, sd = xt.mean(0), xt.std(0) + 1e-6
xt, xv = (xt - mu) / sd, (xv - mu) / sd
head = torch.nn.Linear(xt.shape[1], int(yt.max()) + 1)
opt = torch.optim.LBFGS(head.parameters(), max_iter=300)


def closure():
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(head(xt), yt) + 1e-4 * (head.weight**2).sum()
    loss.backward()
    return loss


opt.step(closure)
with torch.no_grad():
    train = (head(xt).argmax(1) == yt).float().mean().item()
    val = (head(xv).argmax(1) == yv).float().mean().item()
print(json.dumps({"train_accuracy": round(train, 4), "validation_accuracy": round(val, 4)}))
