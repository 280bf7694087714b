"""The transforms' FFT helpers: float64 precision for any size, torch semantics, exportable irfft."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sliceq22.transforms import fft as _fft

SIZES = [7, 292, 1000, 1001, 4 * 3 * 5 * 7 * 43]  # odd, 4 * 73 (split), smooth, 7 * 11 * 13 (Bluestein), xumx's slice (split)


def test_float64_paths():
    """Large-prime sizes ``a p`` (``a`` 7-smooth) are split, the others go through Bluestein."""
    assert _fft._split(292) == (4, 73) and _fft._split(4 * 3 * 5 * 7 * 43) == (420, 43)
    assert _fft._split(1001) is None and _fft._split(4 * 43 * 43) is None and _fft._split(1000) is None
    assert _fft._needs_precise(292, torch.float64) and not _fft._needs_precise(292, torch.float32)


@pytest.mark.parametrize("n", [44, 1001])
def test_precise_paths_are_differentiable(n):
    x = torch.randn(2, n, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: torch.view_as_real(_fft.fft(v)), (x,))
    assert torch.autograd.gradcheck(lambda v: torch.view_as_real(_fft.ifft(v)), (x,))
    h = torch.randn(2, n // 2 + 1, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: _fft.irfft(v, n), (h,))  # 44: packed, 1001: completed


def _rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("n", SIZES)
def test_float64_transforms_match_pocketfft(n):
    """Every size to ~1e-15 relative, the large-prime ones too (MKL alone gives ~1e-14 there)."""
    rng = np.random.default_rng(n)
    x = rng.standard_normal((3, n))
    z = x + 1j * rng.standard_normal((3, n))
    tx, tz = torch.from_numpy(x), torch.from_numpy(z)
    assert _rel(_fft.fft(tz).numpy(), np.fft.fft(z)) < 1e-14
    assert _rel(_fft.ifft(tz).numpy(), np.fft.ifft(z)) < 1e-14
    assert _rel(_fft.rfft(tx).numpy(), np.fft.rfft(x)) < 1e-14
    assert _rel(_fft.irfft(torch.from_numpy(np.fft.rfft(x)), n).numpy(), x) < 1e-14


@pytest.mark.parametrize("n", [86, 301, 292, 4 * 3 * 5 * 7 * 43, 4 * 3 * 5 * 7 * 61 * 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_split_rfft_matches_pocketfft(n, dtype):
    """The half-size split of real FFTs (odd sizes too, any leading dims): float32 to its
    round-off, float64 to ~1e-15; in float32 it stands in for MKL's own transform at xumx-sliCQ's
    slice of 18060 = 420 * 43 (and other primes in 37..61) on the CPU."""
    x = torch.randn(2, 3, n, dtype=dtype, generator=torch.Generator().manual_seed(n))
    expected = np.fft.rfft(x.double().numpy())
    got = _fft._split_rfft(x)
    assert got.shape == (2, 3, n // 2 + 1) and got.dtype == (torch.complex64 if dtype == torch.float32 else torch.complex128)
    assert _rel(got.numpy(), expected) < (5e-7 if dtype == torch.float32 else 1e-15)
    fast = n >= 4096 and _fft._split(n)[1] in range(37, 62)
    assert _fft._fast_split(n, x) == (fast and dtype == torch.float32)
    assert _rel(_fft.rfft(x).numpy(), expected) < (5e-7 if dtype == torch.float32 else 1e-15)


def test_fast_split_is_for_eager_cpu_float32_only():
    x = torch.randn(2, 18060)
    assert _fft._fast_split(18060, x)
    assert not _fft._fast_split(18060, x.double())  # float64 is always split (precision), not by this rule
    assert not _fft._fast_split(18432, torch.randn(2, 18432))  # 5-smooth: MKL's own
    assert not _fft._fast_split(4 * 3 * 5 * 7 * 73, torch.randn(2, 4 * 3 * 5 * 7 * 73))  # 73: MKL as fast
    compiled = torch.compile(lambda v: _fft.rfft(v), fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x), torch.fft.rfft(x), rtol=0, atol=1e-3)  # compiled: torch's own


@pytest.mark.parametrize("n", [16, 17, 292])
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_hermitian_irfft_has_torch_semantics(n, dtype):
    """The explicit completion (export and Bluestein path) drops the imaginary parts of DC and
    Nyquist exactly as ``torch.fft.irfft`` does."""
    g = torch.Generator().manual_seed(n)
    x = torch.randn(2, 3, n // 2 + 1, dtype=dtype, generator=g)  # imaginary DC / Nyquist nonzero
    expected = torch.fft.irfft(x.to(torch.complex128), n)
    tol = 1e-13 if dtype == torch.complex128 else 1e-5
    torch.testing.assert_close(_fft._hermitian_irfft(x, n).double(), expected, rtol=0, atol=tol)
    torch.testing.assert_close(_fft.irfft(x, n).double(), expected, rtol=0, atol=tol)  # 292 in float64: packed
    with pytest.raises(ValueError, match="frequencies"):
        _fft.irfft(x[..., :-1], n)


@pytest.mark.parametrize("n", [10, 11, 292])
def test_rfft_backward_is_the_adjoint(n):
    x = torch.randn(2, n, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: torch.view_as_real(_fft.rfft(v)), (x,))


def test_exported_irfft_is_not_a_one_sided_inverse_dft():
    """ONNX ``DFT`` with ``onesided=1, inverse=1`` (what ``torch.fft.irfft`` exports to) is
    refused by onnxruntime < 1.24, the last releases for Python 3.10; the export path avoids it."""
    pytest.importorskip("onnxscript")

    class RoundTrip(torch.nn.Module):
        def forward(self, x):
            return _fft.irfft(_fft.rfft(x) * 2.0, x.shape[-1])

    program = torch.onnx.export(RoundTrip().eval(), (torch.randn(2, 64),), dynamo=True, optimize=False, verbose=False)
    dfts = [node for node in program.model_proto.graph.node if node.op_type == "DFT"]
    assert dfts
    for node in dfts:
        attrs = {a.name: a.i for a in node.attribute}
        assert not (attrs.get("onesided", 0) and attrs.get("inverse", 0)), attrs


def _fresh_chirps(monkeypatch):
    monkeypatch.setattr(_fft, "_cache", {})


def test_chirps_made_under_export_do_not_poison_eager_calls(monkeypatch):
    """A first float64 call inside torch.export made fake chirps; cached, every later eager
    transform of that size returned garbage (relative error 0.57)."""
    _fresh_chirps(monkeypatch)

    class F(torch.nn.Module):
        def forward(self, x):
            return torch.view_as_real(_fft.fft(x.to(torch.complex128)))

    x = torch.randn(2, 292, dtype=torch.float64)
    torch.export.export(F(), (x,))
    assert all(type(c) is torch.Tensor for v in _fft._cache.values() for c in v[:2])
    assert _rel(_fft.fft(x.to(torch.complex128)).numpy(), np.fft.fft(x.numpy())) < 1e-14


def test_chirps_made_under_inference_mode_do_not_break_later_backward(monkeypatch):
    _fresh_chirps(monkeypatch)
    x = torch.randn(2, 292, dtype=torch.float64)
    with torch.inference_mode():
        _fft.rfft(x)
    xg = x.clone().requires_grad_()
    _fft.rfft(xg).abs().sum().backward()  # raised: inference tensors cannot be saved for backward
    assert xg.grad is not None and torch.isfinite(xg.grad).all()
