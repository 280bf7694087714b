"""Timing shared by the benchmarks: warm, synchronised, wall-clock."""

from __future__ import annotations

import statistics
import time

import torch


def timed(fn, cuda: bool = False) -> float:
    """Seconds of one call of ``fn``, right after an untimed call of it (same warm state for all)."""
    fn()
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def median_time(fn, repeats: int = 5, cuda: bool = False) -> float:
    """Median of ``repeats`` :func:`timed` calls."""
    return statistics.median(timed(fn, cuda) for _ in range(repeats))


def machine_info(cuda: bool = False, **versions) -> dict:
    """Where and when a benchmark ran: date (UTC), device name, cores, threads, torch and the
    reference packages' versions (``versions``), recorded beside every result."""
    import datetime as dt
    import os
    import platform

    return {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "device": torch.cuda.get_device_name() if cuda else platform.processor() or "cpu",
            "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__, **versions}


def write_result(out_dir: str, name: str, payload: dict) -> str:
    """Write ``payload`` as ``<out_dir>/<name>_<date>.json`` (date from its machine record), or
    ``..._<date>_2.json``, ``_3``, ... when that exists: a rerun never replaces a committed result."""
    import json
    import os

    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, f"{name}_{payload['machine']['date'][:10]}")
    path, k = f"{stem}.json", 1
    while os.path.exists(path):
        k += 1
        path = f"{stem}_{k}.json"
    with open(path, "x") as fh:
        json.dump(payload, fh, indent=2)
    print(f"wrote {path}")
    return path
