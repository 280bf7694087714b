"""DTW speed against librosa (numba) in one run: one pair, and a batch of pairs.

    python benchmarks/bench_dtw.py [--n 400] [--m 1200] [--batch 32] [--device cpu|cuda]

Subsequence DTW with the seed's steps [[1,1],[1,2],[2,1]] and weights [2,3,3] (row-wise
recursion) and librosa's default steps (anti-diagonal wavefront). Medians; results as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import median_time  # noqa: E402
from sliceq22.classic import dtw  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=400)
    p.add_argument("--m", type=int, default=1200)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    a = p.parse_args()
    import librosa

    cuda = a.device == "cuda"
    rng = np.random.default_rng(0)
    C = rng.random((a.batch, a.n, a.m))
    Ct = torch.from_numpy(C).to(a.device)
    rows = []
    for name, steps, weights in [("seed steps (rows)", [[1, 1], [1, 2], [2, 1]], [2, 3, 3]), ("default steps (wavefront)", None, None)]:
        kw = {} if steps is None else dict(step_sizes_sigma=np.array(steps), weights_mul=np.array(weights, float))
        t_lib1 = median_time(lambda: librosa.sequence.dtw(C=C[0], subseq=True, **kw))
        t_ours1 = median_time(lambda: dtw(Ct[0], steps, weights, subsequence=True), cuda=cuda)
        t_libB = t_lib1 * a.batch  # librosa has no batch: a loop of single pairs
        t_oursB = median_time(lambda: dtw(Ct, steps, weights, subsequence=True), repeats=3, cuda=cuda)
        rows.append({"case": name, "librosa_one_s": t_lib1, "sliceq22_one_s": t_ours1, "librosa_batch_s": t_libB,
                     "sliceq22_batch_s": t_oursB, "batch_speedup": t_libB / t_oursB, "single_ratio": t_ours1 / t_lib1})
    machine = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "device": torch.cuda.get_device_name() if cuda else platform.processor() or "cpu",
               "cpu_count": os.cpu_count(), "torch": torch.__version__, "librosa": librosa.__version__}
    print(f"# DTW {a.n}x{a.m}, batch {a.batch}, subsequence, on {a.device} ({machine['cpu_count']} cores)")
    for r in rows:
        print(f"{r['case']:<28} one pair: librosa {1e3 * r['librosa_one_s']:8.1f} ms, sliceq22 {1e3 * r['sliceq22_one_s']:8.1f} ms | "
              f"batch: librosa {r['librosa_batch_s']:6.2f} s, sliceq22 {r['sliceq22_batch_s']:6.2f} s ({r['batch_speedup']:.1f}x)")
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, f"dtw_{a.device}_{machine['date'][:10]}.json")
    with open(path, "w") as fh:
        json.dump({"benchmark": "dtw", "n": a.n, "m": a.m, "batch": a.batch, "machine": machine, "results": rows}, fh, indent=2)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
