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
