"""FFTs along the last dimension that keep float64 at float64 precision for every size.

torch's CPU FFT (MKL) computes double-precision transforms of sizes with a large prime
factor to ~1e-14 relative error (measured: size 292 = 4 * 73 round-trips at -275 dB, size
18060 = 4 * 3 * 5 * 7 * 43 at -281 dB, against -310 dB for numpy's pocketfft and for
7-smooth sizes). The sliCQT meets such sizes everywhere (its per-bin lengths are ``4 * p``,
xumx-sliCQ's slice is ``420 * 43``), so in float64 those sizes are split: a size ``n = a p``
with ``p`` its one large prime and ``a`` 7-smooth is a 2-D DFT,
the ``a``-point transforms by torch's FFT and the ``p``-point ones as a product with the
``p x p`` DFT matrix (Cooley-Tukey), phases and twiddles from exact integer products (~-305 dB, ~6x
faster than Bluestein). Other sizes go through Bluestein's algorithm on power-of-two FFTs
with the chirp computed from ``n^2 mod 2n``. Real inputs (:func:`rfft`) take a half-size
variant of the split (:func:`_split_rfft`: only the ``p // 2 + 1`` non-redundant rows of the
``p``-point DFTs, the rest by Hermitian symmetry).

Float32/complex64 and smooth sizes use torch's own FFT (there float32 round-off dominates),
except one case that is about speed: on the CPU, MKL computes real FFTs whose largest prime
factor lies in 37..61 3-6x slower per sample than 5-smooth ones (measured with torch 2.13's MKL
2024.2 on an AMD EPYC: 6.6 ns per sample for xumx-sliCQ's slice of 18060 = 420 * 43, against 1.6
for 18432), and the half-size split does it 1.5-1.7x faster than MKL's own transform
(``benchmarks/bench_slicqt.py``, row ``rfft_slices``). Outside that range MKL's own transform
was as fast or faster, so only that range is split.

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


def _needs_precise(n: int, dtype: torch.dtype) -> bool:
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


def _split(n: int) -> tuple[int, int] | None:
    """``(a, p)`` with ``n = a p``, ``p`` prime > 7 not dividing ``a``, ``a`` 7-smooth; else None."""
    p = largest_prime_factor(n)
    a = n // p
    if p <= _SMOOTH[-1] or a % p == 0 or largest_prime_factor(a) > _SMOOTH[-1]:
        return None
    return a, p


def _split_plan(n: int, device: torch.device, inverse: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """The ``p``-point DFT matrix (complex, and as a real ``(p, 2p)`` one) and the ``(a, p)``
    twiddle factors of the split of :func:`_split`, phases from exact integer products
    ``jk mod p`` and ``jk mod n``; ``inverse``: conjugated, the twiddles carrying the ``1/n``."""
    key = ("split", n, inverse, str(device))
    if key in _cache:
        return _cache[key]
    a, p = _split(n)
    sign = 1.0 if inverse else -1.0
    j = torch.arange(p, dtype=torch.int64)
    phase = (2 * torch.pi / p) * ((j[:, None] * j[None, :]) % p).to(torch.float64)
    dft = torch.polar(torch.ones_like(phase), sign * phase)  # e^{-+2 pi i jk / p}
    phase = (2 * torch.pi / n) * ((torch.arange(a)[:, None] * j[None, :]) % n).to(torch.float64)
    twiddle = torch.polar(torch.full_like(phase, 1.0 / n if inverse else 1.0), sign * phase)  # e^{-+2 pi i i1 k1 / n}
    real_dft = torch.view_as_real(dft).flatten(-2)  # (p, 2p): a real row times it is (re, im)-interleaved
    plan = (dft.to(device), real_dft.to(device), twiddle.to(device))
    if not (torch.compiler.is_compiling() or torch.compiler.is_exporting()) and all(
        type(c) is Tensor and not c.is_inference() for c in plan
    ):  # plain tensors only outlive the call (see _chirp)
        _cache[key] = plan
    return plan


def _split_dft(x: Tensor, inverse: bool = False) -> Tensor:
    """DFT (``inverse``: ``1/n``-normalised inverse) of a real or complex float64 ``x`` along its
    last dim, ``n = a p`` (Cooley-Tukey).

    ``x[a i2 + i1]`` at ``(i2, i1)``: the ``p``-point DFTs over ``i2`` as one matrix product,
    the twiddles, then the ``a``-point FFTs; ``X[k1 + p k2]`` comes out at ``(k2, k1)``, i.e. in
    order when flattened.
    """
    n = x.shape[-1]
    a, p = _split(n)
    dft, real_dft, twiddle = _split_plan(n, x.device, inverse)
    grid = x.unflatten(-1, (p, a)).transpose(-1, -2)  # (..., a, p): x[a i2 + i1] at (i1, i2)
    if grid.is_complex():
        grid = grid @ dft
    else:  # a real input: one real product, whose output is the complex one's real view
        grid = torch.view_as_complex((grid @ real_dft).unflatten(-1, (p, 2)))
    grid = grid.mul_(twiddle)
    out = torch.fft.ifft(grid, dim=-2, norm="forward") if inverse else torch.fft.fft(grid, dim=-2)
    return out.flatten(-2)


def _rsplit_plan(n: int, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
    """The tables of :func:`_split_rfft`: the ``(2 h, p)`` real matrix whose rows are the real
    then the imaginary parts of the first ``h = p // 2 + 1`` rows of the ``p``-point DFT, and the
    ``(h, a)`` twiddles ``e^{-2 pi i k1 i1 / n}``; phases from exact integer products."""
    key = ("rsplit", n, dtype, str(device))
    if key in _cache:
        return _cache[key]
    a, p = _split(n)
    h = p // 2 + 1
    k1 = torch.arange(h, dtype=torch.int64)
    phase = (2 * torch.pi / p) * ((k1[:, None] * torch.arange(p)[None, :]) % p).to(torch.float64)
    rows = torch.cat((torch.cos(phase), -torch.sin(phase)), 0).to(dtype)
    phase = (2 * torch.pi / n) * ((k1[:, None] * torch.arange(a)[None, :]) % n).to(torch.float64)
    ctype = torch.complex128 if dtype == torch.float64 else torch.complex64
    twiddle = torch.polar(torch.ones_like(phase), -phase).to(ctype)
    plan = (rows.to(device), twiddle.to(device))
    if not (torch.compiler.is_compiling() or torch.compiler.is_exporting()) and all(
        type(c) is Tensor and not c.is_inference() for c in plan
    ):  # plain tensors only outlive the call (see _chirp)
        _cache[key] = plan
    return plan


def _split_rfft(x: Tensor) -> Tensor:
    """``rfft`` of a real ``x`` along its last dim, ``n = a p`` (Cooley-Tukey, half the work of
    :func:`_split_dft`).

    ``x[a i2 + i1]`` at ``(i2, i1)`` (a free view): the ``p``-point DFTs over ``i2`` as one real
    matrix product for the rows ``k1 <= p // 2`` only, the twiddles, the ``a``-point FFTs over
    ``i1``: ``X[k1 + p k2]`` at ``(k1, k2)``. The rows ``k1 > p // 2`` are Hermitian images,
    ``X[k1 + p k2] = conj X[(p - k1) + p (a - 1 - k2)]``, so the natural order of the first
    ``n // 2 + 1`` outputs is the transpose of the computed rows next to the flipped, conjugated
    ones, cut to length (one copy).
    """
    n = x.shape[-1]
    a, p = _split(n)
    h, a2 = p // 2 + 1, a // 2 + 1  # computed rows; output columns k2 = 0 .. n // 2 // p
    rows, twiddle = _rsplit_plan(n, x.dtype, x.device)
    lead = x.shape[:-1]
    y = rows @ x.reshape(-1, p, a)  # (B, 2h, a): real parts of the rows k1 < h, then imaginary parts
    z = torch.fft.fft(torch.complex(y[:, :h], y[:, h:]).mul_(twiddle), dim=-1)  # X[k1 + p k2] at (k1, k2)
    if z.dtype == torch.complex64 and not torch.compiler.is_compiling():
        pairs = z.view(torch.float64)  # (re, im) as one 8-byte element: the flip and the cat move pairs
        hermitian = pairs[:, 1:, a - a2 :].flip(1, 2)  # k1 = p - 1 .. h, k2 = 0 .. a2 - 1: before conjugation
        full = torch.cat((pairs[:, :, :a2].transpose(1, 2), hermitian.transpose(1, 2)), -1)  # (B, a2, p)
        full = full.view(torch.float32).unflatten(-1, (p, 2))
    else:
        pairs = torch.view_as_real(z)
        hermitian = pairs[:, 1:, a - a2 :].flip(1, 2)
        full = torch.cat((pairs[:, :, :a2].transpose(1, 2), hermitian.transpose(1, 2)), -2)  # (B, a2, p, 2)
    full[:, :, h:, 1].neg_()
    return torch.view_as_complex(full.flatten(1, 2)[:, : n // 2 + 1]).reshape(lead + (n // 2 + 1,))


def _fast_split(n: int, x: Tensor) -> bool:
    """Whether a float32 real FFT of size ``n`` is faster split (see the module doc)."""
    if x.dtype != torch.float32 or x.device.type != "cpu" or n < 4096 or torch.compiler.is_compiling() or torch.compiler.is_exporting():
        return False
    split = _split(n)
    return split is not None and 37 <= split[1] <= 61


def _precise(x: Tensor, outputs: int | None = None) -> Tensor:
    """float64-exact DFT for a size torch's FFT computes to only ~1e-14 (see the module doc)."""
    y = _split_dft(x) if _split(x.shape[-1]) is not None else _bluestein(x.to(torch.complex128))
    return y if outputs is None else y[..., :outputs]


def _precise_inverse(x: Tensor) -> Tensor:
    """float64-exact ``1/n``-normalised inverse DFT (see :func:`_precise`)."""
    n = x.shape[-1]
    return _split_dft(x, inverse=True) if _split(n) is not None else _bluestein(x.conj()).conj() / n


def _packed_irfft(x: Tensor, n: int) -> Tensor:
    """``irfft`` of even ``n`` as one complex inverse DFT of ``n / 2`` points (float64-exact).

    With ``m = n / 2``, ``E[k] = (X[k] + X*[m-k]) / 2`` and ``O[k] = (X[k] - X*[m-k]) e^{2 pi i k / n} / 2``
    are the spectra of the even and odd samples, and ``ifft(E + i O)`` holds them as its real and
    imaginary parts: its real view is the signal, in order. Imaginary parts of DC and Nyquist are
    dropped first, as ``torch.fft.irfft`` does. Half the work of a Hermitian completion.
    """
    m = n // 2
    key = ("pack", n, str(x.device))
    if key in _cache:
        (phase,) = _cache[key]
    else:
        angle = (2 * torch.pi / n) * torch.arange(m, dtype=torch.float64)
        phase = torch.polar(torch.full_like(angle, 0.5), angle).to(x.device)  # e^{2 pi i k / n} / 2
        if not (torch.compiler.is_compiling() or torch.compiler.is_exporting()) and type(phase) is Tensor and not phase.is_inference():
            _cache[key] = (phase,)  # plain tensors only outlive the call (see _chirp)
    r = torch.view_as_real(x.to(torch.complex128))
    keep = torch.ones(m + 1, dtype=r.dtype, device=r.device)
    keep[0] = keep[m] = 0.0
    x = torch.view_as_complex(torch.stack((r[..., 0], r[..., 1] * keep), dim=-1))
    low, high = x[..., :m], x[..., 1:].flip(-1).conj()  # X[k], X*[m - k] for k = 0 .. m-1
    z = (low + high) * 0.5 + 1j * ((low - high) * phase)
    return torch.view_as_real(_precise_inverse(z)).flatten(-2)


def fft(x: Tensor) -> Tensor:
    """Forward DFT along the last dimension (``torch.fft.fft`` semantics)."""
    if _needs_precise(x.shape[-1], x.dtype):
        return _precise(x.to(torch.complex128))
    return torch.fft.fft(x, dim=-1)


def ifft(x: Tensor, n: int | None = None) -> Tensor:
    """Inverse DFT along the last dimension, ``1/n`` normalised (``torch.fft.ifft``)."""
    n = x.shape[-1] if n is None else n
    if _needs_precise(n, x.dtype):
        if n != x.shape[-1]:
            x = torch.nn.functional.pad(x, (0, n - x.shape[-1]))
        return _precise_inverse(x)
    return torch.fft.ifft(x, n=n, dim=-1)


def _rfft(x: Tensor) -> Tensor:
    n = x.shape[-1]
    if _needs_precise(n, x.dtype):
        return _split_rfft(x) if _split(n) is not None else _precise(x, n // 2 + 1)
    if _fast_split(n, x):
        return _split_rfft(x)
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

    Under ``torch.export`` / ONNX export the completion is explicit (:func:`_hermitian_irfft`);
    float64 sizes with a large prime factor take the packed half-size inverse
    (:func:`_packed_irfft`; odd sizes the completion), both exact; otherwise ``torch.fft.irfft``.
    """
    if x.shape[-1] != n // 2 + 1:
        raise ValueError(f"irfft of n={n} needs {n // 2 + 1} frequencies, got {x.shape[-1]}")
    if torch.compiler.is_exporting():
        return _hermitian_irfft(x, n)
    if _needs_precise(n, x.dtype):
        return _packed_irfft(x, n) if n % 2 == 0 else _hermitian_irfft(x, n)
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
