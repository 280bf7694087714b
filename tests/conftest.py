"""Shared fixtures: deterministic music, and the reference nsgt made importable on new numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sliceq22.data.synth import synth_mixture


@pytest.fixture(scope="session")
def music30() -> torch.Tensor:
    """30 s of stereo music-like audio at 44.1 kHz, float64, shape (2, 1323000)."""
    return torch.from_numpy(synth_mixture(30.0, 44100, seed=1))


@pytest.fixture(scope="session")
def music3() -> torch.Tensor:
    """3 s of stereo music-like audio at 44.1 kHz, float64."""
    return torch.from_numpy(synth_mixture(3.0, 44100, seed=2))


class _NumpyWithOldClip:
    """numpy, except that ``clip(int_array, lo, np.inf, out=int_array)`` works as on numpy 1.x.

    nsgt 0.19 calls exactly that in ``nsgfwin``; numpy 2 refuses to cast inf into ``out``.
    The shim is installed into nsgt's own module namespace only, for the tests.
    """

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def clip(a, lo, hi, out=None, **kwargs):
        hi = None if hi is not None and np.isscalar(hi) and np.isinf(hi) else hi
        res = np.clip(a, lo, hi, **kwargs)
        if out is not None:
            out[...] = res
            return out
        return res


@pytest.fixture(scope="session")
def nsgt():
    """The reference package ``nsgt`` 0.19 (Grill), patched for numpy 2 at the test boundary."""
    module = pytest.importorskip("nsgt", reason="reference nsgt not installed (make test installs it)")
    import nsgt.nsgfwin_sl as nsgfwin_sl

    nsgfwin_sl.np = _NumpyWithOldClip()
    return module


@pytest.fixture(scope="session")
def embedded_root(tmp_path_factory) -> str:
    """A tiny embedded dataset (6 tracks of 4 s: 4 train, 1 valid, 1 test), rendered once."""
    pytest.importorskip("tinysoundfont", reason="rendering needs tinysoundfont (make test installs it)")
    from sliceq22.data.render import render_dataset

    root = str(tmp_path_factory.mktemp("embedded"))
    render_dataset(root, tracks=6, seconds=4.0, seed=7, progress=False)
    return root
