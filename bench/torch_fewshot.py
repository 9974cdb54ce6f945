# Benchmark (not a test): the PyTorch twin of bench/fewshot_step.ts: one MAML meta-iteration
# (second order: create_graph=True through the inner steps), the same networks and sizes, then
# Adam. Episodes are random tensors of the same shapes (data loading is not timed in either).
#
#   OPENBLAS_NUM_THREADS=1 python3 bench/torch_fewshot.py [--setting sinusoid|glyphs] [--filters 16] [--iters 20] [--rounds 3] [--json]
import argparse, json, math, statistics, time
import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--setting", default="sinusoid")
p.add_argument("--iters", type=int, default=20)
p.add_argument("--rounds", type=int, default=3)
p.add_argument("--filters", type=int, default=16)
p.add_argument("--json", action="store_true")
a = p.parse_args()
torch.set_num_threads(1)
torch.manual_seed(0)
sin = a.setting == "sinusoid"

def uniform(*shape, fan_in):
    b = 1 / math.sqrt(fan_in)
    return (torch.rand(*shape) * 2 * b - b).requires_grad_()

if sin:
    dims = [1, 40, 40, 1]
    params = []
    for i in range(3):
        params += [uniform(dims[i], dims[i + 1], fan_in=dims[i]), torch.zeros(dims[i + 1], requires_grad=True)]
    def forward(p, x):
        h = x
        for i in range(3):
            h = h @ p[2 * i] + p[2 * i + 1]
            if i < 2: h = F.relu(h)
        return h
    loss_fn = lambda out, y: ((out - y) ** 2).mean()
    B, steps, lr = 25, 1, 0.01
    def episode():
        amp = torch.rand(1) * 4.9 + 0.1; ph = torch.rand(1) * math.pi
        xs = torch.rand(5, 1) * 10 - 5; xq = torch.rand(5, 1) * 10 - 5
        return xs, amp * torch.sin(xs - ph), xq, amp * torch.sin(xq - ph)
else:
    k, blocks, ways = a.filters, 3, 5
    params = []
    bn = []
    c = 1
    for b in range(blocks):
        params.append(uniform(k, c, 3, 3, fan_in=c * 9)); c = k
        bn += [torch.ones(k, requires_grad=True), torch.zeros(k, requires_grad=True)]
    params += [uniform(k, ways, fan_in=k), torch.zeros(ways, requires_grad=True)]
    def forward(p, x):
        h = x
        for b in range(blocks):
            h = F.conv2d(h, p[b], padding=1)
            h = F.batch_norm(h, None, None, bn[2 * b], bn[2 * b + 1], training=True, eps=1e-5)
            h = F.max_pool2d(F.relu(h), 2)
        return h.flatten(1) @ p[blocks] + p[blocks + 1]
    loss_fn = lambda out, y: F.cross_entropy(out, y)
    B, steps, lr = 4, 2, 0.4
    def episode():
        return torch.rand(5, 1, 14, 14), torch.arange(5), torch.rand(25, 1, 14, 14), torch.arange(5).repeat_interleave(5)

meta = params + (bn if not sin else [])
opt = torch.optim.Adam(meta, lr=0.001)

def iteration():
    eps = [episode() for _ in range(B)]
    opt.zero_grad()
    total = 0
    for xs, ys, xq, yq in eps:
        fast = params
        for _ in range(steps):
            g = torch.autograd.grad(loss_fn(forward(fast, xs), ys), fast, create_graph=True)
            fast = [w - lr * gw for w, gw in zip(fast, g)]
        total = total + loss_fn(forward(fast, xq), yq)
    (total / B).backward()
    opt.step()

for _ in range(3): iteration()
meds = []
for _ in range(a.rounds):
    ts = []
    for _ in range(a.iters):
        t0 = time.perf_counter(); iteration(); ts.append((time.perf_counter() - t0) * 1000)
    meds.append(statistics.median(ts))
out = {"engine": f"PyTorch {torch.__version__} CPU, 1 thread", "setting": a.setting, "method": "maml", **({} if sin else {"filters": a.filters}), "metaBatch": B, "ms": statistics.median(meds), "rounds": meds}
print(json.dumps(out) if a.json else f"torch fewshot {a.setting} maml: {out['ms']:.1f} ms per meta-iteration (median of {a.rounds} rounds of {a.iters})")
