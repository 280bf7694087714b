"""The main entry point runs end to end from the command line, as the README says."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(run_dir, *overrides):
    os.makedirs(run_dir, exist_ok=True)
    cmd = [sys.executable, os.path.join(ROOT, "train.py"), f"hydra.run.dir={run_dir}", *overrides]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=run_dir, timeout=600)


def test_default_job_runs_and_writes_outputs(tmp_path):
    out = _run(tmp_path, "job.seconds=3")
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["reconstruction_db_float64"] <= -290
    assert summary["reconstruction_db_float32"] <= -120
    assert (tmp_path / "slicqt_vs_stft.png").stat().st_size > 10_000


def test_job_on_a_wav_file_and_its_errors(tmp_path):
    wav = tmp_path / "in.wav"
    sf.write(wav, 0.1 * np.random.default_rng(0).standard_normal((22050, 2)), 22050)
    out = _run(tmp_path / "ok", f"job.audio={wav}", "sample_rate=22050", "transform=slicqt_vqlog")
    assert out.returncode == 0, out.stderr[-3000:]
    out = _run(tmp_path / "bad", f"job.audio={wav}")  # the transform expects 44.1 kHz
    assert out.returncode == 1 and "22050 Hz but the transform expects 44100 Hz" in out.stderr
    # a user's mistake is one plain line (sliceq22.cli), not Hydra's repr of a wrapped exception
    assert out.stderr.strip().splitlines()[-1].startswith("error: ") and "Error in call to target" not in out.stderr
    assert wav.exists()  # never touched


@pytest.mark.parametrize("override", ["transform.bins=1", "experiment=does_not_exist"])
def test_bad_config_fails_with_a_message(tmp_path, override):
    out = _run(tmp_path, override)
    assert out.returncode != 0
    assert ("bins must be" in out.stderr) or ("does_not_exist" in out.stderr)


@pytest.mark.parametrize("experiment,model", [("demix", "deoverlap"), ("deoverlap", "demix")])
def test_a_model_of_another_experiment_is_refused_before_training(tmp_path, experiment, model):
    """experiment=demix model=deoverlap trained a whole epoch and then failed in the demix
    example callback; the reverse failed with Hydra's TypeError about ``net``."""
    out = _run(tmp_path, f"experiment={experiment}", f"model={model}", f"data.root={tmp_path / 'never'}")
    assert out.returncode == 1, out.stderr[-3000:]
    assert "does not go with the callbacks of experiment=" + experiment in out.stderr
    assert not (tmp_path / "never").exists()  # nothing rendered or trained


def test_a_transform_the_model_does_not_use_is_refused(tmp_path):
    """model=demix_per_target builds one sliCQT per target: transform=stft trained four Bark
    sliCQTs and recorded transform: STFT in the run's config."""
    out = _run(tmp_path, "experiment=demix", "model=demix_per_target", "transform=stft", f"data.root={tmp_path / 'never'}")
    assert out.returncode == 1 and "it builds its own (model.model.transforms.drums" in out.stderr, out.stderr[-2000:]
    assert not (tmp_path / "never").exists()
