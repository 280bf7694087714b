"""The sliCQT's own contract: perfect reconstruction, shapes, gradients, dtypes, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sliceq22.transforms import SCALES, SliCQCoefficients, SliCQT, make_filterbanks, make_scale, next_fast_len

SR = 44100

# one config per scale, default (suggested) slice and transition lengths
SCALE_CONFIGS = {
    "log": dict(fmin=32.9, fmax=22050, bins=84),
    "cqlog": dict(fmin=50, fmax=16000, bins=48),
    "oct": dict(fmin=32.9, fmax=22050, bins=12),
    "vqlog": dict(fmin=32.9, fmax=22050, bins=84, gamma=30),
    "mel": dict(fmin=20, fmax=22050, bins=116),
    "bark": dict(fmin=32.9, fmax=22050, bins=262),
    "lin": dict(fmin=50, fmax=22000, bins=200),
}


def rel_db(a: torch.Tensor, b: torch.Tensor) -> float:
    return (20 * torch.log10((a - b).norm() / b.norm())).item()


def test_every_scale_has_a_config():
    assert set(SCALE_CONFIGS) == set(SCALES)


@pytest.mark.parametrize("scale", sorted(SCALE_CONFIGS))
def test_perfect_reconstruction_30s_stereo(music30, scale):
    """<= -290 dB in float64 and <= -120 dB in float32 on 30 s of stereo music."""
    t = SliCQT(scale, sample_rate=SR, **SCALE_CONFIGS[scale])
    x64 = music30
    assert rel_db(t.inverse(t(x64), x64.shape[-1]), x64) <= -290
    x32 = music30.float()
    y32 = t.inverse(t(x32), x32.shape[-1])
    assert y32.dtype == torch.float32
    assert rel_db(y32.double(), x64) <= -120


def test_reference_config_reconstruction(music30):
    """xumx-sliCQ's config (slice 18060 = 4*3*5*7*43): float64 stays exact despite the prime 43."""
    t = SliCQT("bark", 32.9, 22050, 262, SR, slice_len=18060, trans_len=4516)
    x = music30[:, : 10 * SR]
    assert rel_db(t.inverse(t(x), x.shape[-1]), x) <= -290
    assert rel_db(t.inverse(t(x.float()), x.shape[-1]).double(), x) <= -120


@pytest.mark.parametrize("scale", ["bark", "log", "mel"])
def test_fast_sizes_zero_pad_the_windows_and_reconstruct(music30, scale):
    """``fast_sizes``: 5-smooth coefficient counts, same windows zero-padded, still exact."""
    exact = SliCQT(scale, sample_rate=SR, **SCALE_CONFIGS[scale])
    fast = SliCQT(scale, sample_rate=SR, **SCALE_CONFIGS[scale], fast_sizes=True)
    assert len(fast.groups) < len(exact.groups)
    for m_exact, m_fast, w_exact, w_fast in zip(exact.frame.M, fast.frame.M, exact.frame.windows, fast.frame.windows):
        assert m_fast == next_fast_len(int(m_exact)) >= m_exact
        h = int(m_exact) // 2  # zero-phase order: right half, zeros, left half
        assert (w_fast[:h] == w_exact[:h]).all() and (w_fast[len(w_fast) - h :] == w_exact[h:]).all()
        assert (w_fast[h : len(w_fast) - h] == 0).all()
    x = music30[:, : 10 * SR]
    C = fast(x)
    assert rel_db(fast.inverse(C, x.shape[-1]), x) <= -290
    assert rel_db(fast.inverse(fast(x.float()), x.shape[-1]).double(), x) <= -120
    # same atoms on a finer time grid: ifft Parseval, the slice energy shrinks by M_exact / M_fast
    e_exact = torch.cat([b.abs().pow(2).sum(-1).flatten(-2) for b in exact(x).blocks], -1)
    e_fast = torch.cat([b.abs().pow(2).sum(-1).flatten(-2) for b in C.blocks], -1)
    ratio = torch.as_tensor(exact.frame.M / fast.frame.M, dtype=torch.float64).repeat_interleave(C.num_slices)
    torch.testing.assert_close(e_fast, e_exact * ratio, rtol=1e-9, atol=1e-9 * e_exact.max().item())


def test_fast_sizes_geometry_of_the_reference_config():
    """The README's figures for Bark-262: nsgt's sizes M_k = 4p with primes p up to 73 in 70
    groups (slice 18060) / 71 (18432); fast_sizes: 27 groups, +3.5% coefficients."""
    def largest_prime(n: int) -> int:
        p, f = 2, 1
        while n > 1:
            while n % p == 0:
                n, f = n // p, p
            p += 1
        return f

    for slice_len, groups in ((18060, 70), (18432, 71)):
        kw = dict(slice_len=slice_len, trans_len=slice_len // 4 + (slice_len // 4) % 2)
        exact = SliCQT("bark", 32.9, 22050, 262, SR, **kw)
        fast = SliCQT("bark", 32.9, 22050, 262, SR, **kw, fast_sizes=True)
        assert (len(exact.groups), len(fast.groups)) == (groups, 27)
        assert max(largest_prime(m // 4) for _, m in exact.layout) == 73
        growth = sum(n * m for n, m in fast.layout) / sum(n * m for n, m in exact.layout)
        assert round(growth - 1, 3) == 0.035


def test_fast_sizes_gradcheck():
    t = SliCQT("lin", 200, 8000, 12, 16000, slice_len=512, trans_len=128, fast_sizes=True)
    x = torch.randn(2, 900, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: t(x).blocks, (x,), fast_mode=True)


@pytest.mark.parametrize("shape", [(5000,), (2, 5000), (3, 2, 5000), (2, 1, 2, 4999)])
def test_shapes_mono_stereo_batch(shape):
    t = SliCQT("bark", 50, 7000, 30, 16000)
    x = torch.randn(shape, dtype=torch.float64)
    C = t(x)
    assert isinstance(C, SliCQCoefficients)
    assert C.batch_shape == shape[:-1]
    assert C.layout == t.layout
    assert C.num_bins == t.num_bins == 30 + 2
    assert C.num_slices == t.num_slices(shape[-1])
    for b, (n, m) in zip(C.blocks, t.layout):
        assert b.shape == shape[:-1] + (n, C.num_slices, m)
        assert b.dtype == torch.complex128
    assert C.to_matrix().shape == shape[:-1] + (t.num_bins, C.num_slices, t.max_slice_len)
    assert C.rasterize().shape == shape[:-1] + (t.num_bins, C.num_slices, t.max_slice_len)
    y = t.inverse(C, shape[-1])
    assert y.shape == shape
    torch.testing.assert_close(y, x, rtol=0, atol=1e-12)


def test_bin_at_nyquist_merges_into_the_nyquist_window():
    """As in nsgt: a bin at fmax == Nyquist is dropped, the Nyquist window covers it."""
    t = SliCQT("bark", 50, 8000, 30, 16000)
    assert t.num_bins == 29 + 2
    assert t.frequencies[0] == 0 and t.frequencies[-1] == 8000 and t.frequencies[-2] < 8000


def test_batch_items_are_independent():
    t = SliCQT("mel", 40, 8000, 40, 16000)
    x = torch.randn(3, 2, 6000, dtype=torch.float64)
    full = t(x).rasterize()
    alone = t(x[1, 0]).rasterize()
    torch.testing.assert_close(full[1, 0], alone, rtol=1e-12, atol=1e-12)


def test_overlap_add_shapes_and_values():
    t = SliCQT("bark", 50, 8000, 30, 16000)
    x = torch.randn(2, 7000, dtype=torch.float64)
    C = t(x)
    ola = t.overlap_add(C.abs())
    assert len(ola) == len(t.layout)
    for spec, b, (n, m) in zip(ola, C.blocks, t.layout):
        assert spec.shape == (2, n, (C.num_slices + 1) * m // 2)
        loop = torch.zeros_like(spec)
        for s in range(C.num_slices):
            loop[..., s * m // 2 : s * m // 2 + m] += b[..., s, :].abs()
        torch.testing.assert_close(spec, loop)
    R = t.overlap_add(C.rasterize())
    assert R.shape == (2, t.num_bins, (C.num_slices + 1) * t.max_slice_len // 2)


def test_gradcheck_forward_and_inverse():
    t = SliCQT("lin", 200, 8000, 12, 16000, slice_len=512, trans_len=128)
    x = torch.randn(2, 900, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: t(x).blocks, (x,), fast_mode=True)
    blocks = tuple(b.detach().requires_grad_() for b in t(x.detach()).blocks)
    assert torch.autograd.gradcheck(lambda *b: t.inverse(SliCQCoefficients(b), 900), blocks, fast_mode=True)
    raster = t(x.detach()).rasterize().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda r: t.inverse(SliCQCoefficients.from_rasterized(r, t.layout), 900), (raster,), fast_mode=True
    )


def test_gradients_flow_through_magnitude_loss():
    t = SliCQT("bark", 50, 8000, 30, 16000)
    x = torch.randn(2, 4000, requires_grad=True)
    loss = sum(s.sum() for s in t.overlap_add(t(x).abs()))
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_compute_in_float32(dtype):
    t = SliCQT("bark", 50, 8000, 30, 16000)
    x = torch.randn(2, 4000).to(dtype)
    C = t(x)
    assert C.dtype == torch.complex64
    y = t.inverse(C, 4000)
    assert y.dtype == torch.float32
    assert rel_db(y, x.float()) <= -120


def test_module_moves_and_has_no_persistent_state():
    t = SliCQT("bark", 50, 8000, 30, 16000)
    assert t.state_dict() == {}  # rebuilt from its config, never loaded from a checkpoint
    assert all(not p.requires_grad for p in t.parameters())
    t = t.to(torch.float32)  # buffers cast, transform still exact to float32 precision
    x = torch.randn(4000)
    assert rel_db(t.inverse(t(x), 4000), x) <= -120


def test_torch_compile_fullgraph():
    t = SliCQT("lin", 200, 8000, 12, 16000, slice_len=512, trans_len=128)

    def roundtrip(x):
        C = t(x)
        return t.inverse(C, x.shape[-1]), t.overlap_add(C.abs())

    compiled = torch.compile(roundtrip, fullgraph=True, backend="aot_eager")
    x = torch.randn(2, 3000)
    y, ola = compiled(x)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-5)
    for a, b in zip(ola, roundtrip(x)[1]):
        torch.testing.assert_close(a, b)


def test_torch_compile_float64_split_ffts():
    """float64 sizes with a large prime (slice 516 = 12 * 43, bins of 44 = 4 * 11) take the split
    FFTs of fft.py, whose tables are built inside the graph when compiled (never cached there)."""
    from sliceq22.transforms import fft as _fft

    t = SliCQT("lin", 200, 8000, 12, 16000, slice_len=516, trans_len=128)
    assert _fft._split(516) and any(_fft._split(m) for _, _, m in t.groups)
    compiled = torch.compile(lambda x: t.inverse(t(x), x.shape[-1]), fullgraph=True, backend="aot_eager")
    x = torch.randn(2, 3000, dtype=torch.float64)
    assert rel_db(compiled(x), x) <= -290
    assert rel_db(t.inverse(t(x), 3000), x) <= -290  # eager after compiled: nothing fake was cached


@pytest.mark.slow
def test_torch_compile_inductor():
    t = SliCQT("bark", 50, 8000, 30, 16000)
    compiled = torch.compile(lambda x: t.inverse(t(x), x.shape[-1]), fullgraph=True)
    x = torch.randn(2, 5000)
    torch.testing.assert_close(compiled(x), x, rtol=0, atol=1e-5)


def test_suggested_slice_length_is_fast_and_admissible():
    t = SliCQT("bark", 32.9, 22050, 262, SR)
    assert t.slice_len == next_fast_len(18060) == 18432  # xumx-sliCQ's 18060 is the unrounded minimum
    assert t.trans_len == t.slice_len // 4
    with pytest.raises(ValueError, match="too short"):
        SliCQT("bark", 32.9, 22050, 262, SR, slice_len=18056, trans_len=4514)
    with pytest.warns(UserWarning, match="too short"):
        SliCQT("bark", 32.9, 22050, 262, SR, slice_len=18056, trans_len=4514, strict=False)


def test_make_filterbanks_pairs():
    enc, dec = make_filterbanks("slicqt", scale="mel", fmin=40, fmax=8000, bins=40, sample_rate=16000)
    x = torch.randn(2, 5000, dtype=torch.float64)
    torch.testing.assert_close(dec(enc(x), 5000), x)
    enc, dec = make_filterbanks("stft", n_fft=512, hop_length=128, sample_rate=16000)
    torch.testing.assert_close(dec(enc(x), 5000), x)
    with pytest.raises(ValueError, match="unknown transform"):
        make_filterbanks("wavelet")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(fmin=8000, fmax=100), "below fmax"),
        (dict(fmin=100, fmax=100), "below fmax"),
        (dict(fmax=30000), "above the Nyquist"),
        (dict(sample_rate=0), "sample_rate"),
        (dict(scale="erb"), "unknown frequency scale"),
        (dict(bins=1), "bins must be"),
        (dict(slice_len=18062), "multiple of 4"),
        (dict(slice_len=18432, trans_len=9216), "trans_len"),
        (dict(slice_len=18432, trans_len=101), "trans_len"),
        (dict(gamma=10), "gamma only applies"),
        (dict(min_win=18), "min_win must be a positive multiple of 4"),
        (dict(min_win=0), "min_win must be a positive multiple of 4"),
        (dict(q_var=0), "q_var must be > 0"),
        # the windows no longer cover the spectrum: reconstruction was NaN or ~100% wrong
        (dict(q_var=0.5), "gap near .* Hz.*raise q_var"),
        (dict(scale="log", bins=84, q_var=0.8), "gap near .* Hz.*raise q_var"),
        # vqlog has no scale for gamma >= 2 (fmax - fmin) / (bins - 1): it returned a linear scale
        # (just above) or died of NaN / ZeroDivisionError (further up)
        (dict(scale="vqlog", gamma=200), "gamma=200 Hz is too large.*168.7 Hz"),
        (dict(scale="vqlog", gamma=float("nan")), "gamma must be a finite"),
        # bins wider than the sample rate: "raise slice_len" could never help
        (dict(fmin=100, fmax=4000, bins=3, sample_rate=8000), "as wide as the sample rate.*more bins"),
        # the Nyquist window spans fmax..fs-fmax: more bins cannot narrow it
        (dict(scale="lin", fmin=49.2, fmax=2837.6, bins=295, sample_rate=22050, q_var=3), "11025.0 Hz.*raise fmax towards Nyquist"),
        (dict(fmin=None), "fmin must be a finite number of Hz, got None"),  # a TypeError before
        (dict(fmax="6000"), "fmax must be a finite number of Hz, got '6000'"),
        # the top bin merges into the Nyquist window: lowering fmin could never help
        (dict(scale="log", fmin=100, fmax=8000, bins=2, sample_rate=16000), "lower fmax below Nyquist"),
        (dict(slice_len=18432, min_win=20000), "min_win=20000 is longer than slice_len"),
        (dict(slice_len=18060.5), "slice_len must be a whole number"),
        (dict(slice_len=18432, trans_len=100.5), "trans_len must be a whole number"),
        (dict(sample_rate=float("nan")), "sample_rate must be a finite"),
        (dict(q_var=float("inf")), "q_var must be a finite"),
    ],
)
def test_bad_parameters_raise_clear_errors(kwargs, match):
    base = dict(scale="bark", fmin=32.9, fmax=22050, bins=262, sample_rate=SR)
    with pytest.raises(ValueError, match=match):
        SliCQT(**{**base, **kwargs})


def test_vqlog_near_its_gamma_limit_is_still_the_affine_law():
    """The fixed point converges ever more slowly towards the limit; bisection finishes it."""
    sc = make_scale("vqlog", 32.9, 22050, 262, 168.6)
    f = sc.frequencies
    assert f[0] == 32.9 and f[-1] == 22050
    np.testing.assert_allclose(np.polyfit(f, f / sc.q, 1)[1], 168.6, rtol=1e-6)


def test_slice_len_none_honours_min_win():
    t = SliCQT("bark", 50, 8000, 30, 16000, min_win=2000)  # said "raise slice_len" without one to raise
    assert t.slice_len >= 2000
    x = torch.randn(3000, dtype=torch.float64)
    assert rel_db(t.inverse(t(x), 3000), x) < -290


def test_inverse_checks_every_block_and_takes_the_widest_precision():
    t = SliCQT("bark", 50, 8000, 30, 16000)
    C = t(torch.randn(2, 3000))
    short = list(C.blocks)
    short[3] = short[3][..., :-1, :]
    with pytest.raises(ValueError, match="block 3 has shape"):  # was a RuntimeError from a reshape
        t.inverse(SliCQCoefficients(short), 3000)
    mixed = list(C.blocks)
    mixed[2] = mixed[2].to(torch.complex128)  # block 0 is complex64: float32 decided it before
    assert t.inverse(SliCQCoefficients(mixed), 3000).dtype == torch.float64


def test_empty_batch():
    """The FFTs refuse an empty batch (an 'MKL FFT error'): empty coefficients and signals."""
    t = SliCQT("bark", 50, 8000, 30, 16000)
    C = t(torch.zeros(0, 2, 3000))
    assert C.layout == t.layout and C.batch_shape == (0, 2) and C.num_slices == t.num_slices(3000)
    assert t.inverse(C, 3000).shape == (0, 2, 3000)


def test_module_cast_keeps_windows_and_precision():
    """``.to(dtype)``/``.half()`` (Lightning's ``*-true`` precisions) move the windows, never
    round them; real float64 blocks (magnitudes) invert in float64."""
    x = torch.randn(2, 5000, dtype=torch.float64)
    for cast in (lambda m: m.to(torch.bfloat16), lambda m: m.half(), lambda m: m.float()):
        t = cast(SliCQT("bark", 50, 8000, 30, 16000))
        assert t.analysis_window.dtype == t.synthesis_window.dtype == t.slice_window.dtype == torch.float64
        assert rel_db(t.inverse(t(x), 5000), x) < -290
    t = SliCQT("bark", 50, 8000, 30, 16000)
    C = t(x)
    mags = SliCQCoefficients([b.abs() for b in C.blocks])
    assert t.inverse(mags, 5000).dtype == torch.float64


def test_bad_inputs_raise_clear_errors():
    t = SliCQT("bark", 50, 8000, 30, 16000)
    with pytest.raises(ValueError, match="samples"):
        t(torch.zeros(2, 0))
    with pytest.raises(ValueError, match="floating-point"):
        t(torch.zeros(2, 100, dtype=torch.int16))
    with pytest.raises(ValueError, match="floating-point"):
        t(torch.zeros(2, 100, dtype=torch.complex64))
    C = t(torch.randn(2, 5000))
    with pytest.raises(ValueError, match="length"):
        t.inverse(C, 50000)
    other = SliCQT("mel", 50, 8000, 30, 16000)
    with pytest.raises(ValueError, match="layout"):
        other.inverse(C, 5000)
    with pytest.raises(ValueError, match="from_matrix"):
        t.inverse(C.to_matrix(), 5000)
    with pytest.raises(ValueError, match="expected a matrix"):
        SliCQCoefficients.from_matrix(torch.zeros(2, 3, 4), t.layout)
