# The PyTorch reference of bench/scale.ts: the same meta-iteration at n coordinates.
# Copied from the project's PyTorch reference benchmark (../shared/ref/torch_l2l_bench.py),
# its model and meta-loss unchanged, with one addition: --n N runs the quadratic task with
# N / 10 independent 10-d quadratics (Q's task with more instances, the task bench/scale.ts
# uses), and an allocation failure is reported as a JSON line with the peak RSS reached.
# Cap its memory so that running out is an error and not the machine's OOM killer:
#   (ulimit -v 12000000; OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_scale.py --n 1000000 --threads 2 --iters 1 --warmup 1)
#
# Reference: the same L2L meta-training work in PyTorch (CPU), for side-by-side timing and
# for gradient fixtures. Not part of the project; run it beside the project's own benchmark.
#
# Set-up on a Debian machine (once):
#   apt-get install -y python3-torch libopenblas0-pthread
# Debian's python3-torch otherwise runs on the slow reference BLAS. Use Debian's python
# explicitly and keep only one thread pool on the two cores:
#   OPENBLAS_NUM_THREADS=1 /usr/bin/python3 torch_l2l_bench.py --task W --threads 2
#
# Work W: MLP 784-20-10 (sigmoid, softmax cross-entropy), batch 128, 15,910 coordinates.
# Work Q: 128 independent 10-d quadratics ||W theta - y||^2 (1,280 coordinates).
# One meta-iteration = 20 optimizee steps (loss + detached gradient, LogAndSign p=10,
# 2-layer coordinatewise LSTM with 20 units, theta += 0.1 * output), meta-loss = sum of the
# 20 losses, backpropagation to the LSTM weights, one Adam step.
# Prints one JSON line: median seconds per meta-iteration, iterations/s, peak RSS.
#
# --check FILE --out FILE: reads a JSON case (phi, shapes, data, theta0, T) and writes the
# meta-loss and the meta-gradient, to compare an implementation's gradient against.
import torch, time, json, sys, math, argparse, resource
import torch.nn.functional as F
ap = argparse.ArgumentParser()
ap.add_argument('--task', default='W'); ap.add_argument('--iters', type=int, default=6)
ap.add_argument('--warmup', type=int, default=2); ap.add_argument('--threads', type=int, default=2)
ap.add_argument('--check', default=None); ap.add_argument('--out', default=None)
ap.add_argument('--nodetach', action='store_true'); ap.add_argument('--T', type=int, default=20)
ap.add_argument('--n', type=int, default=0)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
H = 20; P = 10.0

class MLP:
    def __init__(s, din, dh, dout, B, X=None, labels=None):
        s.din, s.dh, s.dout, s.B = din, dh, dout, B
        s.n = din*dh + dh + dh*dout + dout
        s.X = torch.rand(B, din) if X is None else X
        s.labels = torch.randint(0, dout, (B,)) if labels is None else labels
    def loss(s, th):
        din, dh, dout = s.din, s.dh, s.dout; o = 0
        W1 = th[o:o+din*dh].view(din, dh); o += din*dh
        b1 = th[o:o+dh]; o += dh
        W2 = th[o:o+dh*dout].view(dh, dout); o += dh*dout
        b2 = th[o:o+dout]
        h = torch.sigmoid(torch.addmm(b1, s.X, W1))
        return F.cross_entropy(torch.addmm(b2, h, W2), s.labels)
    def theta0(s): return torch.randn(s.n) * 0.1

class Quad:
    def __init__(s, d, B, W=None, y=None):
        s.d, s.B, s.n = d, B, d*B
        s.W = torch.randn(B, d, d) if W is None else W
        s.y = torch.randn(B, d) if y is None else y
    def loss(s, th):
        r = torch.bmm(s.W, th.view(s.B, s.d, 1)).squeeze(-1) - s.y
        return (r*r).sum()
    def theta0(s): return torch.randn(s.n)

def init_phi():
    u = lambda *sh: (torch.rand(*sh)*0.2 - 0.1)
    return [u(2+H, 4*H), torch.zeros(4*H), u(2*H, 4*H), torch.zeros(4*H), u(H, 1), torch.zeros(1)]

def preprocess(g):
    a = g.abs(); big = a >= math.exp(-P)
    x1 = torch.where(big, torch.log(a.clamp_min(1e-38))/P, torch.full_like(g, -1.0))
    x2 = torch.where(big, torch.sign(g), g*math.exp(P))
    return torch.stack([x1, x2], 1)

def meta_loss(phi, ee, th0, T, detach=True):
    W1, b1, W2, b2, Wo, bo = phi
    N = th0.numel()
    h1 = c1 = h2 = c2 = torch.zeros(N, H)
    th = th0.clone().requires_grad_(True)
    L = 0.0
    for t in range(T):
        loss = ee.loss(th)
        g, = torch.autograd.grad(loss, th, retain_graph=True, create_graph=not detach)
        if detach: g = g.detach()
        L = L + loss
        x = preprocess(g)
        gt = torch.addmm(b1, torch.cat([x, h1], 1), W1)
        i, f, gg, o = gt.chunk(4, 1)
        c1 = torch.sigmoid(f)*c1 + torch.sigmoid(i)*torch.tanh(gg)
        h1 = torch.sigmoid(o)*torch.tanh(c1)
        gt = torch.addmm(b2, torch.cat([h1, h2], 1), W2)
        i, f, gg, o = gt.chunk(4, 1)
        c2 = torch.sigmoid(f)*c2 + torch.sigmoid(i)*torch.tanh(gg)
        h2 = torch.sigmoid(o)*torch.tanh(c2)
        u = torch.addmm(bo, h2, Wo).squeeze(1) * 0.1
        th = th + u
    return L

if args.check:
    d = json.load(open(args.check))
    phi = [torch.tensor(d['phi'][k], dtype=torch.float32).view(*d['phishapes'][k]).requires_grad_(True) for k in range(6)]
    if d['task'] == 'W':
        m = d['dims']; ee = MLP(m['din'], m['dh'], m['dout'], m['B'], torch.tensor(d['X']).view(m['B'], m['din']), torch.tensor(d['labels']))
    else:
        m = d['dims']; ee = Quad(m['d'], m['B'], torch.tensor(d['W']).view(m['B'], m['d'], m['d']), torch.tensor(d['y']).view(m['B'], m['d']))
    L = meta_loss(phi, ee, torch.tensor(d['theta0']), d['T'], detach=not args.nodetach)
    gr = torch.autograd.grad(L, phi)
    out = {'L': float(L), 'grad': torch.cat([x.reshape(-1) for x in gr]).tolist()}
    json.dump(out, open(args.out, 'w')); print('L', float(L)); sys.exit(0)

ee = Quad(10, max(1, round(args.n / 10))) if args.n > 0 else MLP(784, 20, 10, 128) if args.task == 'W' else Quad(10, 128)
phi = [p.requires_grad_(True) for p in init_phi()]
opt = torch.optim.Adam(phi, lr=1e-3)
times = []
try:
    for it in range(args.warmup + args.iters):
        t0 = time.perf_counter()
        L = meta_loss(phi, ee, ee.theta0(), args.T)
        opt.zero_grad(); L.backward(); opt.step()
        dt = time.perf_counter() - t0
        if it >= args.warmup: times.append(dt)
except (RuntimeError, MemoryError) as e:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024
    print(json.dumps({'cand': 'torch', 'task': 'Q-scale' if args.n > 0 else args.task, 'n': ee.n, 'threads': args.threads, 'error': str(e).splitlines()[0][:200], 'peak_rss_MB': round(rss)}))
    sys.exit(1)
times.sort(); med = times[len(times)//2]
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024
print(json.dumps({'cand': 'torch', 'task': 'Q-scale' if args.n > 0 else args.task, 'n': ee.n, 'us_per_coord': med / ee.n * 1e6, 'threads': args.threads, 'median_s': med, 'it_per_s': 1/med, 'times': [round(x, 4) for x in times], 'peak_rss_MB': round(rss), 'L': float(L)}))
