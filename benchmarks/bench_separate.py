"""Separation speed: seconds per minute of stereo audio through ``sliceq22.separate``.

    python benchmarks/bench_separate.py [--minutes 1] [--device cpu|cuda] [--transform slicqt_bark]

The default demixer of ``conf/model/demix.yaml`` on the chosen transform (weights do not change
the cost), 30 s chunks with 2 s cross-fades, as ``infer.py`` runs it. Reference figures
(xumx-sliCQ-V2's README): 2.1 s per MUSDB track (~4 min) on a GPU, 11-23 s on a CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import sliceq22  # noqa: E402
from benchmarks.common import machine_info, write_result  # noqa: E402
from sliceq22.eval.deoverlap import load_transform  # noqa: E402
from sliceq22.models.demix import SliCQDemixer  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=1.0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--transform", default="slicqt_bark")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    a = p.parse_args()
    cuda = a.device.startswith("cuda")
    model = SliCQDemixer(load_transform(a.transform)).to(a.device).eval()
    sr = int(model.sample_rate)
    x = 0.1 * torch.randn(2, int(a.minutes * 60 * sr))
    sliceq22.separate(x[:, : 5 * sr], sr, model, device=a.device)  # warm-up
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    sliceq22.separate(x, sr, model, device=a.device)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    machine = machine_info(cuda)
    row = {"transform": a.transform, "minutes": a.minutes, "seconds": seconds, "seconds_per_minute": seconds / a.minutes,
           "parameters": sum(p.numel() for p in model.parameters())}
    print(f"# separate(), {a.transform}, {a.minutes:g} min stereo on {machine['device']}: "
          f"{seconds:.2f} s = {row['seconds_per_minute']:.2f} s per minute of audio")
    write_result(a.out, f"separate_{'cuda' if cuda else 'cpu'}", {"benchmark": "separate", "machine": machine, "results": [row]})


if __name__ == "__main__":
    main()
