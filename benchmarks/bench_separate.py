"""Separation speed: seconds per minute of stereo audio through ``sliceq22.separate``.

    python benchmarks/bench_separate.py [--minutes 1] [--device cpu|cuda] [--transform slicqt_bark ...] [--repeats 3]

The default demixer of ``conf/model/demix.yaml`` on the chosen transform (weights do not change
the cost), 30 s chunks with 2 s cross-fades, as ``infer.py`` runs it. Reference figures
(xumx-sliCQ-V2's README): 2.1 s per MUSDB track (~4 min) on a GPU, 11-23 s on a CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import statistics
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import sliceq22  # noqa: E402
from benchmarks.common import machine_info, write_result  # noqa: E402
from sliceq22.eval.deoverlap import load_transform  # noqa: E402
from sliceq22.models.demix import SliCQDemixer  # noqa: E402


def _configured_demixer() -> dict:
    """The network settings of ``conf/model/demix.yaml`` (what ``experiment=demix`` trains)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conf", "model", "demix.yaml"))
    return {k: v for k, v in OmegaConf.to_container(cfg.model).items() if k not in ("_target_", "transform", "targets")}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=1.0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--transform", nargs="+", default=["slicqt_bark", "slicqt_bark:fast_sizes=true"],
                   help="transform configs (conf/transform/ names, with key=value overrides after ':')")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per transform (median)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    a = p.parse_args()
    cuda = a.device.startswith("cuda")
    rows = []
    for name in a.transform:
        model = SliCQDemixer(load_transform(name), **_configured_demixer()).to(a.device).eval()
        sr = int(model.sample_rate)
        x = 0.1 * torch.randn(2, int(a.minutes * 60 * sr))
        sliceq22.separate(x[:, : 5 * sr], sr, model, device=a.device)  # warm-up
        times = []
        for _ in range(a.repeats):
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            sliceq22.separate(x, sr, model, device=a.device)
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        seconds = statistics.median(times)
        rows.append({"transform": name, "minutes": a.minutes, "seconds": seconds, "seconds_per_minute": seconds / a.minutes,
                     "repeats": a.repeats, "parameters": sum(p.numel() for p in model.parameters())})
        print(f"# separate(), {name}, {a.minutes:g} min stereo: {seconds:.2f} s = {rows[-1]['seconds_per_minute']:.2f} s "
              f"per minute of audio (median of {a.repeats})")
    machine = machine_info(cuda)
    print(f"# on {machine['device']}")
    write_result(a.out, f"separate_{'cuda' if cuda else 'cpu'}", {"benchmark": "separate", "machine": machine, "results": rows})


if __name__ == "__main__":
    main()
