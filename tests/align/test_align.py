"""Alignment systems run on a rendered scenario, write increasing hypotheses, and are scored exactly."""

from __future__ import annotations

import os

import numpy as np
import pytest

from sliceq22.align import SYSTEMS, compose, offline_processing, online_processing
from sliceq22.align.__main__ import run
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
        online_processing(sdir, str(tmp_path / system), str(tmp_path / "cache"), system=system)


def test_runner_reports_every_system(scenario_root, tmp_path):
    res = run(scenario_root, ["pairwise", "bridge"], 1024, str(tmp_path / "out"))
    assert set(res) == {"pairwise", "bridge"}
    assert all(0 <= v <= 1 for r in res.values() for v in r["error_rate"].values())
