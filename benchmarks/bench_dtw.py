"""DTW speed against librosa (numba) in one run: single pairs of the issue's sizes, and a batch.

    python benchmarks/bench_dtw.py [--batch 32] [--batch-n 400] [--batch-m 1200] [--device cpu|cuda]

Single pairs (float64, with backtracking, the time from a cost matrix to the path):
5000x5000 full DTW with librosa's default steps, and 2000x6000 subsequence DTW with the seed's
steps [[1,1],[1,2],[2,1]] and weights [2,3,3]. Batch: ``--batch`` subsequence pairs of
``--batch-n x --batch-m`` (librosa has no batch: its time is a loop). sliceq22 runs with
``backend="auto"`` (compiled loops on the CPU when numba is installed; torch ops on a GPU) and,
on the CPU, also with ``backend="torch"`` (the vectorised torch recursion) and ``memory="low"``
(one byte per cell). Medians; JSON out.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import machine_info, median_time, write_result  # noqa: E402
from sliceq22.classic import dtw  # noqa: E402

SEED = ([[1, 1], [1, 2], [2, 1]], [2, 3, 3])


def _librosa_kw(steps, weights):
    return {} if steps is None else dict(step_sizes_sigma=np.array(steps), weights_mul=np.array(weights, float))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--batch-n", type=int, default=400)
    p.add_argument("--batch-m", type=int, default=1200)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    a = p.parse_args()
    import librosa

    cuda = a.device == "cuda"
    rng = np.random.default_rng(0)
    backends = ["auto"] if cuda else ["auto", "torch"]
    rows = []
    singles = [("5000x5000 full, default steps", (5000, 5000), None, None, False),
               ("2000x6000 subsequence, seed steps", (2000, 6000), *SEED, True)]
    for name, shape, steps, weights, sub in singles:
        C = rng.random(shape)
        Ct = torch.from_numpy(C).to(a.device)
        row = {"case": name, "librosa_s": median_time(lambda: librosa.sequence.dtw(C=C, subseq=sub, **_librosa_kw(steps, weights)), repeats=3)}
        for b in backends:
            if b == "torch" and shape == (5000, 5000):
                continue  # 10k anti-diagonals of torch ops: minutes, not informative
            row[f"sliceq22_{b}_s"] = median_time(lambda: dtw(Ct, steps, weights, subsequence=sub, backend=b), repeats=3, cuda=cuda)
            row[f"ratio_{b}"] = row[f"sliceq22_{b}_s"] / row["librosa_s"]
        if not cuda:
            row["sliceq22_low_memory_s"] = median_time(lambda: dtw(Ct, steps, weights, subsequence=sub, memory="low"), repeats=3)
        rows.append(row)
    C = rng.random((a.batch, a.batch_n, a.batch_m))
    Ct = torch.from_numpy(C).to(a.device)
    for name, steps, weights in [("seed steps (rows)", *SEED), ("default steps (wavefront)", None, None)]:
        t_lib1 = median_time(lambda: librosa.sequence.dtw(C=C[0], subseq=True, **_librosa_kw(steps, weights)))
        row = {"case": f"batch of {a.batch} {a.batch_n}x{a.batch_m} subsequence, {name}", "librosa_s": t_lib1 * a.batch}
        for b in backends:
            row[f"sliceq22_{b}_s"] = median_time(lambda: dtw(Ct, steps, weights, subsequence=True, backend=b), repeats=3, cuda=cuda)
            row[f"speedup_{b}"] = row["librosa_s"] / row[f"sliceq22_{b}_s"]
        rows.append(row)
    machine = machine_info(cuda, librosa=librosa.__version__, numba=_numba_version())
    print(f"# DTW on {a.device} ({machine['device']}, {machine['cpu_count']} cores, {machine['threads']} torch threads)")
    for r in rows:
        ours = ", ".join(f"{k[9:-2]} {r[k]:.3f} s" for k in r if k.startswith("sliceq22_"))
        rel = ", ".join(f"{k} {r[k]:.2f}" for k in r if k.startswith(("ratio_", "speedup_")))
        print(f"{r['case']:<58} librosa {r['librosa_s']:.3f} s | sliceq22 {ours} | {rel}")
    write_result(a.out, f"dtw_{a.device}", {"benchmark": "dtw", "batch": [a.batch, a.batch_n, a.batch_m], "machine": machine, "results": rows})


def _numba_version():
    try:
        import numba

        return numba.__version__
    except ImportError:
        return None


if __name__ == "__main__":
    main()
