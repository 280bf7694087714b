"""The demixing experiment end to end on CPU: a fast_dev_run and one tiny epoch with its checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = [
    "experiment=demix",
    "transform=slicqt_cqlog",
    "data.render.tracks=4",
    "data.render.seconds=4",
    "data.seconds=1.0",
    "data.samples_per_track=2",
    "data.batch_size=2",
    "data.num_workers=0",
    "data.valid_seconds=2.0",
    "model.model.hidden=8",
    "model.model.dilations=[1]",
    "callbacks.examples.seconds=1.0",
]


def _run(run_dir, *overrides):
    cmd = [sys.executable, os.path.join(ROOT, "train.py"), f"hydra.run.dir={run_dir}", *overrides]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("emb"))


def test_fast_dev_run_stft_control(tmp_path, data_root):
    _run(tmp_path, *TINY, "transform=stft_2048", f"data.root={data_root}", "trainer.fast_dev_run=true")


def test_one_epoch_writes_a_self_describing_checkpoint(tmp_path, data_root):
    _run(tmp_path, *TINY, f"data.root={data_root}", "trainer.max_epochs=1")
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert state["sliceq22_config"]["model"]["model"]["transform"]["scale"] == "log"
    assert all(k.startswith("model.net.") for k in state["state_dict"])  # the transform is rebuilt
    events = [f for f in os.listdir(tmp_path / "tensorboard") if f.startswith("events")]
    assert events
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "tensorboard")).Reload()
    tags = acc.Tags()
    assert {"val/sdr/vocals", "val/sdr", "val/sdr_mixture"} <= set(tags["scalars"])
    assert any(t.startswith("examples/") for t in tags["audio"]) and tags["images"]
