"""The multichannel Wiener filter: partition of the mixture, EM that helps, gradients."""

from __future__ import annotations

import pytest
import torch

from sliceq22.eval.bsseval import sdr_mdx
from sliceq22.filtering import multichannel_wiener, wiener_em
from sliceq22.models.demix import SliCQDemixer
from sliceq22.transforms import STFT, SliCQT

SR = 44100


def _panned_noise():
    g = torch.Generator().manual_seed(0)
    s1, s2 = torch.randn(2, SR // 2, generator=g, dtype=torch.float64)
    refs = [torch.stack([0.9 * s1, 0.2 * s1]), torch.stack([0.3 * s2, 0.8 * s2])]
    return refs, refs[0] + refs[1]


def test_em_from_ratio_masks_improves_and_partitions():
    refs, mix = _panned_noise()
    t = STFT(1024, 256)
    X = t(mix)
    P = [t(r).abs().square().mean(0, keepdim=True) for r in refs]  # channel-blind powers
    S0 = [X * p / sum(P) for p in P]

    def score(S):
        est = torch.stack([t.inverse(s, mix.shape[-1]).T for s in S])
        return sdr_mdx(torch.stack([r.T for r in refs]), est)

    S1, S3 = wiener_em(X, S0, iterations=1), wiener_em(X, S0, iterations=3)
    assert (score(S1) > score(S0) + 1).all()  # spatial statistics separate what spectra cannot
    assert (score(S3) > score(S1)).all()  # and EM keeps improving (measured: +3.6 dB after 3)
    assert (sum(S3) - X).abs().max() < 1e-6 * X.abs().max()
    assert wiener_em(X, S0, iterations=0)[0] is S0[0]


def test_filter_does_not_depend_on_the_input_level():
    """Absolute floors made the MWF oracle lose 2-7 dB at -100 dB input; relative ones scale."""
    refs, mix = _panned_noise()
    t = STFT(1024, 256)
    X, S = t(mix), [t(r) for r in refs]
    Y = multichannel_wiener(X, S)
    for scale in (1e-5, 1e3):
        Ys = multichannel_wiener(X * scale, [s * scale for s in S])
        for a, b in zip(Ys, Y):
            assert (a / scale - b).abs().max() < 1e-9 * b.abs().max()


def test_gradients_flow_through_the_filter():
    refs, mix = _panned_noise()
    t = STFT(512, 128)
    X = t(mix)
    w = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    S = multichannel_wiener(X, [X * w, X * (1 - w) + 0.1 * t(refs[1])])
    S[0].abs().sum().backward()
    assert w.grad is not None and torch.isfinite(w.grad)


def test_demixer_with_post_filter_on_the_slicqt(music3):
    model = SliCQDemixer(SliCQT(scale="bark", fmin=40.0, fmax=SR / 2, bins=32, sample_rate=SR), hidden=8, dilations=(1,),
                         wiener_iterations=1)
    x = music3[:, : SR // 2].float()[None]
    y = model(x)
    assert y.shape == (1, 4, 2, SR // 2) and torch.isfinite(y).all()
    assert ((y.sum(1) - x).norm() / x.norm()) < 1e-3


def test_em_matches_norbert():
    """The EM of norbert 0.2.1 (open-unmix's Wiener filter), the reference the module follows."""
    norbert = pytest.importorskip("norbert")
    refs, mix = _panned_noise()
    g = torch.Generator().manual_seed(1)
    refs = [r + 0.05 * torch.randn(r.shape, generator=g, dtype=r.dtype) for r in refs]  # full-rank covariances
    mix = sum(refs)
    t = STFT(1024, 256)
    X = t(mix)  # (ch, bins, frames) complex128
    P = [t(r).abs().square().mean(0, keepdim=True) for r in refs]
    S0 = [X * p / sum(P) for p in P]
    ours = wiener_em(X, S0, iterations=3)
    y0 = torch.stack(S0, -1).permute(2, 1, 0, 3).numpy().copy()  # (frames, bins, ch, sources)
    theirs, _, _ = norbert.expectation_maximization(y0, X.permute(2, 1, 0).numpy(), iterations=3)
    for j, s in enumerate(ours):
        ref = torch.from_numpy(theirs[..., j]).permute(2, 1, 0)
        assert ((s - ref).norm() / ref.norm()).item() < 1e-8  # measured 3e-10 (their absolute eps)
