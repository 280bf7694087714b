"""The benchmarks' command lines: a bad count, device or --out is a one-line usage error
(exit 2) before any timing, not a traceback after minutes of work. No timing runs here."""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
import types

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import common  # noqa: E402


def _run(cwd, script, *args):
    cmd = [sys.executable, os.path.join(ROOT, script), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("script, args", [
    ("benchmarks/bench_slicqt.py", ["--repeats", "0"]),
    ("benchmarks/bench_separate.py", ["--repeats", "-1"]),
    ("benchmarks/bench_ilrma.py", ["--seeds", "0"]),
])
def test_counts_below_one_rejected_before_any_work(tmp_path, script, args):
    out = _run(tmp_path, script, *args, "--out", str(tmp_path / "results"))
    assert out.returncode == 2, out.stderr[-2000:]
    assert "must be an integer >= 1" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "results").exists()  # parsing failed before --out was even created


def test_out_that_is_a_file_rejected(tmp_path):
    f = tmp_path / "taken.json"
    f.write_text("{}")
    out = _run(tmp_path, "benchmarks/bench_nmf.py", "--out", str(f))
    assert out.returncode == 2 and "cannot write there" in out.stderr and "Traceback" not in out.stderr
    assert f.read_text() == "{}"


def test_bad_device_rejected(tmp_path):
    out = _run(tmp_path, "benchmarks/bench_bsseval.py", "--device", "nonsense", "--out", str(tmp_path / "results"))
    assert out.returncode == 2 and "must be cpu, cuda or cuda:N" in out.stderr and "Traceback" not in out.stderr
    assert common.device_arg("cpu") == "cpu"
    for bad in ("gpu", "cuda:x", "cuda:", "cpu:0"):
        with pytest.raises(argparse.ArgumentTypeError):
            common.device_arg(bad)
    if not torch.cuda.is_available():
        for absent in ("cuda", "cuda:0"):
            with pytest.raises(argparse.ArgumentTypeError, match="no CUDA device"):
                common.device_arg(absent)
    else:
        assert common.device_arg("cuda") == "cuda"
        with pytest.raises(argparse.ArgumentTypeError, match="CUDA device"):
            common.device_arg(f"cuda:{torch.cuda.device_count()}")


def test_positive_number_types():
    assert common.positive_int("3") == 3
    for bad in ("0", "-1", "1.5", "x", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="integer >= 1"):
            common.positive_int(bad)
    assert common.positive_float("0.5") == 0.5
    for bad in ("0", "-2", "nan", "inf", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match="finite number > 0"):
            common.positive_float(bad)


def test_check_out_dir_and_write_result_never_overwrites(tmp_path):
    p = argparse.ArgumentParser()
    common.check_out_dir(p, str(tmp_path / "new" / "folder"))  # created
    assert (tmp_path / "new" / "folder").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as exc:
        common.check_out_dir(p, str(tmp_path / "file"))
    assert exc.value.code == 2
    payload = {"machine": common.machine_info()}
    first = common.write_result(str(tmp_path), "bench", payload)
    second = common.write_result(str(tmp_path), "bench", payload)
    assert first != second and second.endswith("_2.json")


def test_faster_never_calls_a_slowdown_faster():
    assert common.faster(2.44) == "2.4x faster"
    assert common.faster(0.7) == "1.4x slower"
    assert common.faster(0.5, 2) == "2.00x slower"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="platform.processor() is empty on Linux only")
def test_machine_info_names_the_cpu():
    info = common.machine_info()
    assert info["device"] and info["device"] not in ("cpu", "unknown")
    assert info["python"] and info["platform"] and math.isfinite(info["cpu_count"])


def test_ilrma_refuses_a_non_positive_time_per_iteration(monkeypatch):
    """A reference whose short runs take longer than its long ones: refused, not reported."""
    from benchmarks import bench_ilrma

    def fake_ilrma(X, n_iter, **kw):
        time.sleep(0.03 if n_iter == 1 else 0.0)
        return X

    pra = types.SimpleNamespace(bss=types.SimpleNamespace(ilrma=fake_ilrma))
    monkeypatch.setattr(bench_ilrma, "ilrma", lambda X, n, *a, **kw: X)  # no real work for sliceq22 either
    with pytest.raises(SystemExit, match="nothing written"):
        bench_ilrma._per_iteration(pra, short=1, long=2, repeats=1)


def test_make_figures_out_file_rejected(tmp_path):
    f = tmp_path / "figure.png"
    f.write_bytes(b"png")
    out = _run(tmp_path, "scripts/make_figures.py", "--out", str(f))
    assert out.returncode == 2 and "cannot write there" in out.stderr and "Traceback" not in out.stderr
    assert f.read_bytes() == b"png"
