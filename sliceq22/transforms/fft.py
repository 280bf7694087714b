"""FFTs along the last dimension that keep float64 at float64 precision for every size.

torch's CPU FFT (MKL) computes double-precision transforms of sizes with a large prime
factor to ~1e-14 relative error (measured: size 292 = 4 * 73 round-trips at -275 dB, size
18060 = 4 * 3 * 5 * 7 * 43 at -281 dB, against -310 dB for numpy's pocketfft and for
5-smooth sizes). The sliCQT meets such sizes everywhere (its per-bin lengths are ``4 * p``),
so in float64 those sizes go through Bluestein's algorithm on power-of-two FFTs with the
chirp computed from ``n^2 mod 2n`` in exact integers: ~-305 dB. Float32/complex64 and smooth
sizes use torch's own FFT directly (there float32 round-off dominates anyway).

All functions are plain torch ops, hence differentiable and device-agnostic.
"""

from __future__ import annotations

import torch
from torch import Tensor

_SMOOTH = (2, 3, 5, 7)
_cache: dict = {}


def largest_prime_factor(n: int) -> int:
    """The largest prime factor of ``n`` (1 for ``n = 1``)."""

    p, largest = 2, 1
    while p * p <= n:
        while n % p == 0:
            largest, n = p, n // p
        p += 1
    return max(largest, n) if n > 1 else largest


def _needs_bluestein(n: int, dtype: torch.dtype) -> bool:
    return dtype in (torch.float64, torch.complex128) and largest_prime_factor(n) > _SMOOTH[-1]


def _chirp(n: int, device: torch.device) -> tuple[Tensor, Tensor, int]:
    key = (n, str(device))
    if key in _cache:
        return _cache[key]
    L = 1 << (2 * n - 2).bit_length()  # >= 2n - 1
    k = torch.arange(n, dtype=torch.int64)
    phase = torch.pi * ((k * k) % (2 * n)).to(torch.float64) / n
    w = torch.polar(torch.ones_like(phase), -phase)  # e^{-i pi k^2 / n}
    b = torch.zeros(L, dtype=torch.complex128)
    b[:n] = w.conj()
    b[L - n + 1 :] = w.conj()[1:].flip(0)
    chirp = (w.to(device), torch.fft.fft(b).to(device), L)
    # only plain tensors outlive the call: made while torch.export / torch.compile trace they
    # are fake (later eager calls would compute garbage with them), made under inference_mode
    # they cannot be saved for a later backward
    if not (torch.compiler.is_compiling() or torch.compiler.is_exporting()) and all(
        type(c) is Tensor and not c.is_inference() for c in chirp[:2]
    ):
        _cache[key] = chirp
    return chirp


def _bluestein(x: Tensor) -> Tensor:
    n = x.shape[-1]
    w, bf, L = _chirp(n, x.device)
    a = torch.fft.fft(x * w, n=L, dim=-1)
    return torch.fft.ifft(a * bf, dim=-1)[..., :n] * w


def fft(x: Tensor) -> Tensor:
    """Forward DFT along the last dimension (``torch.fft.fft`` semantics)."""
    if _needs_bluestein(x.shape[-1], x.dtype):
        return _bluestein(x.to(torch.complex128))
    return torch.fft.fft(x, dim=-1)


def ifft(x: Tensor, n: int | None = None) -> Tensor:
    """Inverse DFT along the last dimension, ``1/n`` normalised (``torch.fft.ifft``)."""
    n = x.shape[-1] if n is None else n
    if _needs_bluestein(n, x.dtype):
        if n != x.shape[-1]:
            x = torch.nn.functional.pad(x, (0, n - x.shape[-1]))
        return _bluestein(x.conj()).conj() / n
    return torch.fft.ifft(x, n=n, dim=-1)


def _rfft(x: Tensor) -> Tensor:
    n = x.shape[-1]
    if _needs_bluestein(n, x.dtype):
        return _bluestein(x.to(torch.complex128))[..., : n // 2 + 1]
    return torch.fft.rfft(x, dim=-1)


class _RFFT(torch.autograd.Function):
    """rfft whose backward is a half-size ``irfft`` rather than torch's full-size c2c.

    The adjoint of ``y = rfft(x)`` (real x, n even or odd) is
    ``x_grad = n * irfft(g * [1, 1/2, ..., 1/2, 1 (n even)])``: 3x faster on CPU.
    """

    @staticmethod
    def forward(ctx, x):
        ctx.n = x.shape[-1]
        return _rfft(x)

    @staticmethod
    def backward(ctx, g):
        n = ctx.n
        w = torch.full((g.shape[-1],), 0.5, dtype=g.real.dtype, device=g.device)
        w[0] = 1.0
        if n % 2 == 0:
            w[-1] = 1.0
        return irfft(g * w, n) * n


def rfft(x: Tensor) -> Tensor:
    """Real-input DFT along the last dimension, ``n // 2 + 1`` outputs."""
    if x.requires_grad:
        return _RFFT.apply(x)
    return _rfft(x)


def _hermitian_irfft(x: Tensor, n: int) -> Tensor:
    """``irfft`` as a c2c inverse of the Hermitian-completed spectrum, built on the real view.

    Imaginary parts of DC (and Nyquist, ``n`` even) are dropped, as ``torch.fft.irfft`` does.
    Only real-view slicing, ``flip``, ``stack``, ``cat`` and one c2c FFT: exportable, and ONNX
    gets an inverse DFT that is not one-sided (onnxruntime < 1.24, the last releases for
    Python 3.10, refuses ``DFT`` nodes with ``onesided=1, inverse=1``, which is what
    ``torch.fft.irfft`` exports to).
    """
    r = torch.view_as_real(x)  # (..., n // 2 + 1, 2)
    keep = torch.ones(r.shape[-2], dtype=r.dtype, device=r.device)
    keep[0] = 0.0
    if n % 2 == 0:
        keep[n // 2] = 0.0
    r = torch.stack((r[..., 0], r[..., 1] * keep), dim=-1)
    tail = r[..., 1 : n - n // 2, :].flip(-2)
    full = torch.view_as_complex(torch.cat((r[..., : n // 2 + 1, :], torch.stack((tail[..., 0], -tail[..., 1]), -1)), dim=-2))
    return torch.view_as_real(ifft(full, n))[..., 0]


def irfft(x: Tensor, n: int) -> Tensor:
    """Inverse of :func:`rfft` for an output of ``n`` samples (Hermitian completion).

    Under ``torch.export`` / ONNX export and for float64 sizes with a large prime factor
    (Bluestein), the completion is explicit (:func:`_hermitian_irfft`); otherwise
    ``torch.fft.irfft``.
    """
    if x.shape[-1] != n // 2 + 1:
        raise ValueError(f"irfft of n={n} needs {n // 2 + 1} frequencies, got {x.shape[-1]}")
    if _needs_bluestein(n, x.dtype) or torch.compiler.is_exporting():
        return _hermitian_irfft(x, n)
    return torch.fft.irfft(x, n=n, dim=-1)


def cview(z: Tensor, fn) -> Tensor:
    """``fn(z)`` for a view or indexing op ``fn`` on complex ``z``, done on its real view.

    ``fn`` receives ``torch.view_as_real(z)`` (a trailing ``(re, im)`` dim, so negative dims
    shift by one) and must keep that dim last. Free in eager mode; the point is export: the
    ONNX exporter has FFTs and element-wise ops for complex tensors but no complex reshape,
    transpose, unsqueeze or indexing, so the transforms keep complex values only between
    FFTs and element-wise ops and move everything else through this.
    """
    return torch.view_as_complex(fn(torch.view_as_real(z)))


__all__ = ["cview", "fft", "ifft", "rfft", "irfft", "largest_prime_factor"]
