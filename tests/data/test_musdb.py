"""Reading MUSDB-layout folders: splits, checks that name the problem, datasets' items."""

from __future__ import annotations

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


def test_validation_split_of_other_musdb_layout_data(embedded_root, tmp_path):
    """Data in the MUSDB layout that is neither a render nor MUSDB18-HQ (e.g. an OnAir
    conversion): every sixth training track validates, or the tracks a valid.txt lists."""
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


def test_a_render_without_validation_tracks_says_how_many_to_render(tmp_path):
    from sliceq22.data.render import plan_split

    assert plan_split(2)[1] == [] and plan_split(3)[1]  # the number the message gives
    root = tmp_path / "data"
    (root / "train" / "only").mkdir(parents=True)
    (root / "render.json").write_text('{"tracks": [{"name": "only", "valid": false}]}')
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
