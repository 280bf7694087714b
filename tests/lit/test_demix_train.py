"""The demixing experiment end to end on CPU: a fast_dev_run and one tiny epoch with its checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
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


def _run(run_dir, *overrides, script="train.py", ok=True):
    cmd = [sys.executable, os.path.join(ROOT, script), f"hydra.run.dir={run_dir}", *overrides]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    if ok:
        assert out.returncode == 0, out.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("emb"))


def test_fast_dev_run_stft_control(tmp_path, data_root):
    _run(tmp_path, *TINY, "transform=stft_2048", f"data.root={data_root}", "trainer.fast_dev_run=true")


def test_fast_dev_run_per_target_transforms(tmp_path, data_root):
    tiny = [o for o in TINY if not o.startswith("transform=")]  # its own transforms: transform= is refused
    _run(tmp_path, *tiny, "model=demix_per_target", f"data.root={data_root}", "trainer.fast_dev_run=true")
    out = _run(tmp_path / "bad", *tiny, "model=demix_per_target", f"data.root={data_root}", "data.targets=[vocals]",
               "trainer.fast_dev_run=true", ok=False)
    assert out.returncode != 0 and "data yields" in out.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_root):
    run = tmp_path_factory.mktemp("run")
    _run(run, *TINY, f"data.root={data_root}", "trainer.max_epochs=1")
    return run


def test_one_epoch_writes_a_self_describing_checkpoint(trained):
    tmp_path = trained
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
    # pictures and sound sit at the step of the validation scalars they illustrate
    val_steps = {e.step for e in acc.Scalars("val/sdr")}
    assert {e.step for e in acc.Images(tags["images"][0])} == val_steps
    assert {e.step for e in acc.Audio("examples/mixture")} == val_steps


def test_infer_writes_stems_safely(trained, tmp_path):
    ckpt = trained / "checkpoints" / "last.ckpt"
    songs = tmp_path / "songs"
    songs.mkdir()
    sf.write(songs / "mono22k.wav", 0.1 * np.random.default_rng(0).standard_normal(22050), 22050, subtype="PCM_16")
    sf.write(songs / "stereo.flac", 0.1 * np.random.default_rng(1).standard_normal((30000, 2)), 44100)
    out = tmp_path / "stems"
    _run(tmp_path / "h1", f"ckpt={ckpt}", f"input={songs}", f"output={out}", "subtype=input", "wiener_iterations=1", script="infer.py")
    mono, rate = sf.read(out / "mono22k" / "vocals.wav", always_2d=True)
    assert rate == 22050 and mono.shape == (22050, 1)
    assert sf.info(out / "mono22k" / "vocals.wav").subtype == "PCM_16"  # the input's bit depth
    stereo = {t: sf.read(out / "stereo" / f"{t}.wav", always_2d=True)[0] for t in ("drums", "bass", "other", "vocals")}
    assert all(v.shape == (30000, 2) for v in stereo.values())
    before = (out / "stereo" / "bass.wav").stat().st_mtime_ns
    again = _run(tmp_path / "h2", f"ckpt={ckpt}", f"input={songs}", f"output={out}", script="infer.py", ok=False)
    assert again.returncode != 0 and "refusing to overwrite" in again.stderr
    assert (out / "stereo" / "bass.wav").stat().st_mtime_ns == before
    mixed = tmp_path / "mixed"  # a good file first, a corrupt one after it: neither is separated
    mixed.mkdir()
    sf.write(mixed / "a_good.wav", 0.1 * np.random.default_rng(2).standard_normal(22050), 22050)
    (mixed / "b_bad.wav").write_bytes(b"RIFF0000WAVEnot really audio")
    broken = _run(tmp_path / "h3", f"ckpt={ckpt}", f"input={mixed}", f"output={tmp_path / 'none'}", script="infer.py", ok=False)
    assert broken.returncode != 0 and "cannot read" in broken.stderr
    assert not (tmp_path / "none").exists() or not any((tmp_path / "none").rglob("*.wav"))


def test_checkpoint_evaluates_through_the_contract(trained, data_root, tmp_path):
    ckpt = trained / "checkpoints" / "last.ckpt"
    _run(tmp_path, "separator=demix", f"separator.ckpt={ckpt}", f"data.root={data_root}", "data.render=null", "seconds=2",
         script="evaluate.py")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["sigsep"]) == {"drums", "bass", "other", "vocals"}


def test_checkpoint_config_cannot_build_arbitrary_callables(trained, tmp_path, monkeypatch, capsys):
    """weights_only=True stops pickles, but the config inside names the classes to build:
    a tampered checkpoint must not get a call out of the loader."""
    from hydra.errors import InstantiationException

    from sliceq22.lit.infer import load_separator

    state = torch.load(trained / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    state["sliceq22_config"]["model"]["model"]["transform"] = {"_target_": "builtins.print", "_args_": ["PWNED"]}
    bad = tmp_path / "tampered.ckpt"
    torch.save(state, bad)
    with pytest.raises(ValueError, match="asks to build 'builtins.print'.*SLICEQ22_TRUSTED_TARGETS"):
        load_separator(str(bad))
    assert "PWNED" not in capsys.readouterr().out
    monkeypatch.setenv("SLICEQ22_TRUSTED_TARGETS", "mylab., builtins.")  # the user's own, explicit choice
    with pytest.raises(InstantiationException):  # now built (print returns None), then fails as a model
        load_separator(str(bad))
    assert "PWNED" in capsys.readouterr().out



def test_trusted_prefixes_do_not_reach_modules_they_import(tmp_path):
    """A prefix test let 'sliceq22.data.render.shutil.copyfile' through (render imports shutil):
    a tampered checkpoint overwrote a file before the loader noticed anything."""
    from sliceq22.lit.infer import _trusted_target

    src, dst = tmp_path / "src.txt", tmp_path / "victim.txt"
    src.write_text("ATTACKER")
    dst.write_text("the user's")
    for target in ("sliceq22.transforms.SliCQT", "sliceq22.lit.demix.DemixModule", "sliceq22.models.DeOverlapNet",
                   "torch.optim.AdamW", "torch.optim.lr_scheduler.CosineAnnealingLR"):
        assert _trusted_target(target), target
    for target in ("sliceq22.data.render.shutil.copyfile", "sliceq22.data.audio.os.remove", "sliceq22.lit.infer.torch.load",
                   "sliceq22.data.audio.save_audio",  # a sliceq22 function that writes files: not a model class
                   "sliceq22.transforms.SliCQT.__init__.__globals__", "torch.optim.AdamW.__init__", "torch.save",
                   "sliceq22.nope.Missing", "sliceq22..x", "sliceq22"):
        assert not _trusted_target(target), target
    from sliceq22.lit.infer import _check_targets

    with pytest.raises(ValueError, match="asks to build 'sliceq22.data.render.shutil.copyfile'"):
        _check_targets({"_target_": "sliceq22.data.render.shutil.copyfile", "src": str(src), "dst": str(dst)}, "x.ckpt")
    assert dst.read_text() == "the user's"


def test_weights_that_do_not_match_the_config_are_one_error(trained, tmp_path):
    from sliceq22.lit.infer import load_separator

    state = torch.load(trained / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    state["state_dict"].pop(next(iter(state["state_dict"])))
    bad = tmp_path / "edited.ckpt"
    torch.save(state, bad)
    with pytest.raises(ValueError, match="edited.ckpt: its weights do not match the model its config builds"):
        load_separator(str(bad))


def test_a_checkpoint_without_a_model_config_is_one_error(trained, tmp_path):
    """``{'model': None}`` crashed infer.py with a Hydra-wrapped AttributeError."""
    from sliceq22.lit.infer import load_separator, run

    state = torch.load(trained / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    state["sliceq22_config"]["model"] = None
    bad = tmp_path / "noconfig.ckpt"
    torch.save(state, bad)
    wav = tmp_path / "song.wav"
    sf.write(wav, np.zeros((4410, 2)), 44100)
    for call in (lambda: load_separator(str(bad)), lambda: run(str(bad), str(wav), str(tmp_path / "out"))):
        with pytest.raises(ValueError, match="noconfig.ckpt carries no sliceq22 config"):
            call()
