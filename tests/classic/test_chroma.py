"""Chroma on the device agrees with librosa's chroma_cqt in what matters: the pitch classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sliceq22.classic import Chroma

librosa = pytest.importorskip("librosa")


def _chords(sr=22050, seconds=4.0):
    t = np.arange(int(sr * seconds)) / sr
    y = np.zeros_like(t)
    for k, chord in enumerate([(60, 64, 67), (57, 60, 64), (65, 69, 72), (67, 71, 74)]):  # C, Am, F, G
        seg = (t >= k) & (t < k + 1)
        for n in chord:
            f = 440 * 2 ** ((n - 69) / 12)
            y[seg] += sum(np.sin(2 * np.pi * h * f * t[seg]) / h for h in (1, 2, 3))
    return y.astype(np.float32)


def test_agrees_with_librosa_chroma_cqt():
    y = _chords()
    ours = Chroma(22050, 512)(torch.from_numpy(y)).numpy()
    ref = librosa.feature.chroma_cqt(y=y, sr=22050, hop_length=512, norm=None, tuning=0.0)
    assert ours.shape == ref.shape
    a = ours / np.linalg.norm(ours, axis=0, keepdims=True)
    b = ref / np.linalg.norm(ref, axis=0, keepdims=True)
    cos = (a * b).sum(0)
    assert np.median(cos) > 0.95
    top3 = lambda c: np.sort(np.argsort(c, axis=0)[-3:], axis=0)  # noqa: E731
    inner = slice(8, -8)  # away from the edges of the signal
    assert (top3(ours)[:, inner] == top3(ref)[:, inner]).mean() > 0.9


def test_batched_and_normalised():
    y = torch.from_numpy(_chords(seconds=1.0))
    ch = Chroma(22050, 512, norm=2)(torch.stack((y, 0.5 * y)))
    assert ch.shape[:2] == (2, 12)
    torch.testing.assert_close(ch[0], ch[1], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(ch.norm(dim=1), torch.ones_like(ch[:, 0]), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="Nyquist"):
        Chroma(8000, 512, n_octaves=8)


@pytest.mark.parametrize("bins_per_octave", [12, 24, 36, 48])
def test_bin_to_pitch_class_fold_is_librosas(bins_per_octave):
    """round(b / per) rounded halves to even: with 24 or 48 bins per octave the classes got 3
    and 1 bins alternately. The fold now groups bins as librosa.filters.cq_to_chroma does."""
    n_octaves = 3
    chroma = Chroma(22050, 512, n_octaves=n_octaves, bins_per_octave=bins_per_octave)
    ref = librosa.filters.cq_to_chroma(n_octaves * bins_per_octave, bins_per_octave=bins_per_octave, fmin=32.70319566)
    np.testing.assert_array_equal(chroma.fold.numpy(), ref)
