"""Run alignment systems over scenarios and report error rates and time per scenario.

    python -m sliceq22.align --root data/alignment [--systems pairwise bridge mixture] \\
        [--hop 512] [--out outputs/align/<date>] [--json results.json]

Renders the embedded scenarios into ``--root`` first if it does not exist.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time

import numpy as np

from sliceq22.align.systems import SEED_STEPS, SEED_WEIGHTS, SYSTEMS, offline_processing, online_processing
from sliceq22.data.scenarios import read_beats
from sliceq22.eval.alignment import TOLERANCES_MS, beat_errors, error_rates


def run(root: str, systems=SYSTEMS, hop_length: int = 512, out: str | None = None) -> dict:
    scenarios = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and d.startswith("s"))
    if not scenarios:
        raise ValueError(f"no scenario folders (s1, s2, ...) in {root}")
    out = out or os.path.join("outputs", "align", dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))
    results = {}
    for system in systems:
        rates, seconds = [], []
        for s in scenarios:
            sdir = os.path.join(root, s)
            cache = os.path.join(out, "cache", s)
            offline_processing(sdir, cache, hop_length)
            t0 = time.perf_counter()
            hyp = online_processing(sdir, os.path.join(out, system, s), cache, hop_length, SEED_STEPS, SEED_WEIGHTS, system)
            seconds.append(time.perf_counter() - t0)
            err = beat_errors(hyp, read_beats(os.path.join(sdir, "p.beats")), read_beats(os.path.join(sdir, "o.beats")))
            rates.append(error_rates(err))
        results[system] = {
            "error_rate": {tol: float(np.mean([r[tol] for r in rates])) for tol in TOLERANCES_MS},
            "seconds_per_scenario": float(np.mean(seconds)),
            "scenarios": len(scenarios),
        }
    return results


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default="data/alignment")
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    p.add_argument("--scenarios", type=int, default=6, help="how many to render if --root does not exist")
    p.add_argument("--hop", type=int, default=512)
    p.add_argument("--out", default=None)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    if not os.path.isdir(a.root):
        from sliceq22.data.scenarios import render_alignment

        render_alignment(a.root, scenarios=a.scenarios)
    results = run(a.root, a.systems, a.hop, a.out)
    print(f"{'system':<10}" + "".join(f"{t:>8}ms" for t in TOLERANCES_MS) + f"{'s/scen.':>10}   (error rate)")
    for name, r in results.items():
        print(f"{name:<10}" + "".join(f"{r['error_rate'][t]:>10.3f}" for t in TOLERANCES_MS) + f"{r['seconds_per_scenario']:>10.2f}")
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as fh:
            json.dump({"root": a.root, "hop": a.hop, "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
