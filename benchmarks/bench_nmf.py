"""NMF speed and agreement against scikit-learn's multiplicative updates, in one run.

    python benchmarks/bench_nmf.py [--bins 1025] [--frames 1000] [--rank 16] [--iters 200] [--batch 8] [--repeats 3]

The same V, the same initial W and H, beta in {2, 1} (Frobenius, KL), ``n_iter`` updates with
no stopping tolerance. Records both times, the ratio, and the relative difference of the final
objectives. A batch of ``--batch`` spectrograms is timed as one call of sliceq22; scikit-learn
fits one matrix at a time and is not run on all of them: its batch figure is its median single
fit times ``--batch`` (``sklearn_batch_s``; the matrices have the same size, so a loop of fits
costs about that). Every time is a median of ``--repeats`` warm calls.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import (  # noqa: E402
    check_out_dir, default_device, device_arg, faster, machine_info, median_time, positive_int, use_device, write_result)
from sliceq22.classic import beta_divergence, nmf  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bins", type=positive_int, default=1025)
    p.add_argument("--frames", type=positive_int, default=1000)
    p.add_argument("--rank", type=positive_int, default=16)
    p.add_argument("--iters", type=positive_int, default=200)
    p.add_argument("--batch", type=positive_int, default=8)
    p.add_argument("--repeats", type=positive_int, default=3, help="warm calls per time (median), the batch's too")
    p.add_argument("--device", type=device_arg, default=default_device())
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    a = p.parse_args()
    check_out_dir(p, a.out)
    cuda = use_device(a.device)
    import sklearn
    from sklearn.decomposition import NMF

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
        t_sk = median_time(sk, repeats=a.repeats)
        t_ours = median_time(ours, repeats=a.repeats, cuda=cuda)
        t_batch = median_time(ours_batch, repeats=a.repeats, cuda=cuda)
        rows.append({"beta": name, "sklearn_s": t_sk, "sliceq22_s": t_ours, "ratio": t_ours / t_sk,
                     "sklearn_batch_s": t_sk * a.batch,  # one fit's median x batch, not a timed loop
                     "sliceq22_batch_s": t_batch, "batch_speedup": t_sk * a.batch / t_batch,
                     "objective_rel_diff": abs(obj_ours - obj_sk) / obj_sk})
        r = rows[-1]
        print(f"{name:<17} one: sklearn {t_sk:6.2f} s, sliceq22 {t_ours:6.2f} s ({r['ratio']:.2f}x) | batch of {a.batch}: sklearn "
              f"1 fit x {a.batch} = {r['sklearn_batch_s']:6.2f} s, sliceq22 {t_batch:6.2f} s ({faster(r['batch_speedup'])}) "
              f"| objective diff {r['objective_rel_diff']:.1e}")
    machine = machine_info(cuda, sklearn=sklearn.__version__)
    write_result(a.out, f"nmf_{'cuda' if cuda else 'cpu'}", {"benchmark": "nmf", "shape": [a.bins, a.frames], "rank": a.rank,
                                                             "iters": a.iters, "batch": a.batch, "repeats": a.repeats,
                                                             "machine": machine, "results": rows})


if __name__ == "__main__":
    main()
