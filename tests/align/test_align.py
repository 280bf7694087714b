"""Alignment systems run on a rendered scenario, write increasing hypotheses, and are scored exactly."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from sliceq22.align import SYSTEMS, compose, offline_processing, online_processing
from sliceq22.align.runner import format_table, job, run
from sliceq22.data.scenarios import read_beats, render_alignment
from sliceq22.eval.alignment import beat_errors, error_rates

pytest.importorskip("music21")


@pytest.fixture(scope="module")
def scenario_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("al"))
    render_alignment(root, scenarios=1, seed=4)
    return root


def test_error_rates_are_exact_on_known_hypotheses():
    p = np.array([1.0, 2.0, 3.0, 4.0])
    o = np.array([2.0, 3.0, 4.5, 5.0])
    hyp = np.stack((np.array([0.0, 5.0]), np.array([1.0, 6.0])))  # o = p + 1
    err = beat_errors(hyp, p, o)
    np.testing.assert_allclose(err, [0, 0, -0.5, 0])
    assert error_rates(err) == {100: 0.25, 200: 0.25, 500: 0.0, 1000: 0.0, 2000: 0.0}
    with pytest.raises(ValueError, match="2 x L"):
        beat_errors(np.zeros((3, 4)), p, o)


def test_compose_follows_both_paths():
    ab = np.array([[0, 1, 2, 3], [0, 2, 4, 6]])
    bc = np.array([[0, 2, 2, 4, 6], [10, 11, 13, 14, 16]])
    np.testing.assert_allclose(compose(ab, bc), [[0, 1, 2, 3], [10, 12, 14, 16]])


@pytest.mark.parametrize("system", SYSTEMS)
def test_systems_align_a_scenario(scenario_root, tmp_path, system):
    sdir = os.path.join(scenario_root, "s1")
    offline_processing(sdir, str(tmp_path / "cache"), 1024)
    hyp = online_processing(sdir, str(tmp_path / system), str(tmp_path / "cache"), 1024, system=system)
    saved = np.load(tmp_path / system / "hyp.npy")
    np.testing.assert_array_equal(saved, hyp)
    assert saved.shape[0] == 2 and np.all(np.diff(saved, axis=1) >= 0)
    err = beat_errors(hyp, read_beats(os.path.join(sdir, "p.beats")), read_beats(os.path.join(sdir, "o.beats")))
    assert error_rates(err)[1000] < 0.2  # far better than chance on a drifting-tempo performance
    with pytest.raises(ValueError, match="already exists"):
        online_processing(sdir, str(tmp_path / system), str(tmp_path / "cache"), 1024, system=system)
    # features of another hop would be read as times at this hop (error rate 1.0 at every tolerance)
    with pytest.raises(ValueError, match="made with hop_length=1024, not 512"):
        online_processing(sdir, str(tmp_path / "hop512"), str(tmp_path / "cache"), 512, system=system)
    with pytest.raises(ValueError, match="made with hop_length=1024, not 512"):
        offline_processing(sdir, str(tmp_path / "cache"), 512)


def test_runner_reports_every_system(scenario_root, tmp_path):
    res = run(scenario_root, ["pairwise", "bridge"], 1024, str(tmp_path / "out"))
    assert set(res) == {"pairwise", "bridge"}
    assert all(0 <= v <= 1 for r in res.values() for v in r["error_rate"].values())


def test_job_writes_tables_and_refuses_unknown_systems(scenario_root, tmp_path):
    res = job(scenario_root, ["bridge", "onset"], 1024, str(tmp_path / "run"), render=False)
    assert set(res) == {"bridge", "onset"}
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["results"]["onset"]["scenarios"] == 1
    assert format_table(res) in (tmp_path / "run" / "results.md").read_text()
    with pytest.raises(ValueError, match="unknown alignment system"):
        run(scenario_root, ["bridge", "dtw9000"], 1024, str(tmp_path / "other"))


def test_onset_features_mark_attacks_and_survive_silence():
    import torch

    from sliceq22.classic import chroma_onsets

    pitch = torch.zeros(2, 24, 50, dtype=torch.float64)
    pitch[0, 9, 10:] = 1.0  # an A starting at frame 10 ...
    pitch[1, 21, 30:] = 1e-3  # ... and a quiet A an octave up starting at frame 30
    d = chroma_onsets(pitch, decay=5)
    assert d.shape == (2, 12, 50) and torch.isfinite(d).all()
    assert d[0, 9, :10].abs().max() == 0 and d[0, 9, 10] == d[0].max()  # causal, peaks at the onset
    assert (d[0, 9, 10:15] > 0).all() and d[0, 9, 15:].abs().max() < 1e-12  # decays over 5 frames
    torch.testing.assert_close(d[1, 9, 30], d[0, 9, 10])  # local normalisation: level-free
    assert d[:, [c for c in range(12) if c != 9]].abs().max() == 0  # only the onset's class
    assert torch.isfinite(chroma_onsets(torch.zeros(1, 12, 8))).all()  # silence: zeros, no NaN


def test_time_stretch_interpolates_gaps_of_any_width():
    """Steps such as (1, 3) leave several reference frames between two path points; each was
    averaged with a neighbour not yet filled (still 0): [1, 0.5, 1.25, 2, ...]."""
    from sliceq22.align.systems import time_stretch_part

    out = time_stretch_part(np.array([[1.0, 2, 3, 4]]), 10, np.array([[0, 1, 2, 3], [0, 3, 6, 9]]))
    np.testing.assert_allclose(out[0], np.linspace(1, 4, 10))
    one = time_stretch_part(np.array([[1.0, 2, 3]]), 5, np.array([[0, 1, 2], [0, 2, 4]]))  # the default steps' gaps
    np.testing.assert_allclose(one[0], [1, 1.5, 2, 2.5, 3])


def test_scenarios_caches_and_beats_are_checked(scenario_root, tmp_path):
    """An orchestra at another rate was timed at the piano's rate; an output folder reused with
    another root aligned against the first root's cached features; empty, unsorted, non-numeric
    or out-of-range beat files were scored (NaN, or clamped by np.interp) or failed unnamed."""
    import shutil

    import soundfile as sf

    sdir = os.path.join(scenario_root, "s1")
    other = tmp_path / "other" / "s1"
    shutil.copytree(sdir, other)
    audio, rate = sf.read(other / "o.wav")
    sf.write(other / "o.wav", audio, rate // 2)
    with pytest.raises(ValueError, match="different sample rates.*o.wav 22050 Hz"):
        offline_processing(str(other), str(tmp_path / "c0"), 1024)
    sf.write(other / "o.wav", audio, rate)  # back at the common rate: another scenario's files now
    offline_processing(sdir, str(tmp_path / "cache"), 1024)
    with pytest.raises(ValueError, match="the feature cache .* was made from .*s1, not from .*other/s1"):
        offline_processing(str(other), str(tmp_path / "cache"), 1024)
    beats = tmp_path / "x.beats"
    for text, needle in (("", "holds no beats"), ("1.0\n0.5\n", "decrease at line 2"), ("1.0\nabc\n", "line 2: 'abc'"),
                         ("1.0\n100.0\n", "past the end of its 9.000 s recording"), ("-1\n", ">= 0")):
        beats.write_text(text)
        with pytest.raises(ValueError, match=needle):
            read_beats(str(beats), duration=9.0)
