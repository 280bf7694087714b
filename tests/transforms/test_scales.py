"""Frequency scales: end points, monotonicity, and the variable-Q bandwidth law."""

from __future__ import annotations

import numpy as np
import pytest

from sliceq22.transforms import SCALES, make_scale


@pytest.mark.parametrize("name", [s for s in SCALES if s != "oct"])
def test_end_points_and_order(name):
    s = make_scale(name, 40.0, 15000.0, 50, gamma=25.0 if name == "vqlog" else 0.0)
    assert len(s) == 50
    np.testing.assert_allclose([s.frequencies[0], s.frequencies[-1]], [40.0, 15000.0], rtol=1e-12)
    assert np.all(np.diff(s.frequencies) > 0) and np.all(s.q > 0)


def test_octave_bins_per_octave():
    s = make_scale("oct", 55.0, 1760.0, 12)  # five octaves
    assert len(s) == 61
    np.testing.assert_allclose(s.frequencies[::12], 55.0 * 2.0 ** np.arange(6), rtol=1e-12)


def test_vqlog_bandwidth_is_alpha_f_plus_gamma():
    """Neighbour-distance bandwidth of the vqlog scale is affine in f with offset gamma."""
    gamma = 30.0
    s = make_scale("vqlog", 30.0, 16000.0, 100, gamma=gamma)
    f = s.frequencies
    bw = f[2:] - f[:-2]
    alpha = np.polyfit(f[1:-1], bw, 1)
    np.testing.assert_allclose(alpha[1], gamma, rtol=1e-9)
    # lower Q than constant-Q at low frequencies, the same law at the top
    cq = make_scale("log", 30.0, 16000.0, 100)
    assert s.q[0] < 0.5 * cq.q[0]
    assert make_scale("vqlog", 30.0, 16000.0, 100, gamma=0.0).q[0] == cq.q[0]


def test_bark_is_uniform_in_bark():
    s = make_scale("bark", 32.9, 22050, 262)
    b = 6 * np.arcsinh(s.frequencies / 600)
    np.testing.assert_allclose(np.diff(b), np.diff(b)[0], rtol=1e-9)
