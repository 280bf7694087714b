"""DTW speed against librosa (numba) in one run: single pairs of the issue's sizes, and a batch.

    python benchmarks/bench_dtw.py [--batch 32] [--batch-n 400] [--batch-m 1200] [--repeats 3] [--device cpu|cuda]

Single pairs (float64, with backtracking, the time from a cost matrix to the path):
5000x5000 full DTW with librosa's default steps, and 2000x6000 subsequence DTW with the seed's
steps [[1,1],[1,2],[2,1]] and weights [2,3,3]. Batch: ``--batch`` subsequence pairs of
``--batch-n x --batch-m``, timed as one call of sliceq22; librosa has no batch and is not run
on all of them: its batch figure is the median time of the first pair multiplied by
``--batch`` (``librosa_one_pair_s`` x batch; the pairs have the same size, so a loop costs
about that). sliceq22 runs with ``backend="auto"`` (compiled loops on the CPU when numba is
installed; torch ops on a GPU) and, on the CPU, also with ``backend="torch"`` (the vectorised
torch recursion) and ``memory="low"`` (one byte per cell). Every time is a median of
``--repeats`` warm calls; JSON out.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import (  # noqa: E402
    check_out_dir, default_device, device_arg, faster, machine_info, median_time, positive_int, use_device, write_result)
from sliceq22.classic import dtw  # noqa: E402

SEED = ([[1, 1], [1, 2], [2, 1]], [2, 3, 3])


def _librosa_kw(steps, weights):
    return {} if steps is None else dict(step_sizes_sigma=np.array(steps), weights_mul=np.array(weights, float))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=positive_int, default=32)
    p.add_argument("--batch-n", type=positive_int, default=400)
    p.add_argument("--batch-m", type=positive_int, default=1200)
    p.add_argument("--repeats", type=positive_int, default=3, help="warm calls per time (median), every row")
    p.add_argument("--device", type=device_arg, default=default_device())
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    a = p.parse_args()
    check_out_dir(p, a.out)
    cuda = use_device(a.device)
    import librosa

    reps = a.repeats
    rng = np.random.default_rng(0)
    backends = ["auto"] if cuda else ["auto", "torch"]
    rows = []
    singles = [("5000x5000 full, default steps", (5000, 5000), None, None, False),
               ("2000x6000 subsequence, seed steps", (2000, 6000), *SEED, True)]
    for name, shape, steps, weights, sub in singles:
        C = rng.random(shape)
        Ct = torch.from_numpy(C).to(a.device)
        t_lib = median_time(lambda: librosa.sequence.dtw(C=C, subseq=sub, **_librosa_kw(steps, weights)), repeats=reps)
        row = {"case": name, "librosa_s": t_lib}
        for b in backends:
            if b == "torch" and shape == (5000, 5000):
                continue  # 10k anti-diagonals of torch ops: minutes, not informative
            row[f"sliceq22_{b}_s"] = median_time(lambda: dtw(Ct, steps, weights, subsequence=sub, backend=b), repeats=reps, cuda=cuda)
            row[f"ratio_{b}"] = row[f"sliceq22_{b}_s"] / row["librosa_s"]
        if not cuda:
            row["sliceq22_low_memory_s"] = median_time(lambda: dtw(Ct, steps, weights, subsequence=sub, memory="low"), repeats=reps)
        rows.append(row)
    C = rng.random((a.batch, a.batch_n, a.batch_m))
    Ct = torch.from_numpy(C).to(a.device)
    for name, steps, weights in [("seed steps (rows)", *SEED), ("default steps (wavefront)", None, None)]:
        t_lib1 = median_time(lambda: librosa.sequence.dtw(C=C[0], subseq=True, **_librosa_kw(steps, weights)), repeats=reps)
        row = {"case": f"batch of {a.batch} {a.batch_n}x{a.batch_m} subsequence, {name}",
               "librosa_one_pair_s": t_lib1, "librosa_s": t_lib1 * a.batch}  # librosa_s: one pair's median x batch, not a timed loop
        for b in backends:
            row[f"sliceq22_{b}_s"] = median_time(lambda: dtw(Ct, steps, weights, subsequence=True, backend=b), repeats=reps, cuda=cuda)
            row[f"speedup_{b}"] = row["librosa_s"] / row[f"sliceq22_{b}_s"]
        rows.append(row)
    machine = machine_info(cuda, librosa=librosa.__version__, numba=_numba_version())
    print(f"# DTW on {a.device} ({machine['device']}, {machine['cpu_count']} cores, {machine['threads']} torch threads), "
          f"medians of {reps}")
    for r in rows:
        ours = ", ".join(f"{k[9:-2]} {r[k]:.3f} s ({faster(r['librosa_s'] / r[k])})" for k in r if k.startswith("sliceq22_"))
        lib = (f"librosa 1 pair x {a.batch} = {r['librosa_s']:.3f} s" if "librosa_one_pair_s" in r else f"librosa {r['librosa_s']:.3f} s")
        print(f"{r['case']:<58} {lib} | sliceq22 {ours}")
    write_result(a.out, f"dtw_{'cuda' if cuda else 'cpu'}", {"benchmark": "dtw", "batch": [a.batch, a.batch_n, a.batch_m], "repeats": reps,
                                                             "machine": machine, "results": rows})


def _numba_version():
    try:
        import numba

        return numba.__version__
    except ImportError:
        return None


if __name__ == "__main__":
    main()
