"""Benchmark (not a test): the `art` task's loss and gradient in PyTorch, the peer of
bench/art_step.ts. Same computation: an image 3 x S x S (uniform noise) as the parameter;
three 3x3 convolutions (padding 1, no bias) 3 -> 8 -> 16 -> 16, each followed by ReLU, with
2x2 average pooling between them; content loss = mean squared difference of layer 2's
features to a target; style loss = sum over the centred pixels and the three layers of the
mean squared difference of Gram matrices F F^T / N to targets; total variation = mean squared
differences of neighbouring pixels; weights 10, 1000, 1 and the factor S^2 / 4096. One step =
forward and backward (the image's gradient set to None first), float32 on the CPU.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_art.py [--threads 1] [--steps 50] [--rounds 5] [--sizes 64,128] [--json]

Prints the median step in ms per size over rounds (each round's median, then the median of
those), after 10 warm-up steps.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--steps", type=int, default=50)
p.add_argument("--rounds", type=int, default=5)
p.add_argument("--sizes", default="64,128")
p.add_argument("--json", action="store_true")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

chans = [3, 8, 16, 16]
ws = [torch.randn(chans[i + 1], chans[i], 3, 3) * (2 / (9 * chans[i])) ** 0.5 for i in range(3)]


def layers(x):
    feats = [x - 0.5]
    h = x.unsqueeze(0) - 0.5
    for i, w in enumerate(ws):
        h = F.relu(F.conv2d(h, w, padding=1))
        feats.append(h[0])
        if i < 2:
            h = F.avg_pool2d(h, 2)
    return feats


def gram(f):
    c = f.shape[0]
    m = f.reshape(c, -1)
    return m @ m.t() / m.shape[1]


def loss_fn(x, content_t, grams_t, size):
    feats = layers(x)
    lc = ((feats[2] - content_t) ** 2).mean()
    ls = sum(((gram(f) - g) ** 2).mean() for f, g in zip(feats, grams_t))
    tv = ((x[:, :, 1:] - x[:, :, :-1]) ** 2).sum() + ((x[:, 1:, :] - x[:, :-1, :]) ** 2).sum()
    tv = tv / (3 * size * (size - 1))
    return size * size / 4096 * (10 * lc + 1000 * ls + tv)


out = {}
for size in [int(s) for s in a.sizes.split(",")]:
    with torch.no_grad():
        ref = torch.rand(3, size, size)
        rf = layers(ref)
        content_t = rf[2].clone()
        grams_t = [gram(f) for f in layers(torch.rand(3, size, size))]
    x = torch.rand(3, size, size, requires_grad=True)

    def step():
        x.grad = None
        loss = loss_fn(x, content_t, grams_t, size)
        loss.backward()
        return loss.item()

    for _ in range(10):
        step()
    per = []
    for _ in range(a.rounds):
        times = []
        for _ in range(a.steps):
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1000)
        per.append(statistics.median(times))
    out[f"art{size}_ms"] = statistics.median(per)
if a.json:
    print(json.dumps(out))
else:
    for k, v in out.items():
        print(f"{k}: {v:.2f} ms (median of {a.rounds} rounds of {a.steps} steps, {a.threads} thread(s))")
