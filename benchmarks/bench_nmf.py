"""NMF speed and agreement against scikit-learn's multiplicative updates, in one run.

    python benchmarks/bench_nmf.py [--bins 1025] [--frames 1000] [--rank 16] [--iters 200] [--batch 8]

The same V, the same initial W and H, beta in {2, 1} (Frobenius, KL), ``n_iter`` updates with
no stopping tolerance. Records both times, the ratio, and the relative difference of the final
objectives; a batch of ``--batch`` spectrograms is timed against a loop of scikit-learn fits.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import machine_info, median_time, write_result  # noqa: E402
from sliceq22.classic import beta_divergence, nmf  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bins", type=int, default=1025)
    p.add_argument("--frames", type=int, default=1000)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    a = p.parse_args()
    import sklearn
    from sklearn.decomposition import NMF

    cuda = a.device.startswith("cuda")
    rng = np.random.default_rng(0)
    V = rng.gamma(0.5, 1.0, (a.batch, a.bins, a.frames))
    W0 = rng.random((a.bins, a.rank)) + 0.1
    H0 = rng.random((a.rank, a.frames)) + 0.1
    rows = []
    for beta, name in ((2.0, "frobenius"), (1.0, "kullback-leibler")):
        def sk():
            m = NMF(a.rank, solver="mu", beta_loss=name, init="custom", max_iter=a.iters, tol=0.0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                W = m.fit_transform(V[0], W=W0.copy(), H=H0.copy())
            return W, m.components_
        Vt = torch.from_numpy(V).to(a.device)
        W0t, H0t = torch.from_numpy(W0).to(a.device), torch.from_numpy(H0).to(a.device)

        def ours():
            return nmf(Vt[0], a.rank, beta, a.iters, W=W0t, H=H0t)

        def ours_batch():
            return nmf(Vt, a.rank, beta, a.iters, W=W0t.expand(a.batch, -1, -1), H=H0t.expand(a.batch, -1, -1))

        Ws, Hs = sk()
        Wo, Ho = ours()
        obj_sk = float(beta_divergence(torch.from_numpy(V[0]), torch.from_numpy(Ws), torch.from_numpy(Hs), beta))
        obj_ours = float(beta_divergence(Vt[0].cpu(), Wo.cpu(), Ho.cpu(), beta))
        t_sk = median_time(sk, repeats=3)
        t_ours = median_time(ours, repeats=3, cuda=cuda)
        t_batch = median_time(ours_batch, repeats=1, cuda=cuda)
        rows.append({"beta": name, "sklearn_s": t_sk, "sliceq22_s": t_ours, "ratio": t_ours / t_sk,
                     "sklearn_batch_s": t_sk * a.batch, "sliceq22_batch_s": t_batch, "batch_speedup": t_sk * a.batch / t_batch,
                     "objective_rel_diff": abs(obj_ours - obj_sk) / obj_sk})
        r = rows[-1]
        print(f"{name:<17} one: sklearn {t_sk:6.2f} s, sliceq22 {t_ours:6.2f} s ({r['ratio']:.2f}x) | batch of {a.batch}: "
              f"{r['sklearn_batch_s']:6.2f} s vs {t_batch:6.2f} s ({r['batch_speedup']:.1f}x faster) | objective diff {r['objective_rel_diff']:.1e}")
    machine = machine_info(cuda, sklearn=sklearn.__version__)
    write_result(a.out, f"nmf_{'cuda' if cuda else 'cpu'}", {"benchmark": "nmf", "shape": [a.bins, a.frames], "rank": a.rank,
                                                             "iters": a.iters, "batch": a.batch, "machine": machine, "results": rows})


if __name__ == "__main__":
    main()
