"""Run alignment systems over a folder of scenarios: error rates and time per scenario.

``run`` is the loop (features cached per scenario, one ``hyp.npy`` per system and scenario under
``out``), ``format_table`` the README table, ``job`` the Hydra entry point of
``python train.py experiment=align`` (renders the embedded scenarios if asked, writes
``results.json`` and ``results.md`` into the run folder).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time

import numpy as np

from sliceq22.align.systems import SEED_STEPS, SEED_WEIGHTS, SYSTEMS, offline_processing, online_processing
from sliceq22.data.musdb import read_manifest
from sliceq22.data.scenarios import read_beats
from sliceq22.eval.alignment import TOLERANCES_MS, beat_errors, error_rates

log = logging.getLogger(__name__)


def scenario_dirs(root: str) -> list[str]:
    """The scenario folders (``s1``, ``s2``, ...) of ``root``, in natural order."""
    if not os.path.isdir(root):
        raise ValueError(f"scenario root {root} does not exist")
    manifest = read_manifest(root)
    if manifest is not None and not manifest.get("complete"):
        raise ValueError(f"{root} holds an unfinished render (render.json: complete=false): run the same render "
                         f"again to finish it (it resumes) before aligning")
    names = [d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and d[:1] == "s" and d[1:].isdigit()]
    if not names:
        raise ValueError(f"no scenario folders (s1, s2, ...) in {root}")
    return sorted(names, key=lambda d: int(d[1:]))


def _seconds(path: str) -> float:
    import soundfile as sf

    info = sf.info(path)
    return info.frames / info.samplerate


def run(root: str, systems=SYSTEMS, hop_length: int = 512, out: str | None = None, steps=SEED_STEPS, weights=SEED_WEIGHTS) -> dict:
    """Align every scenario of ``root`` with every system; mean error rates and seconds.

    Returns:
        ``{system: {"error_rate": {tol_ms: rate}, "seconds_per_scenario": s, "scenarios": n}}``;
        the online stage is timed (features of ``o`` and ``po`` are the offline, cached part).
    """
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise ValueError(f"unknown alignment system(s) {unknown}; choose from {', '.join(SYSTEMS)}")
    scenarios = scenario_dirs(root)
    out = out or os.path.join("outputs", "align", dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))
    results = {}
    for system in systems:
        rates, seconds = [], []
        for s in scenarios:
            sdir = os.path.join(root, s)
            cache = os.path.join(out, "cache", s)
            offline_processing(sdir, cache, hop_length)
            t0 = time.perf_counter()
            hyp = online_processing(sdir, os.path.join(out, system, s), cache, hop_length, steps, weights, system)
            seconds.append(time.perf_counter() - t0)
            beats = [read_beats(os.path.join(sdir, f"{rec}.beats"), _seconds(os.path.join(sdir, f"{rec}.wav"))) for rec in ("p", "o")]
            err = beat_errors(hyp, *beats)
            rates.append(error_rates(err))
        results[system] = {
            "error_rate": {tol: float(np.mean([r[tol] for r in rates])) for tol in TOLERANCES_MS},
            "seconds_per_scenario": float(np.mean(seconds)),
            "scenarios": len(scenarios),
        }
    return results


def format_table(results: dict) -> str:
    """A Markdown table: error rate per tolerance and seconds per scenario, one row per system."""
    head = "| system | " + " | ".join(f"{t} ms" for t in TOLERANCES_MS) + " | s / scenario |"
    rule = "|---" * (len(TOLERANCES_MS) + 2) + "|"
    rows = [
        f"| {name} | " + " | ".join(f"{r['error_rate'][t]:.3f}" for t in TOLERANCES_MS) + f" | {r['seconds_per_scenario']:.2f} |"
        for name, r in results.items()
    ]
    return "\n".join([head, rule, *rows])


def job(root: str, systems=SYSTEMS, hop_length: int = 512, out_dir: str | None = None, render: bool = True, scenarios: int = 6, seed: int = 0) -> dict:
    """Hydra entry point: render the scenarios into ``root`` if asked (a complete render with
    the same parameters is reused; a foreign folder is refused), align, write
    ``out_dir/results.{json,md}`` and print the table."""
    if render:
        from sliceq22.data.scenarios import render_alignment

        render_alignment(root, scenarios=scenarios, seed=seed)
    out_dir = out_dir or os.path.join("outputs", "align", dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))
    results = run(root, list(systems), hop_length, out_dir)
    table = format_table(results)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w") as fh:
        json.dump({"root": root, "hop_length": hop_length, "results": results}, fh, indent=2)
    with open(os.path.join(out_dir, "results.md"), "w") as fh:
        fh.write(f"Error rate (|predicted - true orchestra time| > tolerance) over {len(scenario_dirs(root))} scenarios in {root}\n\n{table}\n")
    print(table)
    print(f"results: {os.path.join(out_dir, 'results.json')}")
    return results
