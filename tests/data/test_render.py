"""The embedded dataset: layout, mixture = sum of stems, determinism, never overwriting."""

from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest
import soundfile as sf

from sliceq22.data.render import render_dataset
from sliceq22.data.songs import STEMS, STYLES, compose_song

FILES = ("mixture",) + STEMS


def _tracks(root):
    return sorted(glob.glob(os.path.join(root, "*", "*")))


def test_layout_and_mixture_is_sum_of_stems(embedded_root):
    tracks = _tracks(embedded_root)
    assert len(tracks) == 6
    assert {os.path.basename(os.path.dirname(t)) for t in tracks} == {"train", "test"}
    for t in tracks:
        assert os.path.basename(t).startswith("sliceq22 - ")
        audio = {}
        for name in FILES:
            data, sr = sf.read(os.path.join(t, f"{name}.wav"), dtype="float32", always_2d=True)
            assert sr == 44100 and data.shape == (4 * 44100, 2)
            assert sf.info(os.path.join(t, f"{name}.wav")).subtype == "FLOAT"
            audio[name] = data.astype(np.float64)
        total = sum(audio[s] for s in STEMS)
        assert np.abs(audio["mixture"] - total).max() <= 4 * np.finfo(np.float32).eps
        assert max(np.abs(a).max() for a in audio.values()) < 1.0  # no clipping anywhere
        for s in STEMS:  # every stem sounds
            assert np.sqrt((audio[s] ** 2).mean()) > 1e-3, (t, s)
    manifest = json.load(open(os.path.join(embedded_root, "render.json")))
    assert manifest["complete"] and sum(t["valid"] for t in manifest["tracks"]) == 1


def test_same_seed_same_bytes_other_seed_other_music(tmp_path, embedded_root):
    again = str(tmp_path / "again")
    render_dataset(again, tracks=6, seconds=4.0, seed=7, progress=False)
    for a, b in zip(_tracks(embedded_root), _tracks(again)):
        assert os.path.basename(a) == os.path.basename(b)
        for name in FILES:  # identical samples (the files differ only in libsndfile's PEAK-chunk timestamp)
            assert np.array_equal(sf.read(os.path.join(a, f"{name}.wav"))[0], sf.read(os.path.join(b, f"{name}.wav"))[0])
    other = str(tmp_path / "other")
    render_dataset(other, tracks=2, seconds=4.0, seed=8, progress=False)
    assert [os.path.basename(t) for t in _tracks(other)] != [os.path.basename(t) for t in _tracks(embedded_root)[:2]]


def test_reuse_refuse_and_resume(tmp_path):
    root = str(tmp_path / "set")
    m1 = render_dataset(root, tracks=2, seconds=2.0, seed=1, progress=False)
    stamp = {f: os.path.getmtime(f) for f in glob.glob(os.path.join(root, "*", "*", "*.wav"))}
    assert render_dataset(root, tracks=2, seconds=2.0, seed=1, progress=False) == m1
    assert stamp == {f: os.path.getmtime(f) for f in stamp}  # reused, not rewritten
    with pytest.raises(ValueError, match="already holds a render"):
        render_dataset(root, tracks=3, seconds=2.0, seed=1, progress=False)
    # an interrupted render (manifest incomplete, one track missing) resumes
    manifest = json.load(open(os.path.join(root, "render.json")))
    manifest["complete"] = False
    json.dump(manifest, open(os.path.join(root, "render.json"), "w"))
    victim = _tracks(root)[0]
    for f in glob.glob(os.path.join(victim, "*")):
        os.remove(f)
    os.rmdir(victim)
    render_dataset(root, tracks=2, seconds=2.0, seed=1, progress=False)
    assert len(_tracks(root)) == 2 and json.load(open(os.path.join(root, "render.json")))["complete"]


def test_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("precious")
    with pytest.raises(ValueError, match="not a sliceq22 render"):
        render_dataset(str(tmp_path), tracks=1, seconds=2.0, progress=False)
    assert (tmp_path / "mine.txt").read_text() == "precious" and len(os.listdir(tmp_path)) == 1


def test_bad_arguments_claim_nothing(tmp_path):
    """seconds=0.01 or sample_rate=0 failed deep inside the synthesis after render.json had
    claimed the root, so the retry with good arguments was refused."""
    from sliceq22.data.render import main
    from sliceq22.data.scenarios import render_alignment, render_bach10

    root = tmp_path / "r"
    for kwargs, needle in ((dict(seconds=1.0), "seconds must be >= 2"), (dict(seed=-1), "seed must be"), (dict(sample_rate=0), "sample_rate must be"),
                           (dict(tracks=0), "tracks must be")):
        with pytest.raises(ValueError, match=needle):
            render_dataset(str(root), **{**dict(tracks=2, seconds=2.0, progress=False), **kwargs})
    with pytest.raises(ValueError, match="pieces must be"):
        render_bach10(str(root), pieces=0)
    with pytest.raises(ValueError, match="scenarios must be"):
        render_alignment(str(root), scenarios=-1)
    assert not root.exists()
    with pytest.raises(SystemExit):  # --seconds means nothing to the score-driven kinds
        main(["--kind", "bach10", "--root", str(root), "--seconds", "5"])
    render_dataset(str(root), tracks=2, seconds=2.0, progress=False)  # the retry works
    assert len(_tracks(str(root))) == 2


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_composes_four_sounding_parts(style):
    song = compose_song(3, 20.0, style=style)
    assert [p.stem for p in song.parts] == list(STEMS)
    for p in song.parts:
        assert p.notes and all(0 <= n.start < n.end <= 20.0 for n in p.notes)
        assert all(0 <= n.pitch <= 127 and 1 <= n.velocity <= 127 for n in p.notes)
    vocal_time = sum(n.end - n.start for n in song.parts[3].notes)
    assert 0.2 * 20 < vocal_time < 0.95 * 20  # a lead that also rests
