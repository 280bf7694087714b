"""BSS Eval v4 in torch against museval itself, frame by frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sliceq22.data.synth import synth_mixture
from sliceq22.eval.bsseval import bss_eval, num_windows, sdr_mdx

TOL_DB = 0.01  # the bound; the measured agreement is ~1e-12 dB


@pytest.fixture(scope="module")
def museval():
    try:
        import museval
    except Exception as exc:  # stempeg raises at import without ffmpeg
        pytest.skip(f"museval not importable: {exc}")
    return museval


def _sources(n_src: int, samples: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    """``(sources, samples, channels)`` of different music-like signals."""
    secs = samples / 44100 + 0.01
    return np.stack([synth_mixture(secs, 44100, seed=seed + s)[:channels, :samples].T for s in range(n_src)])


def _estimates(refs: np.ndarray, seed: int = 0) -> np.ndarray:
    """Leaky, filtered, noisy estimates: every metric finite and informative."""
    rng = np.random.default_rng(seed)
    mix = refs.sum(0)
    ests = 0.7 * refs + 0.25 * mix[None] + 0.02 * rng.standard_normal(refs.shape)
    ests[0, :, 0] = np.convolve(ests[0, :, 0], [0.6, 0.25, 0.15])[: refs.shape[1]]
    return ests


def _assert_matches(ours, theirs, tol=TOL_DB):
    for name, a, b in zip(("SDR", "ISR", "SIR", "SAR"), ours, theirs):
        a = a.cpu().numpy() if isinstance(a, torch.Tensor) else a
        assert a.shape == b.shape, name
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{name}: NaN frames differ")
        np.testing.assert_array_equal(np.isinf(a), np.isinf(b), err_msg=f"{name}: inf frames differ")
        fin = np.isfinite(b)
        assert np.abs(a[fin] - b[fin]).max() < tol, f"{name}: max |diff| {np.abs(a[fin] - b[fin]).max():.2e} dB"


def test_matches_museval_framewise_with_silent_windows(museval):
    """Stereo, ragged length, one silent reference window and one silent estimate window."""
    n = 44100 * 4 + 777
    refs = _sources(3, n)
    ests = _estimates(refs)
    refs[2, 44100 : 2 * 44100] = 0.0  # window 1 silent in a reference -> NaN for all sources
    ests[1, 3 * 44100 : 4 * 44100] = 0.0  # window 3 silent in an estimate -> NaN too
    theirs = museval.evaluate(refs, ests)
    ours = bss_eval(refs, ests)
    assert ours[0].shape == (3, 4) and ours[0].dtype == torch.float64
    assert np.isnan(theirs[0][:, 1]).all() and np.isnan(theirs[0][:, 3]).all()
    _assert_matches(ours, theirs)


@pytest.mark.parametrize(
    ("channels", "win", "hop", "est_len"),
    [
        (1, 44100, 44100, 0),  # mono
        (2, 30000, 15000, 0),  # overlapping windows
        (2, 10**9, 10**9, 0),  # one window over everything
        (2, 44100, 44100, 5000),  # estimates longer: cut
        (2, 44100, 44100, -5000),  # estimates shorter: zero-padded
    ],
)
def test_matches_museval_options(museval, channels, win, hop, est_len):
    n = int(44100 * 2.5)
    refs = _sources(2, n, channels, seed=3)
    ests = _estimates(_sources(2, n + max(est_len, 0), channels, seed=3), seed=1)
    if est_len < 0:
        ests = ests[:, :est_len]
    theirs = museval.evaluate(refs, ests, win=win, hop=hop)
    ours = bss_eval(refs if channels > 1 else refs[..., 0], ests if channels > 1 else ests[..., 0], win=win, hop=hop)
    assert ours[0].shape[-1] == num_windows(n, win, hop)
    _assert_matches(ours, theirs)


def test_matches_museval_short_filters_and_torch_input(museval):
    refs = _sources(4, 44100 * 2, seed=5)
    ests = _estimates(refs, seed=2)
    theirs = museval.metrics.bss_eval(refs, ests, window=44100, hop=44100, filters_len=64)[:4]
    ours = bss_eval(torch.from_numpy(refs).float(), torch.from_numpy(ests).float(), filters_len=64)
    theirs32 = museval.metrics.bss_eval(refs.astype(np.float32), ests.astype(np.float32), window=44100, hop=44100, filters_len=64)[:4]
    _assert_matches(ours, theirs32)
    assert np.nanmax(np.abs(theirs[0] - theirs32[0])) < 1e-3  # float32 input only rounds the audio


def test_batched_tracks_equal_one_by_one():
    refs = np.stack([_sources(2, 44100 * 2, seed=s) for s in (0, 10)])
    ests = np.stack([_estimates(r, seed=s) for s, r in enumerate(refs)])
    batched = bss_eval(refs, ests, filters_len=128)
    for b in range(2):
        single = bss_eval(refs[b], ests[b], filters_len=128)
        for x, y in zip(batched, single):
            torch.testing.assert_close(x[b], y, rtol=0, atol=1e-9)


def test_perfect_estimate_and_swapped_estimates():
    refs = _sources(2, 44100 * 2, seed=7)
    sdr, isr, sir, sar = bss_eval(refs, refs.copy(), filters_len=32)
    assert torch.isinf(sdr).all() and (sdr > 0).all()
    assert (isr > 100).all() and (sir > 100).all() and (sar > 100).all()
    sdr_swapped = bss_eval(refs, refs[::-1].copy(), filters_len=32)[0]
    assert (sdr_swapped < 0).all()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r, e: (r.__setitem__((1, slice(None)), 0.0), r, e)[1:], "all-zero source"),
        (lambda r, e: (e.__setitem__((0, 10, 0), np.nan), r, e)[1:], "NaN or infinite"),
        (lambda r, e: (r, e[:1]), "must agree"),
        # (sources, channels, samples) by mistake: it tried to allocate 46 GB
        (lambda r, e: (r.transpose(0, 2, 1).copy(), e.transpose(0, 2, 1).copy()), "transpose the last two"),
        # one (samples, channels) source read as 44100 sources of 2 samples: a 5.8 GB allocation
        (lambda r, e: (r[0], e[0]), "at most 100"),
        # silent over the references' span, audible only in the part cut away: NaN everywhere
        (lambda r, e: (r, np.concatenate((e * np.array([0.0, 1.0])[:, None, None], e), axis=1)), "all zero over the references"),
    ],
)
def test_bad_input_is_refused(mutate, message):
    refs = _sources(2, 44100, seed=1)
    ests = _estimates(refs)
    refs, ests = mutate(refs, ests)
    with pytest.raises(ValueError, match=message):
        bss_eval(refs, ests)


def test_sdr_mdx_definition():
    refs = _sources(3, 44100, seed=4)
    ests = _estimates(refs)
    expected = [10 * np.log10(((r**2).sum() + 1e-7) / (((r - e) ** 2).sum() + 1e-7)) for r, e in zip(refs, ests)]
    np.testing.assert_allclose(sdr_mdx(refs, ests).numpy(), expected, rtol=1e-12)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_equals_cpu():
    refs = _sources(3, 44100 * 3, seed=2)
    ests = _estimates(refs)
    cpu = bss_eval(refs, ests)
    gpu = bss_eval(torch.from_numpy(refs).cuda(), torch.from_numpy(ests).cuda())
    for a, b in zip(cpu, gpu):
        assert b.device.type == "cuda"
        torch.testing.assert_close(a, b.cpu(), rtol=0, atol=1e-6, equal_nan=True)


def test_panned_mono_sources_get_a_stable_projection(museval):
    """Channels exactly proportional (a mono source panned by gains) make the Gram matrix
    singular: museval's ISR/SIR/SAR are then rounding noise; ours are the stable projection.
    SDR needs no projection and still equals museval's."""
    mono = _sources(3, 44100 * 3, channels=1, seed=11)[..., 0]
    gains = np.array([[0.9, 0.4], [0.5, 0.8], [0.7, 0.7]])
    refs = mono[:, :, None] * gains[:, None, :]
    rng = np.random.default_rng(3)
    ests = refs + 0.05 * refs.sum(0)[None] + 1e-3 * rng.standard_normal(refs.shape)
    ours = bss_eval(refs, ests)
    nearby = bss_eval(refs, ests, ridge=1e-11)
    for a, b in zip(ours, nearby):
        assert (a - b).abs().max() < 0.1  # a plateau, not noise
    sdr, isr, sir, sar = ours
    assert (sir > 15).all() and (sar > 15).all() and (isr > 15).all()
    theirs = museval.evaluate(refs, ests)
    np.testing.assert_allclose(sdr.numpy(), theirs[0], atol=1e-9)


def test_ridge_zero_is_museval_eps(museval):
    refs = _sources(2, 44100 * 2, seed=9)
    ests = _estimates(refs, seed=4)
    _assert_matches(bss_eval(refs, ests, ridge=0.0), museval.evaluate(refs, ests), tol=1e-6)


def test_a_quiet_source_matches_museval(museval):
    """The diagonal load relative to the mean diagonal over-loaded a source 100 dB under the
    others: its SIR read 9.14 dB instead of 11.71, SAR 10.7 dB off."""
    refs = _sources(3, 2 * 44100, seed=11)
    refs[1] *= 1e-5
    rng = np.random.default_rng(0)
    ests = _estimates(refs)
    ests[1] = refs[1] + 0.1 * refs[1][::-1] + 0.3 * 1e-5 * refs[0] + 1e-9 * rng.standard_normal(refs[1].shape)
    theirs = museval.evaluate(refs, ests)
    _assert_matches(bss_eval(refs, ests), theirs, tol=1e-4)
