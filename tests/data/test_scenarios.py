"""Chorales, tempo maps, Bach10-style stems and the alignment scenarios with their ground truth."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf

from sliceq22.data.corpus import VOICES, TempoMap, bach_chorales
from sliceq22.data.render import active_rms
from sliceq22.data.scenarios import BACH10, read_beats, read_scenario_info, render_alignment, render_bach10

pytest.importorskip("music21")


def test_tempo_map_exact_without_drift_and_smooth_with_it():
    flat = TempoMap(90.0, stretch=1.25, lead_in=1.5, depth=0.0)
    np.testing.assert_allclose(flat.seconds([0, 4, 10]), 1.5 + np.array([0, 4, 10]) * 60 / (90 * 1.25), rtol=1e-12)
    wob = TempoMap(90.0, stretch=0.8, lead_in=0.5, depth=0.1, seed=3)
    t = wob.seconds(np.arange(0, 64, 0.25))
    ioi = np.diff(t)
    assert np.all(ioi > 0)
    assert ioi.max() / ioi.min() > 1.05  # the tempo does drift
    # but smoothly: d(tempo)/d(beat) <= depth * 2 pi / 6 (shortest period 6 beats), per quarter beat
    assert np.abs(np.diff(ioi)).max() < 0.1 * 2 * np.pi / 6 * 0.25 * 1.5 * ioi.mean()
    with pytest.raises(ValueError):
        TempoMap(90.0, stretch=0)


def test_chorales_are_satb_and_deterministic():
    a, b = bach_chorales(2, seed=4), bach_chorales(2, seed=4)
    assert [s.name for s in a] == [s.name for s in b]
    for s in a:
        assert list(s.voices) == list(VOICES) and s.beats > 8
        sop = np.mean([p for _, _, p in s.voices["soprano"]])
        bas = np.mean([p for _, _, p in s.voices["bass"]])
        assert sop > bas + 12


@pytest.fixture(scope="module")
def alignment_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("align"))
    render_alignment(root, scenarios=2, seed=1)
    return root


def test_alignment_layout_and_ground_truth(alignment_root):
    for s in ("s1", "s2"):
        folder = os.path.join(alignment_root, s)
        info = read_scenario_info(folder)
        assert info["piece"] and 0.8 <= min(info["tempo_factor"].values()) <= max(info["tempo_factor"].values()) <= 1.25
        for rec in ("p", "o", "po"):
            y, sr = sf.read(os.path.join(folder, f"{rec}.wav"))
            assert sr == 22050 and y.ndim == 1 and np.abs(y).max() < 1
            beats = read_beats(os.path.join(folder, f"{rec}.beats"))
            assert len(beats) == info["beats"] and np.all(np.diff(beats) > 0)
            assert beats[0] == pytest.approx(info["lead_in_seconds"][rec], abs=1e-6)
            # silence during the lead-in, sound right after the first beat
            lead = int((beats[0] - 0.05) * sr)
            assert np.abs(y[:lead]).max() < 1e-4
            assert np.sqrt(np.mean(y[int(beats[0] * sr) : int((beats[0] + 0.5) * sr)] ** 2)) > 1e-3
            assert beats[-1] < len(y) / sr
        assert info["orch_start_sec"] == pytest.approx(read_beats(os.path.join(folder, "po.beats"))[0])


def test_piano_balanced_against_orchestra(alignment_root):
    folder = os.path.join(alignment_root, "s1")
    p, sr = sf.read(os.path.join(folder, "p.wav"))
    o, _ = sf.read(os.path.join(folder, "o.wav"))
    ratio_db = 20 * np.log10(active_rms(p[None], sr) / active_rms(o[None], sr))
    assert ratio_db == pytest.approx(read_scenario_info(folder)["piano_db_vs_orchestra"], abs=2.0)


def test_bach10_stems_sum_to_mix_and_notes_match(tmp_path):
    root = str(tmp_path / "b10")
    manifest = render_bach10(root, pieces=1, seed=2)
    folder = os.path.join(root, manifest["pieces"][0]["name"])
    stems = {name: sf.read(os.path.join(folder, f"{name}.wav"))[0] for name, _ in BACH10.values()}
    mix, sr = sf.read(os.path.join(folder, "mix.wav"))
    assert sr == 44100 and np.abs(mix - sum(stems.values())).max() < 1e-6
    notes = json.load(open(os.path.join(folder, "notes.json")))
    assert set(notes) == set(stems)
    for name, ns in notes.items():
        first = min(n[0] for n in ns)
        assert np.abs(stems[name][: int((first - 0.05) * sr)]).max() < 1e-4  # silent before its first note
    assert render_bach10(root, pieces=1, seed=2) == json.load(open(os.path.join(root, "render.json")))  # reused
    with pytest.raises(ValueError, match="already holds a render"):
        render_bach10(root, pieces=2, seed=2)


def test_an_interrupted_alignment_render_resumes(tmp_path, monkeypatch):
    """render.json was written only at the end, so the retry after an interruption was refused
    as a foreign folder; now it resumes and gives the same scenarios."""
    import sliceq22.data.scenarios as scenarios

    real, calls = scenarios.write_track, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    root = str(tmp_path / "a")
    monkeypatch.setattr(scenarios, "write_track", interrupted)
    with pytest.raises(KeyboardInterrupt):
        render_alignment(root, scenarios=2, seed=1, sample_rate=8000)
    assert os.path.isfile(os.path.join(root, "s1", "p.beats")) and not os.path.isdir(os.path.join(root, "s2"))
    from sliceq22.align.runner import scenario_dirs

    with pytest.raises(ValueError, match="unfinished render"):
        scenario_dirs(root)
    monkeypatch.setattr(scenarios, "write_track", real)
    manifest = render_alignment(root, scenarios=2, seed=1, sample_rate=8000)
    assert manifest["complete"] and [s["name"] for s in manifest["scenarios"]] == ["s1", "s2"]
    fresh = render_alignment(str(tmp_path / "b"), scenarios=2, seed=1, sample_rate=8000)
    assert fresh["scenarios"] == manifest["scenarios"]
    for f in ("s1/po.wav", "s2/po.wav"):  # samples (float wav headers carry a write time)
        np.testing.assert_array_equal(sf.read(os.path.join(root, f))[0], sf.read(os.path.join(str(tmp_path / "b"), f))[0])
    assert open(os.path.join(root, "s2", "o.beats")).read() == open(os.path.join(str(tmp_path / "b"), "s2", "o.beats")).read()
