"""Reading MUSDB-layout folders: splits, checks that name the problem, datasets' items."""

from __future__ import annotations

import logging
import os
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from sliceq22.data.datasets import FixedExcerpts, RandomExcerpts
from sliceq22.data.musdb import find_tracks, musdb_validation_tracks, read_stem


def test_splits(embedded_root):
    train, valid, test = (find_tracks(embedded_root, s) for s in ("train", "valid", "test"))
    assert (len(train), len(valid), len(test)) == (4, 1, 1)
    assert not {t.name for t in train} & {t.name for t in valid}
    assert all(t.is_valid for t in valid) and all(t.subset == "test" for t in test)
    every = find_tracks(embedded_root, "all")
    assert [t.name for t in every] == [t.name for t in train + valid + test]
    with pytest.raises(ValueError, match="unknown subset"):
        find_tracks(embedded_root, "everything")


def test_validation_split_of_other_musdb_layout_data(embedded_root, tmp_path, caplog):
    """Data in the MUSDB layout that is neither a render nor MUSDB18-HQ (e.g. an OnAir
    conversion): every sixth training track validates, or the tracks a valid.txt lists."""
    caplog.set_level(logging.INFO, logger="sliceq22.data.musdb")
    root = tmp_path / "mine"
    shutil.copytree(os.path.join(embedded_root, "train"), root / "train")
    every = sorted(os.listdir(root / "train"))  # 5 tracks: the render's 4 train + 1 valid
    valid = find_tracks(str(root), "valid")
    assert [t.name for t in valid] == [every[1]] and all(t.is_valid for t in valid)
    assert [t.name for t in find_tracks(str(root), "train")] == [n for n in every if n != every[1]]
    (root / "valid.txt").write_text(f"# my choice\n{every[3]}\n{every[4]}\n")
    assert [t.name for t in find_tracks(str(root), "valid")] == every[3:5]
    (root / "valid.txt").write_text("Nobody - Nothing\n")
    with pytest.raises(ValueError, match="Nobody - Nothing"):
        find_tracks(str(root), "train")
    (root / "valid.txt").unlink()
    os.rename(root / "train" / every[0], root / "train" / "Actions - One Minute Smile")  # looks like MUSDB18-HQ
    assert [t.name for t in find_tracks(str(root), "valid")] == ["Actions - One Minute Smile"]  # musdb's list
    # a partial MUSDB copy validates on what it has of musdb's list, and says so (once)
    assert "validation tracks by musdb's validation list (1 of its 14 tracks found): Actions - One Minute Smile" in caplog.text
    assert "every sixth track" in caplog.text  # the earlier fallback was logged too


def test_musdb_validation_split_is_musdbs():
    names = musdb_validation_tracks()
    assert len(names) == 14 and "Actions - One Minute Smile" in names


def _copy_track(root, tmp_path):
    src = find_tracks(root, "train")[0].path
    dst = tmp_path / "data" / "train" / "A - B"
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize(
    "breakage,match",
    [
        ("missing", "missing stem bass.wav"),
        ("short", "differ in length"),
        ("rate", "expected 44100 Hz"),
        ("mono", "mono where stereo is expected"),
        ("empty", "holds no audio"),
        ("garbage", "cannot read .*bass.wav as audio"),  # a LibsndfileError: a traceback from train.py
    ],
)
def test_broken_tracks_are_named(embedded_root, tmp_path, breakage, match):
    track = _copy_track(embedded_root, tmp_path)
    bass = track / "bass.wav"
    data, sr = sf.read(bass, dtype="float32")
    if breakage == "missing":
        os.remove(bass)
    elif breakage == "short":
        sf.write(bass, data[:-10], sr, subtype="FLOAT")
    elif breakage == "rate":
        sf.write(bass, data, 22050, subtype="FLOAT")
    elif breakage == "mono":
        sf.write(bass, data[:, 0], sr, subtype="FLOAT")
    elif breakage == "garbage":
        bass.write_bytes(b"RIFF0000WAVEnot really audio")
    else:
        sf.write(bass, np.zeros((0, 2), np.float32), sr, subtype="FLOAT")
    before = sorted(os.listdir(track))
    with pytest.raises(ValueError, match=match):
        find_tracks(str(tmp_path / "data"), "train")
    assert sorted(os.listdir(track)) == before  # nothing changed on disk


def test_mono_converted_when_asked(embedded_root, tmp_path):
    track = _copy_track(embedded_root, tmp_path)
    data, sr = sf.read(track / "bass.wav", dtype="float32")
    sf.write(track / "bass.wav", data[:, 0], sr, subtype="FLOAT")
    (t,) = find_tracks(str(tmp_path / "data"), "train", mono_to_stereo=True)
    x = read_stem(t, "bass", 0, 100)
    assert x.shape == (2, 100) and np.array_equal(x[0], x[1])


def test_bad_roots(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        find_tracks(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="not MUSDB18-HQ-like"):
        find_tracks(str(tmp_path))
    (tmp_path / "train" / ".ipynb_checkpoints").mkdir(parents=True)  # hidden folders are not tracks
    with pytest.raises(ValueError, match="no training tracks"):
        find_tracks(str(tmp_path))
    (tmp_path / "train" / "A - B.stem.mp4").write_bytes(b"")  # the MUSDB18 (STEMS) release, not HQ
    with pytest.raises(ValueError, match="holds MUSDB18's .stem.mp4 files \\(1\\).*musdbconvert"):
        find_tracks(str(tmp_path))
    with pytest.raises(ValueError, match="no test tracks .*no test/ folder"):
        find_tracks(str(tmp_path), "test")


def test_a_render_without_validation_tracks_says_how_many_to_render(tmp_path):
    from sliceq22.data.render import plan_split

    assert plan_split(2)[1] == [] and plan_split(3)[1]  # the number the message gives
    root = tmp_path / "data"
    (root / "train" / "only").mkdir(parents=True)
    (root / "render.json").write_text('{"complete": true, "tracks": [{"name": "only", "subset": "train", "valid": false}]}')
    with pytest.raises(ValueError, match=r"no validation tracks .*data.render.tracks=3"):
        find_tracks(str(root), "valid")


def test_random_excerpts(embedded_root):
    torch.manual_seed(0)
    ds = RandomExcerpts(embedded_root, seconds=1.0, samples_per_track=4, targets=("vocals", "accompaniment"))
    assert len(ds) == 16
    mix, tgt = ds[0]
    assert mix.shape == (2, 44100) and tgt.shape == (2, 2, 44100) and mix.dtype == torch.float32
    torch.testing.assert_close(tgt.sum(0), mix, atol=1e-5, rtol=0)  # vocals + accompaniment = mixture
    torch.manual_seed(0)
    again = ds[0]
    assert torch.equal(again[0], mix)
    with pytest.raises(ValueError, match="unknown targets"):
        RandomExcerpts(embedded_root, targets=("guitar",))
    with pytest.raises(ValueError, match="shorter than"):
        RandomExcerpts(embedded_root, seconds=60.0)


def test_fixed_excerpts_use_the_tracks_mixture(embedded_root):
    ds = FixedExcerpts(embedded_root, "test", seconds=2.0)
    mix, tgt = ds[0]
    assert mix.shape == (2, 88200) and tgt.shape == (4, 2, 88200)
    torch.testing.assert_close(tgt.sum(0), mix, atol=1e-6, rtol=0)
    assert FixedExcerpts(embedded_root, "valid")[0][0].shape == (2, 4 * 44100)  # whole track


def _copy_render(embedded_root, tmp_path):
    dst = tmp_path / "render"
    shutil.copytree(embedded_root, dst)
    return dst


def test_unfinished_or_incomplete_renders_are_refused(embedded_root, tmp_path):
    """A render killed midway (render.json complete=false) or missing a listed track was read as
    if complete: training on 1 of 3 tracks, or a wrong hint about validation tracks."""
    import json

    root = _copy_render(embedded_root, tmp_path)
    manifest = json.loads((root / "render.json").read_text())
    (root / "render.json").write_text(json.dumps({**manifest, "complete": False}))
    with pytest.raises(ValueError, match="unfinished render.*run the same render again"):
        find_tracks(str(root), "train")
    (root / "render.json").write_text(json.dumps(manifest))
    gone = next(t for t in manifest["tracks"] if t["subset"] == "train")
    shutil.rmtree(root / "train" / gone["name"])
    with pytest.raises(ValueError, match="lists 1 track.*not on disk"):
        find_tracks(str(root), "train")
    (root / "render.json").write_text("{not json")
    with pytest.raises(ValueError, match="render.json is not a readable render manifest"):
        find_tracks(str(root), "train")


def test_nan_samples_are_named_when_read(embedded_root, tmp_path):
    track = _copy_track(embedded_root, tmp_path)
    data, sr = sf.read(track / "vocals.wav", dtype="float32")
    data[1000, 1] = np.nan
    sf.write(track / "vocals.wav", data, sr, subtype="FLOAT")
    (t,) = find_tracks(str(tmp_path / "data"), "train")
    with pytest.raises(ValueError, match="vocals.wav holds NaN or infinite samples .first at frame 1000"):
        read_stem(t, "vocals", 0, 2000)


def test_without_random_mix_an_item_is_an_excerpt_of_the_real_mix(embedded_root):
    """Every source was read at its own random offset even with random_mix=False."""
    ds = RandomExcerpts(embedded_root, seconds=1.0, samples_per_track=2, random_mix=False, gain_range=None, channel_swap=False)
    mix, targets = ds[(0, 7)]
    torch.testing.assert_close(targets.sum(0), mix)
    track = ds.tracks[0]
    full = torch.from_numpy(read_stem(track, "mixture"))
    hits = [s for s in range(0, track.frames - ds.frames + 1, 1) if torch.allclose(full[:, s : s + 8], mix[:, :8], atol=1e-6)]
    assert hits and torch.allclose(full[:, hits[0] : hits[0] + ds.frames], mix, atol=1e-5)


def test_target_and_gain_arguments(embedded_root):
    ds = RandomExcerpts(embedded_root, seconds=1.0, targets="vocals")  # data.targets=vocals on a command line
    assert ds.targets == ("vocals",)
    with pytest.raises(ValueError, match="twice"):
        RandomExcerpts(embedded_root, seconds=1.0, targets=("vocals", "vocals"))
    with pytest.raises(ValueError, match="no targets"):
        RandomExcerpts(embedded_root, seconds=1.0, targets=())
    with pytest.raises(ValueError, match="gain_range"):
        RandomExcerpts(embedded_root, seconds=1.0, gain_range=(1.25, 0.25))


def test_valid_txt_beside_a_render_is_reported_as_ignored(embedded_root, tmp_path):
    root = _copy_render(embedded_root, tmp_path)
    (root / "valid.txt").write_text("nothing here\n")
    with pytest.warns(UserWarning, match="valid.txt there is ignored"):
        find_tracks(str(root), "valid")


def test_validation_items_of_unequal_length_are_not_batched(embedded_root, tmp_path):
    """A validation track shorter than valid_seconds comes whole: batching it with longer ones
    raised 'stack expects each tensor to be equal size'."""
    from sliceq22.lit.datamodule import MusicDataModule

    src = find_tracks(embedded_root, "train")[:2]
    for i, t in enumerate(src):
        dst = tmp_path / "data" / "train" / f"T{i}"
        shutil.copytree(t.path, dst)
        if i == 0:
            for f in dst.iterdir():
                data, sr = sf.read(f, dtype="float32")
                sf.write(f, data[: 2 * sr], sr, subtype="FLOAT")
    (tmp_path / "data" / "valid.txt").write_text("T0\nT1\n")
    shutil.copytree(src[1].path, tmp_path / "data" / "train" / "T2")  # the training track
    dm = MusicDataModule(str(tmp_path / "data"), seconds=1.0, batch_size=2, valid_seconds=3.0, num_workers=0, targets="vocals")
    dm.setup("fit")
    assert dm.targets == ("vocals",)
    lengths = [mix.shape[-1] for mix, _ in dm.val_dataloader()]
    assert sorted(lengths) == [2 * 44100, 3 * 44100]
