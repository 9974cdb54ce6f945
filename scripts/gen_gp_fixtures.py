"""Generates test/fixtures/blackbox_gp.json once: scikit-learn's GaussianProcessRegressor
(ConstantKernel * Matern(nu=2.5, ARD length scales) + WhiteKernel, optimizer=None, so the
hyperparameters stay as given) on random data, with its posterior mean and standard deviation
at query points, the log marginal likelihood and its gradient in the log hyperparameters.
test/blackbox_gp.test.ts checks src/blackbox/gp.ts against it; tests never run Python.

Run: /usr/bin/python3 scripts/gen_gp_fixtures.py  (scikit-learn 1.2, numpy)
"""
import json
import os

import numpy as np
import sklearn
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

rng = np.random.default_rng(20170)
cases = []
for d, n, m in [(1, 6, 5), (2, 12, 6), (3, 20, 6), (6, 15, 6)]:
    x = rng.uniform(size=(n, d))
    y = np.sin(3 * x).sum(axis=1) + 0.1 * rng.normal(size=n)
    ls = rng.uniform(0.15, 1.5, size=d)
    s2 = float(rng.uniform(0.5, 2.0))
    noise = float(10 ** rng.uniform(-4, -1))
    kernel = ConstantKernel(s2, "fixed") * Matern(length_scale=ls, nu=2.5, length_scale_bounds="fixed") + WhiteKernel(noise, "fixed")
    # alpha=0: the noise is the WhiteKernel's alone, as in gp.ts.
    gpr = GaussianProcessRegressor(kernel=kernel, alpha=0.0, optimizer=None, normalize_y=False).fit(x, y)
    q = rng.uniform(size=(m, d))
    mean, std = gpr.predict(q, return_std=True)
    # The gradient needs free hyperparameters: the same kernel with bounds, at the same values.
    free = ConstantKernel(s2) * Matern(length_scale=ls, nu=2.5) + WhiteKernel(noise)
    gfree = GaussianProcessRegressor(kernel=free, alpha=0.0, optimizer=None).fit(x, y)
    lml, grad = gfree.log_marginal_likelihood(gfree.kernel_.theta, eval_gradient=True)
    # sklearn's theta order: [log s2, log l_1..l_d, log noise]
    cases.append({
        "d": d, "n": n,
        "x": x.ravel().tolist(), "y": y.tolist(),
        "lengthScales": ls.tolist(), "signalVariance": s2, "noiseVariance": noise,
        "queries": q.ravel().tolist(),
        "mean": mean.tolist(),
        # sklearn's std includes the WhiteKernel's noise at the query points.
        "stdWithNoise": std.tolist(),
        "logMarginalLikelihood": float(gpr.log_marginal_likelihood_value_),
        "lmlCheck": float(lml),
        "gradLogSignal": float(grad[0]), "gradLogLengthScales": grad[1:1 + d].tolist(), "gradLogNoise": float(grad[1 + d]),
    })

out = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "blackbox_gp.json")
with open(out, "w") as fh:
    json.dump({"generator": "scripts/gen_gp_fixtures.py", "sklearn": sklearn.__version__, "cases": cases}, fh, indent=1)
    fh.write("\n")
print("wrote", out, len(cases), "cases")
