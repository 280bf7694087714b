"""The de-overlap experiment end to end: train, checkpoint, infer, resume, DDP on CPU."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = [
    "experiment=deoverlap",
    "transform=slicqt_vqlog",
    "data.render.tracks=4",
    "data.render.seconds=4",
    "data.seconds=1.0",
    "data.samples_per_track=2",
    "data.batch_size=2",
    "data.num_workers=0",
    "data.valid_seconds=2.0",
    "model.net.channels=8",
    "model.net.layers=2",
    "callbacks.examples.seconds=1.0",
]


def _run(script, run_dir, *overrides, timeout=600):
    cmd = [sys.executable, os.path.join(ROOT, script), f"hydra.run.dir={run_dir}", *overrides]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert out.returncode == 0, out.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("emb"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_root):
    run = tmp_path_factory.mktemp("run")
    out = _run("train.py", run, *TINY, f"data.root={data_root}", "trainer.max_epochs=1")
    return run, out


def test_fast_dev_run(tmp_path, data_root):
    _run("train.py", tmp_path, *TINY, f"data.root={data_root}", "trainer.fast_dev_run=true")
    assert not list(tmp_path.rglob("*.ckpt"))  # a one-batch model is no checkpoint to infer with
    # ~logger trains without TensorBoard (LearningRateMonitor, which needs a logger, is dropped)
    _run("train.py", tmp_path / "nolog", *TINY, f"data.root={data_root}", "trainer.fast_dev_run=true", "~logger")
    assert not (tmp_path / "nolog" / "tensorboard").exists()


def test_training_writes_checkpoint_logs_and_reports(trained):
    run, out = trained
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(run / "tensorboard"))
    assert "final validation SNR" in out.stderr + out.stdout
    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    transform = state["sliceq22_config"]["model"]["transform"]
    assert transform["scale"] == "vqlog"
    # the slice lengths the default rule chose are recorded, not null: the checkpoint keeps its
    # transform even if that rule changes
    from hydra.utils import instantiate

    built = instantiate({**transform, "slice_len": None, "trans_len": None})
    assert (transform["slice_len"], transform["trans_len"]) == (built.slice_len, built.trans_len)
    assert all(k.startswith("net.") for k in state["state_dict"])  # the transform is rebuilt, not stored


def test_infer_from_checkpoint(trained, tmp_path):
    run, _ = trained
    wav = tmp_path / "song.wav"
    sf.write(wav, 0.1 * np.random.default_rng(1).standard_normal((44100, 2)), 44100)
    out = _run("infer.py", tmp_path / "h", f"ckpt={run / 'checkpoints' / 'last.ckpt'}", f"input={wav}")
    assert "SNR" in out.stdout
    result = tmp_path / "song.deoverlap.wav"
    y, sr = sf.read(result)
    assert sr == 44100 and y.shape == (44100, 2)
    # a second run refuses to overwrite, and the file is unchanged
    before = result.read_bytes()
    cmd = [sys.executable, os.path.join(ROOT, "infer.py"), f"hydra.run.dir={tmp_path / 'h2'}", f"ckpt={run / 'checkpoints' / 'last.ckpt'}", f"input={wav}"]
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert again.returncode != 0 and "refusing to overwrite" in again.stderr
    assert result.read_bytes() == before
    from sliceq22.lit.infer import deoverlap_file

    song = wav.read_bytes()
    with pytest.raises(ValueError, match="is the input file"):  # not even with overwrite=true
        deoverlap_file(str(run / "checkpoints" / "last.ckpt"), str(wav), output=str(wav), overwrite=True)
    assert wav.read_bytes() == song
    flac = tmp_path / "song.flac"  # FLAC holds no float: 24-bit PCM (it failed after the work)
    deoverlap_file(str(run / "checkpoints" / "last.ckpt"), str(wav), output=str(flac))
    assert sf.info(flac).subtype == "PCM_24" and np.abs(sf.read(flac)[0] - y).max() < 1e-5
    with pytest.raises(ValueError, match="song.wav/x: cannot write there"):  # fails before the work, naming the folder
        deoverlap_file(str(run / "checkpoints" / "last.ckpt"), str(wav), output=str(wav / "x" / "y.wav"))


def test_resume_equals_uninterrupted(tmp_path, data_root):
    common = [*TINY, f"data.root={data_root}", "callbacks.examples.every_n_epochs=100"]
    _run("train.py", tmp_path / "full", *common, "trainer.max_epochs=2")
    _run("train.py", tmp_path / "half", *common, "trainer.max_epochs=1")
    last = tmp_path / "half" / "checkpoints" / "last.ckpt"
    out = _run("train.py", tmp_path / "resumed", *common, "trainer.max_epochs=2", f"ckpt_path={last}")
    full = torch.load(tmp_path / "full" / "checkpoints" / "last.ckpt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", weights_only=True)
    for k in full["state_dict"]:
        torch.testing.assert_close(resumed["state_dict"][k], full["state_dict"][k], rtol=0, atol=1e-6)
    # the resumed run saves into its own folder, where Lightning's best restarts; the checkpoint's
    # record of the best covers the whole training, as the uninterrupted run's does
    whole, single = resumed["sliceq22_best"]["val/snr_db"], full["sliceq22_best"]["val/snr_db"]
    assert whole["score"] == pytest.approx(single["score"], abs=1e-4)
    assert os.path.basename(whole["path"]) == os.path.basename(single["path"])
    assert os.path.isfile(whole["path"]) and os.path.isfile(last)  # the earlier run's files are untouched
    half_best = torch.load(last, weights_only=True)["sliceq22_best"]["val/snr_db"]
    own = [v for k, v in resumed["callbacks"].items() if k.startswith("ModelCheckpoint")][0]
    assert whole["score"] == pytest.approx(max(half_best["score"], float(own["best_model_score"])))
    assert "best val/snr_db over the whole training (resumes included)" in out.stderr + out.stdout


def test_ddp_on_cpu_two_processes(tmp_path, data_root):
    _run("train.py", tmp_path, *TINY, f"data.root={data_root}", "trainer=ddp_cpu", "trainer.max_steps=2", "trainer.limit_val_batches=1")
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_resume_refuses_another_model_or_a_finished_run(trained, tmp_path, data_root):
    """These used to end in a wall of state-dict key errors, or in a silent run that trained
    nothing (a finished checkpoint with the same max_epochs)."""
    from sliceq22.lit.run import _check_resume

    last = str(trained[0] / "checkpoints" / "last.ckpt")  # one epoch
    model = torch.load(last, weights_only=True)["sliceq22_config"]["model"]
    _check_resume(last, model, 2)  # one more epoch: fine
    with pytest.raises(ValueError, match="nothing is left to train; raise trainer.max_epochs"):
        _check_resume(last, model, 1)
    with pytest.raises(ValueError, match="other model settings \\(model.net.channels\\)"):
        _check_resume(last, {**model, "net": {**model["net"], "channels": model["net"]["channels"] + 4}}, 2)
    with pytest.raises(ValueError, match="holds a sliceq22.lit.deoverlap.DeOverlapModule, this run builds a sliceq22.lit.demix"):
        _check_resume(last, {**model, "_target_": "sliceq22.lit.demix.DemixModule"}, 2)
    # Lightning restores the saved optimizer and scheduler: new settings would be silently ignored
    with pytest.raises(ValueError, match=r"model.optimizer.lr\).*so model.optimizer.lr would not take effect"):
        _check_resume(last, {**model, "optimizer": {**model["optimizer"], "lr": 0.5}}, 2)
    with pytest.raises(ValueError, match=r"model.scheduler\).*would not take effect"):
        _check_resume(last, {**model, "scheduler": {"_target_": "torch.optim.lr_scheduler.StepLR", "_partial_": True, "step_size": 1}}, 2)
    # unreadable files are one clear error (torch's unsafe weights_only=False advice is not repeated)
    (tmp_path / "empty.ckpt").write_bytes(b"")
    (tmp_path / "text.ckpt").write_text("hello")
    (tmp_path / "trunc.ckpt").write_bytes(open(last, "rb").read()[:5000])
    torch.save({"state_dict": {}}, tmp_path / "bare.ckpt")
    for name in ("empty", "text", "trunc"):
        with pytest.raises(ValueError, match=f"cannot read .*{name}.ckpt as a sliceq22 checkpoint") as err:
            _check_resume(str(tmp_path / f"{name}.ckpt"), model, 2)
        assert "weights_only=False" not in str(err.value)
    with pytest.raises(ValueError, match="carries no sliceq22 model config"):
        _check_resume(str(tmp_path / "bare.ckpt"), model, 2)
    with pytest.raises(ValueError, match="is a folder: give a checkpoint file in it"):
        _check_resume(str(tmp_path), model, 2)
    # a checkpoint from before the lengths were recorded (null: the rule chooses) still resumes
    old = {**model, "transform": {**model["transform"], "slice_len": None, "trans_len": None}}
    state = torch.load(last, weights_only=True)
    state["sliceq22_config"]["model"] = old
    torch.save(state, tmp_path / "old.ckpt")
    _check_resume(str(tmp_path / "old.ckpt"), model, 2)
    cmd = [sys.executable, os.path.join(ROOT, "train.py"), f"hydra.run.dir={tmp_path / 'again'}", *TINY,
           f"data.root={data_root}", "trainer.max_epochs=1", f"ckpt_path={last}"]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 1 and out.stderr.strip().splitlines()[-1].startswith("error: ")
