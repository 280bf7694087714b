"""BSS Eval v4 speed against museval in one run: 4 stereo sources, museval's 1 s windows.

    python benchmarks/bench_bsseval.py [--seconds 30] [--device cpu|cuda] [--threads 1]

museval (numpy/scipy) is timed once (it takes many seconds); sliceq22 is the median of three
warm calls on the same input. The largest per-frame difference in dB is recorded beside the
timings, so the speed is never bought with a different number. ``--threads`` pins both to the
same number of CPU threads (museval's figure in the issue was on one core).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import (  # noqa: E402
    check_out_dir, default_device, device_arg, faster, machine_info, median_time, positive_float, positive_int, use_device, write_result)
from sliceq22.data.synth import synth_mixture  # noqa: E402
from sliceq22.eval import bss_eval  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=positive_float, default=30.0)
    p.add_argument("--device", type=device_arg, default=default_device())
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads for both (default: all)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    a = p.parse_args()
    check_out_dir(p, a.out)
    cuda = use_device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(a.threads)
        except ImportError:
            pass
    import museval

    n = int(a.seconds * 44100)
    rng = np.random.default_rng(0)
    refs = np.stack([synth_mixture(a.seconds, 44100, seed=s).T[:n] for s in range(4)])
    ests = 0.7 * refs + 0.25 * refs.sum(0)[None] + 0.02 * rng.standard_normal(refs.shape)

    t0 = time.perf_counter()
    theirs = museval.evaluate(refs, ests)
    t_museval = time.perf_counter() - t0
    R, E = torch.from_numpy(refs).to(a.device), torch.from_numpy(ests).to(a.device)
    t_ours = median_time(lambda: bss_eval(R, E), repeats=3, cuda=cuda)
    ours = bss_eval(R, E)
    diff = max(float(np.nanmax(np.abs(x.cpu().numpy() - y))) for x, y in zip(ours, theirs))

    machine = machine_info(cuda, museval=importlib.metadata.version("museval"))
    row = {"seconds": a.seconds, "sources": 4, "channels": 2, "museval_s": t_museval, "sliceq22_s": t_ours,
           "speedup": t_museval / t_ours, "max_abs_diff_db": diff}
    print(f"# BSS Eval v4, 4 stereo sources x {a.seconds:g} s, on {machine['device']} ({machine['threads']} threads)")
    print(f"museval {t_museval:7.2f} s | sliceq22 {t_ours:7.3f} s | sliceq22 {faster(row['speedup'])} | max |diff| {diff:.1e} dB")
    kind = "cuda" if cuda else f"cpu{machine['threads']}t"
    write_result(a.out, f"bsseval_{kind}", {"benchmark": "bsseval", "machine": machine, "results": [row]})


if __name__ == "__main__":
    main()
