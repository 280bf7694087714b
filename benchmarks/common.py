"""Timing shared by the benchmarks: warm, synchronised, wall-clock; and their argument checks."""

from __future__ import annotations

import argparse
import math
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


def faster(speedup: float, digits: int = 1) -> str:
    """``"2.4x faster"`` or, below 1, ``"1.4x slower"``: a speed-up under 1 is never called faster."""
    return f"{speedup:.{digits}f}x faster" if speedup >= 1 else f"{1 / speedup:.{digits}f}x slower"


# argparse types: a count, size or duration of 0, a negative one or nan fails at parsing, not
# as a StatisticsError, an IndexError or a JSON of NaN after the work
def positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def device_arg(text: str) -> str:
    """``cpu``, or ``cuda`` / ``cuda:N`` where this machine has that GPU: a typo or a missing
    GPU is a usage error at parsing, not a traceback after minutes of reference work."""
    kind, colon, index = text.partition(":")
    if text == "cpu":
        return text
    if kind != "cuda" or (colon and not index.isdigit()):
        raise argparse.ArgumentTypeError(f"must be cpu, cuda or cuda:N, got {text!r}")
    if not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: torch sees no CUDA device here (torch {torch.__version__}); use cpu")
    if colon and int(index) >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return text


def default_device() -> str:
    """``cuda`` where torch sees a GPU, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def use_device(name: str) -> bool:
    """Whether ``name`` is a GPU; it becomes the current one, so that ``synchronize()`` and the
    recorded device name are those of the GPU timed (``cuda:1`` too)."""
    dev = torch.device(name)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    return dev.type == "cuda"


def check_out_dir(parser: argparse.ArgumentParser, path: str) -> None:
    """Create ``--out`` and probe it right after parsing (``ensure_writable_folder``): a file or
    an unwritable folder (``/proc/x``) is a one-line usage error before any timing, not a
    traceback at the end that throws the timings away."""
    from sliceq22.data.audio import ensure_writable_folder

    try:
        ensure_writable_folder(path, "--out")
    except ValueError as exc:
        parser.error(str(exc))


def cpu_name() -> str:
    """The CPU model from ``/proc/cpuinfo`` (``platform.processor()`` is empty on Linux)."""
    import platform

    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(cuda: bool = False, **versions) -> dict:
    """Where and when a benchmark ran: date (UTC), device name (the current GPU, or the CPU
    model), cores, threads, python, platform, torch and the reference packages' versions
    (``versions``), recorded beside every result."""
    import datetime as dt
    import os
    import platform

    return {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "device": torch.cuda.get_device_name() if cuda else cpu_name(),
            "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(), "python": platform.python_version(),
            "platform": platform.platform(), "torch": torch.__version__, **versions}


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
