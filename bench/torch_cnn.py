"""Benchmark (not a test): the default `cnn` task's training step in PyTorch, the peer of
bench/cnn_step.ts. Same network: conv 1->8 and 8->8 (3x3, padding 1, no bias), each then
BatchNorm2d in training mode, ReLU and 2x2 max pooling; then Linear(392, 32), ReLU,
Linear(32, 10), mean cross-entropy; batch 128 of MNIST-sized images (1 x 28 x 28, uniform in
[0, 1), 80% of pixels zero like MNIST's). One step = forward, backward (gradients set to None
first), float32 on the CPU.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_cnn.py --threads 2 [--steps 100] [--rounds 5]

Prints the median step in ms over rounds (each round's median, then the median of those),
after 10 warm-up steps.
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--steps", type=int, default=100)
p.add_argument("--rounds", type=int, default=5)
p.add_argument("--json", action="store_true")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

net = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(392, 32), nn.ReLU(), nn.Linear(32, 10),
)
net.train()
params = sum(q.numel() for q in net.parameters())
x = torch.rand(128, 1, 28, 28) * (torch.rand(128, 1, 28, 28) > 0.8)
y = torch.randint(0, 10, (128,))
loss_fn = nn.CrossEntropyLoss()


def step():
    for q in net.parameters():
        q.grad = None
    loss = loss_fn(net(x), y)
    loss.backward()
    return loss.item()


for _ in range(10):
    step()
per_round = []
for _ in range(a.rounds):
    t = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        t.append((time.perf_counter() - t0) * 1000)
    per_round.append(statistics.median(t))
ms = statistics.median(per_round)
if a.json:
    print(json.dumps({"torch": torch.__version__, "threads": a.threads, "params": params, "ms": ms, "perRound": per_round}))
else:
    print(f"torch {torch.__version__} cnn step ({a.threads} threads, {params} weights, batch 128): median {ms:.2f} ms (rounds: {', '.join(f'{v:.2f}' for v in per_round)})")
