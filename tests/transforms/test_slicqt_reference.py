"""Agreement with the reference sliCQT, nsgt 0.19 (numpy), in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sliceq22.transforms import SliCQCoefficients, SliCQT, make_scale

SR = 44100


def _ref_scale(nsgt, scale):
    class Fixed(nsgt.fscale.Scale):
        def __init__(self):
            super().__init__(len(scale))

        def __call__(self):
            return scale.frequencies.copy(), scale.q.copy()

    return Fixed()


def _reference_slices(nsgt, scale, slice_len, trans_len, x, matrixform=False):
    ref = nsgt.NSGT_sliced(
        _ref_scale(nsgt, scale), slice_len, trans_len, SR, real=True, multichannel=True, matrixform=matrixform
    )
    return ref, list(ref.forward((x,)))


CONFIGS = [
    ("bark", dict(fmin=32.9, fmax=22050, bins=262), 18060, 4516),  # xumx-sliCQ's
    ("log", dict(fmin=100, fmax=16000, bins=60), 21000, 5000),
    ("oct", dict(fmin=80, fmax=16000, bins=4), 13000, 3200),
    ("vqlog", dict(fmin=30, fmax=20000, bins=60, gamma=20), 14400, 3000),
    ("mel", dict(fmin=20, fmax=22050, bins=100), 7200, 1800),
    ("lin", dict(fmin=100, fmax=20000, bins=50), 4096, 1024),
]


@pytest.mark.parametrize("name,kw,slice_len,trans_len", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_coefficients_match_nsgt(nsgt, music3, name, kw, slice_len, trans_len):
    x = music3[:, : 2 * SR].numpy()
    t = SliCQT(name, sample_rate=SR, slice_len=slice_len, trans_len=trans_len, **kw)
    scale = make_scale(name, kw["fmin"], kw["fmax"], kw["bins"], kw.get("gamma", 0.0))
    ref, slices = _reference_slices(nsgt, scale, slice_len, trans_len, x)
    assert np.array_equal(np.asarray(ref.M[: t.num_bins]), t.frame.M)

    C = t(torch.from_numpy(x))
    assert C.num_slices == len(slices) == t.num_slices(x.shape[-1])
    ours = C.to_matrix().numpy()  # (2, bins, slices, M_max)
    theirs = np.zeros_like(ours)
    for s, per_channel in enumerate(slices):
        for ch, per_bin in enumerate(per_channel):
            for k, coefs in enumerate(per_bin):
                theirs[ch, k, s, : len(coefs)] = coefs
    rel = np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)
    assert rel <= 1e-10, rel

    # and the reference inverts our coefficients (and we invert its)
    rec = np.concatenate(list(ref.backward(iter([[c[ch] for ch in range(2)] for c in slices]))), axis=-1)
    ours_rec = t.inverse(C, x.shape[-1]).numpy()
    assert np.linalg.norm(ours_rec - rec[:, : x.shape[-1]]) / np.linalg.norm(x) <= 1e-10


@pytest.mark.parametrize("name,kw,slice_len,trans_len", CONFIGS[:3], ids=[c[0] for c in CONFIGS[:3]])
def test_rasterized_matches_nsgt_matrixform(nsgt, music3, name, kw, slice_len, trans_len):
    """The 2014 rasterization equals the transform computed with M_max coefficients for every bin."""
    x = music3[:, : SR].numpy()
    t = SliCQT(name, sample_rate=SR, slice_len=slice_len, trans_len=trans_len, **kw)
    scale = make_scale(name, kw["fmin"], kw["fmax"], kw["bins"], kw.get("gamma", 0.0))
    _, slices = _reference_slices(nsgt, scale, slice_len, trans_len, x, matrixform=True)
    theirs = np.stack([np.stack([np.stack(pb) for pb in pc]) for pc in slices], axis=2)  # (ch, bins, S, M)
    R = t(torch.from_numpy(x)).rasterize().numpy()
    assert R.shape == theirs.shape
    assert np.linalg.norm(R - theirs) / np.linalg.norm(theirs) <= 1e-10


def test_scale_frequencies_match_nsgt(nsgt):
    fs = nsgt.fscale
    pairs = [
        (make_scale("log", 65.41, 6000, 80), fs.LogScale(65.41, 6000, 80), True),
        (make_scale("oct", 40, 16000, 12), fs.OctScale(40, 16000, 12), True),
        (make_scale("lin", 100, 20000, 50), fs.LinScale(100, 20000, 50), True),
        (make_scale("mel", 20, 22050, 100), fs.MelScale(20, 22050, 100), False),
    ]
    for ours, ref, exact_q in pairs:
        f_ref, q_ref = ref()
        np.testing.assert_allclose(ours.frequencies, f_ref, rtol=1e-12)
        # nsgt's mel Q is a numerical derivative (step 1e-8): agree to its accuracy
        np.testing.assert_allclose(ours.q, q_ref, rtol=1e-12 if exact_q else 1e-5)


def test_matrix_roundtrips(music3):
    t = SliCQT("bark", 32.9, 22050, 100, SR, slice_len=8192, trans_len=2048).double()
    C = t(music3[:, :SR])
    back = SliCQCoefficients.from_matrix(C.to_matrix(), t.layout)
    assert all(torch.equal(a, b) for a, b in zip(back.blocks, C.blocks))
    back = SliCQCoefficients.from_rasterized(C.rasterize(), t.layout)
    for a, b in zip(back.blocks, C.blocks):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12 * C.blocks[0].abs().max().item())
