"""The sliced constant-Q transform (sliCQT) in torch: batched, differentiable, any device.

Forward, for a signal ``x`` of shape ``(..., samples)``:

1. cut it into slices of ``N = slice_len`` samples with hop ``N / 2`` and weight them by the
   Tukey-like slice window (one ``unfold``; no quarter rotation, see ``frame.py``);
2. one ``rfft`` of every slice;
3. every bin's frequency window read as a contiguous run of the half spectrum, extended by
   its Hermitian mirror below 0 and above Nyquist (row reads of an ``unfold`` view, with a
   custom backward), multiplied by the windows;
4. one ``ifft`` per group of bins with equal time resolution ``M_g``.

Inverse: ``fft`` per group, multiply by the canonical dual windows, one scatter-add of all
bins (and their mirror images at negative frequencies that fall in the positive half) into
each slice's half spectrum, one ``irfft``, and the 50% overlap-add of the slices.

Design record:
    * The reference (``nsgt``, numpy) loops over slices and bins in Python; xumx-sliCQ's torch
      port loops over bins and its backward through the inverse fails on torch 2.13. Here the
      loops are over *groups* only (dozens, not hundreds), so the transform is a few large
      kernels: it is memory- and launch-bound, never compute-bound.
    * Windows are built in float64 and kept as float64 buffers, also when the module is cast
      (``Float64Buffers``); they are cast to the input's precision per call (a few hundred
      kB), which keeps float64 reconstruction at ~1e-15.
    * float16/bfloat16 inputs are computed in float32 (cuFFT/pocketfft have no half-precision
      path for these sizes) and give complex64 coefficients.
"""

from __future__ import annotations

import math
import numbers
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from . import fft as _fft
from .fft import cview
from .buffers import Float64Buffers
from .coefficients import Layout, SliCQCoefficients
from .frame import SlicedFrame, build_frame, minimum_slice_len, next_fast_len
from .overlap import overlap_add
from .scales import make_scale


def suggest_slice_len(scale, sample_rate: float, min_win: int = 16) -> tuple[int, int]:
    """Smallest admissible slice length, rounded up to a fast FFT size, and its transition.

    Admissible: longer than every atom needs (:func:`minimum_slice_len`) and at least
    ``min_win``, the smallest window.

    Returns:
        ``(slice_len, trans_len)`` with ``slice_len`` 5-smooth and a multiple of 4, and
        ``trans_len = slice_len / 4`` rounded up to even.
    """
    nyquist = sample_rate / 2.0
    keep = scale.frequencies < nyquist
    needed = minimum_slice_len(type(scale)(scale.name, scale.frequencies[keep], scale.q[keep]), sample_rate)
    slice_len = next_fast_len(max(int(math.floor(needed)) + 1, int(min_win)))
    trans_len = slice_len // 4
    trans_len += trans_len % 2
    return slice_len, trans_len


def _as_real_float(x: Tensor, what: str) -> tuple[Tensor, torch.dtype]:
    if not isinstance(x, Tensor):
        raise ValueError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    if x.is_complex() or not x.is_floating_point():
        raise ValueError(f"{what} must be a real floating-point tensor, got {x.dtype}")
    compute = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    return x.to(compute), compute


class _Slices(torch.autograd.Function):
    """The signal cut into 50%-overlapping slices weighted by the slice window.

    Forward: one ``unfold`` view times the window (one pass). Backward: the adjoint, the
    window times the gradient, overlap-added (two half-block adds); autograd's generic
    ``unfold_backward`` took ~10 ms for 30 s of stereo on CPU, a third of the whole forward.
    """

    @staticmethod
    def forward(ctx, xp, window, N):
        ctx.save_for_backward(window)
        return xp.unfold(-1, N, N // 2) * window

    @staticmethod
    def backward(ctx, g):
        (window,) = ctx.saved_tensors
        return overlap_add(g * window), None, None


def _mirror(spec: Tensor, lo: int, hi: int) -> Tensor:
    """``conj(spec[hi - 1]), ..., conj(spec[lo])`` of a (re, im)-interleaved view ``(..., 2 F)``."""
    part = spec[..., 2 * lo : 2 * hi].unflatten(-1, (-1, 2)).flip(-2)
    return torch.stack((part[..., 0], -part[..., 1]), dim=-1).flatten(-2)


class _WindowRows(torch.autograd.Function):
    """All bins' frequency windows as rows, read from ``unfold`` views (no element gather).

    Works on the real view of the half spectrum with (re, im) interleaved, ``(..., 2 F)``, so
    that no complex tensor is indexed (see :func:`~sliceq22.transforms.fft.cview`). Every
    window is two contiguous half runs (centre up, then centre - M/2 up: zero-phase order) of
    the Hermitian-extended spectrum ``[conj mirror below 0, spectrum, conj mirror above N/2]``.
    Forward, per group: ``spec.unfold(-1, M_g, 4).index_select(-2, starts_g)`` copies the rows (on CPU
    ~10x faster than an element-wise gather, ~4x faster than ``[..., starts_g, :]``), viewed as ``(..., n, 2 M)`` for free; the few
    runs that cross DC or Nyquist are then overwritten from two small extended edge pieces,
    so the full extended spectrum is never built, and the rows are multiplied by the windows
    in place (no second 40 MB tensor per 30 s of stereo). Backward: the adjoint, one ``index_add``
    of all rows into the extended spectrum, whose mirror parts fold back conjugated; plain
    autograd through the indexed unfold view would materialise the whole unfolded tensor.
    """

    @staticmethod
    def forward(ctx, spec, window, plan, starts, edge_rows, edge_starts, positions):
        ctx.save_for_backward(window, positions)
        ctx.plan = plan
        pad_lo, pad_hi, lo_len, hi_from, sizes, edge_counts = plan
        F = spec.shape[-1] // 2
        ctx.ext_len = 2 * (pad_lo + F + pad_hi)
        lo = torch.cat((_mirror(spec, 1, pad_lo + 1), spec[..., : 2 * lo_len]), -1) if pad_lo else None
        hi = torch.cat((spec[..., 2 * hi_from :], _mirror(spec, F - 1 - pad_hi, F - 1)), -1) if pad_hi else None
        rows, k, e, w = [], 0, 0, 0
        for (n, m), (n_lo, n_hi) in zip(sizes, edge_counts):
            half_rows = spec.unfold(-1, m, 4).index_select(-2, starts[k : k + 2 * n])  # m reals = m/2 complex
            for src, count in ((lo, n_lo), (hi, n_hi)):
                if count:
                    half_rows.index_copy_(-2, edge_rows[e : e + count], src.unfold(-1, m, 4).index_select(-2, edge_starts[e : e + count]))
                    e += count
            rows.append(half_rows.unflatten(-2, (n, 2)).flatten(-2).mul_(window[w : w + 2 * n * m].view(n, 2 * m)))
            k, w = k + 2 * n, w + 2 * n * m
        return tuple(rows)

    @staticmethod
    def backward(ctx, *grads):
        window, positions = ctx.saved_tensors
        pad_lo, pad_hi, _, _, sizes, _ = ctx.plan
        ref = next(g for g in grads if g is not None)
        lead = ref.shape[:-2]
        gext = ref.new_zeros(lead + (ctx.ext_len,))
        offset = 0
        for g, (n, m) in zip(grads, sizes):
            if g is not None:
                g = g * window[offset : offset + 2 * n * m].view(n, 2 * m)
                gext.index_add_(-1, positions[offset : offset + 2 * n * m], g.reshape(lead + (2 * n * m,)))
            offset += 2 * n * m
        F = ctx.ext_len // 2 - pad_lo - pad_hi
        grad = gext[..., 2 * pad_lo : 2 * (pad_lo + F)].clone()
        if pad_lo:
            grad[..., 2 : 2 * (pad_lo + 1)] += _mirror(gext, 0, pad_lo)
        if pad_hi:
            grad[..., 2 * (F - 1 - pad_hi) : 2 * (F - 1)] += _mirror(gext, pad_lo + F, pad_lo + F + pad_hi)
        return grad, None, None, None, None, None, None


class SliCQT(Float64Buffers):
    """Sliced constant-Q transform with perfect reconstruction (Holighaus et al. 2012).

    ``C = t(x)`` gives ragged coefficients (:class:`SliCQCoefficients`), ``t.inverse(C, length)``
    the signal back, ``t.overlap_add(C)`` one spectrogram per bin group, ``C.to_matrix()`` and
    ``C.rasterize()`` the two matrix forms (2014 rasterization for the latter).

    Args:
        scale: ``log``/``cqlog``, ``oct``, ``vqlog``, ``mel``, ``bark`` or ``lin``.
        fmin: lowest bin centre in Hz.
        fmax: highest bin centre in Hz, at most Nyquist (a bin *at* Nyquist is merged into
            the Nyquist window, as in nsgt).
        bins: number of bins (bins per octave for ``oct``).
        sample_rate: sampling rate in Hz (no default on purpose: say what your audio is).
        slice_len: slice length in samples, a multiple of 4; ``None`` picks the smallest
            admissible one, rounded up to a fast FFT size.
        trans_len: transition length in samples, even, ``< slice_len / 2``; ``None``:
            ``slice_len / 4``.
        gamma: bandwidth offset in Hz of the ``vqlog`` scale.
        min_win: smallest number of coefficients per slice of any bin.
        q_var: bandwidth multiplier (``Qvar`` of nsgt).
        strict: raise (default) rather than warn when ``slice_len`` is below the smallest
            admissible one; reconstruction is perfect either way.
        fast_sizes: round every bin's coefficients per slice up to a 5-smooth multiple of 4
            (windows zero-padded; fewer groups, 3-4x faster per-bin FFTs, ~3.5% more
            coefficients). ``False`` (default) keeps nsgt's sizes and coefficients.

    Shape:
        - input: ``(..., samples)``, real.
        - output blocks: ``(..., bins_g, slices, M_g)`` complex, with
          ``slices = self.num_slices(samples) = (ceil(4 samples / N) + 1) // 2 + 1``.

    References:
        Holighaus, Dörfler, Velasco, Grill, "A framework for invertible, real-time constant-Q
        transforms", IEEE TASLP 2013. Schörkhuber, Klapuri, Holighaus, Dörfler, AES 2014.
    """

    def __init__(
        self,
        scale: str = "bark",
        fmin: float = 32.9,
        fmax: float = 22050.0,
        bins: int = 262,
        sample_rate: float = 44100,
        slice_len: Optional[int] = None,
        trans_len: Optional[int] = None,
        gamma: float = 0.0,
        min_win: int = 16,
        q_var: float = 1.0,
        strict: bool = True,
        fast_sizes: bool = False,
    ):
        super().__init__()
        if not (isinstance(sample_rate, numbers.Real) and math.isfinite(sample_rate) and sample_rate > 0):
            raise ValueError(f"sample_rate must be a finite number > 0 Hz, got {sample_rate}")
        if not (isinstance(q_var, numbers.Real) and math.isfinite(q_var)):
            raise ValueError(f"q_var must be a finite number > 0, got {q_var}")
        for name, value in (("fmin", fmin), ("fmax", fmax)):  # None or "60" failed as a TypeError below
            if isinstance(value, bool) or not (isinstance(value, numbers.Real) and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number of Hz, got {value!r}")
        for name, value in (("slice_len", slice_len), ("trans_len", trans_len)):
            if value is not None and (isinstance(value, bool) or not float(value).is_integer()):
                raise ValueError(f"{name} must be a whole number of samples, got {value}")
        nyquist = sample_rate / 2.0
        if fmax > nyquist:
            raise ValueError(
                f"fmax={fmax} Hz is above the Nyquist frequency {nyquist} Hz of sample_rate="
                f"{sample_rate}: lower fmax to at most {nyquist} or check the sample rate"
            )
        sc = make_scale(scale, fmin, fmax, bins, gamma)
        if fmin >= nyquist:
            raise ValueError(f"fmin={fmin} Hz must be below Nyquist ({nyquist} Hz)")
        if slice_len is None:
            slice_len, suggested_trans = suggest_slice_len(sc, sample_rate, min_win)
            trans_len = suggested_trans if trans_len is None else trans_len
        slice_len = int(slice_len)
        if slice_len <= 0 or slice_len % 4:
            raise ValueError(f"slice_len must be a positive multiple of 4, got {slice_len}")
        if trans_len is None:
            trans_len = slice_len // 4 + (slice_len // 4) % 2
        trans_len = int(trans_len)
        if trans_len < 0 or trans_len % 2 or not slice_len > 2 * trans_len:
            raise ValueError(
                f"trans_len must be even, >= 0 and below slice_len / 2 = {slice_len // 2}, "
                f"got {trans_len}"
            )
        frame = build_frame(
            sc, sample_rate, slice_len, trans_len, min_win=min_win, q_var=q_var, strict=strict, fast_sizes=fast_sizes
        )

        self.scale_name = scale
        self.fmin, self.fmax, self.bins, self.gamma = float(fmin), float(fmax), int(bins), float(gamma)
        self.sample_rate = float(sample_rate)
        self.slice_len, self.trans_len = slice_len, trans_len
        self.fast_sizes = bool(fast_sizes)
        self.frame = frame
        self._build_buffers(frame)

    # --------------------------------------------------------------------- set-up
    def _build_buffers(self, frame: SlicedFrame) -> None:
        N = frame.slice_len
        half = N // 2
        M = frame.M
        # groups: maximal runs of bins with equal M (low to high frequency)
        groups: list[tuple[int, int, int]] = []  # (first bin, n bins, M)
        start = 0
        for k in range(1, len(M) + 1):
            if k == len(M) or M[k] != M[start]:
                groups.append((start, k - start, int(M[start])))
                start = k
        self.groups = groups

        win, dual_w = [], []
        mir_dst, mir_src = [], []
        mir_count = [0] * len(groups)
        group_of = np.repeat(np.arange(len(groups)), [n for _, n, _ in groups])
        group_offset = np.cumsum([0] + [n * m for _, n, m in groups])
        offset = 0
        n_real = len(M)
        for k in range(n_real):
            pos = frame.positions(k)
            s = frame.sign(k)
            m = int(M[k])
            flat = offset - group_offset[group_of[k]] + np.arange(m)  # index within its group
            win.append(frame.windows[k] * s)  # zero-phase order, sign folded in
            dual_w.append(frame.duals[k] * m * s)
            if 0 < k < n_real - 1:  # mirror images of the bins (not of DC / Nyquist)
                mpos = (N - pos) % N
                sel = mpos <= half
                mir_dst.append(mpos[sel])
                mir_src.append(flat[sel])
                mir_count[group_of[k]] += int(sel.sum())
            offset += m
        self.mirror_counts = tuple(mir_count)  # mirror entries per group, in group order
        cat = lambda xs, dt: torch.as_tensor(np.concatenate(xs), dtype=dt)  # noqa: E731
        buf = lambda name, t: self.register_buffer(name, t, persistent=False)  # noqa: E731
        buf("slice_window", torch.as_tensor(frame.slice_window, dtype=torch.float64))
        # forward: every window is two contiguous runs (centre up, lower end up) of the half
        # spectrum extended by its Hermitian mirror below 0 and above N/2 ("ext" coordinates:
        # spectrum index + pad_lo); runs start at even indices (unfold step 2 complex)
        starts = frame.centers - M // 2
        pad_lo = int(max(0, -starts.min()))
        pad_lo += pad_lo % 2
        pad_hi = int(max(0, (frame.centers + M // 2 - 1 - half).max()))
        F = half + 1
        run = np.stack((frame.centers, starts), 1).reshape(-1)  # spectrum index of each run
        h = np.repeat(M // 2, 2)
        lo, hi = run < 0, run + h > F  # runs that cross DC / Nyquist: read from small edge pieces
        if (lo & hi).any():  # M <= N rules it out; pad_lo/pad_hi cover every run by construction
            raise AssertionError("a window run crosses both DC and Nyquist")
        lo_len = int((run[lo] + h[lo]).max()) if lo.any() else 0
        hi_from = int(run[hi].min()) if hi.any() else F
        buf("row_start", torch.as_tensor(np.clip(run, 0, F - 1 - h) // 2, dtype=torch.long))
        edge_rows, edge_starts, edge_counts, k = [], [], [], 0
        for _, n, _ in groups:
            counts = []
            for mask, start in ((lo[k : k + 2 * n], run + pad_lo), (hi[k : k + 2 * n], run - hi_from)):
                local = np.flatnonzero(mask)
                edge_rows.append(local)
                edge_starts.append(start[k + local] // 2)
                counts.append(len(local))
            edge_counts.append(tuple(counts))
            k += 2 * n
        buf("edge_rows", cat(edge_rows, torch.long))
        buf("edge_starts", cat(edge_starts, torch.long))
        self._rows_plan = (pad_lo, pad_hi, lo_len, hi_from, tuple((n, m) for _, n, m in groups), tuple(edge_counts))
        # backward: every row entry's (re, im) position in the extended spectrum
        lower = starts + pad_lo
        zero_phase = [np.roll(lower[k] + np.arange(int(M[k])), -(int(M[k]) // 2)) for k in range(n_real)]
        interleaved = [np.stack((2 * z, 2 * z + 1), 1).reshape(-1) for z in zero_phase]  # (re, im) of each
        buf("window_positions", cat(interleaved, torch.long))
        # windows per (re, im) of the interleaved real views: plain real multiplies at run time
        buf("analysis_window", cat(win, torch.float64).repeat_interleave(2))
        # inverse: every entry adds into the half spectrum at its position (entries beyond
        # N/2 go to a dump slot N/2 + 1), and the few bins whose mirror image at negative
        # frequencies folds back into 0..N/2 add their conjugate there as well.
        pos_all = np.concatenate([frame.positions(k) for k in range(n_real)])
        # indices into the (re, im)-interleaved real view: each complex position p -> 2p, 2p + 1
        pairs = lambda idx: torch.as_tensor(np.stack((2 * idx, 2 * idx + 1), -1).reshape(-1), dtype=torch.long)  # noqa: E731
        buf("scatter_dst", pairs(np.where(pos_all <= half, pos_all, half + 1)))
        buf("synthesis_window", cat(dual_w, torch.float64).repeat_interleave(2))
        buf("mirror_dst", pairs(np.concatenate(mir_dst or [np.zeros(0)]).astype(np.int64)))
        buf("mirror_src", pairs(np.concatenate(mir_src or [np.zeros(0)]).astype(np.int64)))
        buf("mirror_sign", torch.tensor([1.0, -1.0], dtype=torch.float64).repeat(sum(mir_count)))  # conjugation
        buf("frequencies", torch.as_tensor(frame.frequencies, dtype=torch.float64))

    # --------------------------------------------------------------------- geometry
    @property
    def layout(self) -> Layout:
        """``((bins_g, M_g), ...)`` of every group, low to high frequency."""
        return tuple((n, m) for _, n, m in self.groups)

    @property
    def num_bins(self) -> int:
        """Number of coefficient rows: DC, the scale's bins below Nyquist, Nyquist."""
        return len(self.frame.M)

    @property
    def max_slice_len(self) -> int:
        return int(self.frame.M.max())

    def num_slices(self, samples: int) -> int:
        """Number of slices for a signal of ``samples`` samples."""
        quarter = self.slice_len // 4
        blocks = -(-samples // quarter)
        return (blocks + 1) // 2 + 1

    def extra_repr(self) -> str:
        return (
            f"scale={self.scale_name!r}, fmin={self.fmin}, fmax={self.fmax}, bins={self.bins}, "
            f"sample_rate={self.sample_rate:g}, slice_len={self.slice_len}, trans_len={self.trans_len}"
            f"{', fast_sizes=True' if self.fast_sizes else ''}, groups={len(self.groups)}, max_slice_len={self.max_slice_len}"
        )

    # --------------------------------------------------------------------- transform
    def forward(self, x: Tensor) -> SliCQCoefficients:
        """Analysis.

        Args:
            x: real signal.

        Returns:
            Ragged complex coefficients.

        Shape:
            - x: ``(..., samples)``
            - blocks: ``(..., bins_g, slices, M_g)``
        """
        if not isinstance(x, Tensor) or x.dim() < 1 or x.shape[-1] == 0:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"SliCQT expects a signal of shape (..., samples) with samples > 0, got {shape}")
        x, dtype = _as_real_float(x, "the signal")
        N = self.slice_len
        quarter = N // 4
        samples = x.shape[-1]
        S = self.num_slices(samples)
        if x.numel() == 0:  # an empty batch (the FFTs refuse one): empty blocks of the right shape
            ctype = torch.complex128 if dtype == torch.float64 else torch.complex64
            return SliCQCoefficients([x.new_zeros(x.shape[:-1] + (n, S, m), dtype=ctype) for _, n, m in self.groups])
        total = (2 * S + 2) * quarter  # = (S - 1) * N/2 + N
        xp = torch.nn.functional.pad(x.reshape(-1, samples), (2 * quarter, total - 2 * quarter - samples))
        slices = _Slices.apply(xp, self.slice_window.to(dtype), N)  # (B, S, N)
        spec = torch.view_as_real(_fft.rfft(slices)).flatten(-2)  # (B, S, 2 (N/2 + 1)): re, im interleaved
        window = self.analysis_window.to(dtype)  # (re, im)-interleaved
        blocks = []
        lead = x.shape[:-1]
        all_rows = _WindowRows.apply(
            spec, window, self._rows_plan, self.row_start, self.edge_rows, self.edge_starts, self.window_positions
        )
        for rows in all_rows:  # (B, S, n, 2m): windowed, zero-phase order, (re, im) interleaved
            c = _fft.ifft(torch.view_as_complex(rows.unflatten(-1, (-1, 2))))  # (B, S, n, m)
            c = cview(c, lambda r: r.transpose(-4, -3).unflatten(0, lead) if lead else r.transpose(-4, -3)[0])
            blocks.append(c)  # (..., n, S, m): a view of the ifft output
        return SliCQCoefficients(blocks)

    def inverse(self, C: SliCQCoefficients, length: int) -> Tensor:
        """Synthesis with the canonical dual frame (perfect reconstruction).

        Args:
            C: ragged coefficients with this transform's layout.
            length: number of samples of the signal to return.

        Returns:
            The signal, real, in the coefficients' real precision.

        Shape:
            - blocks: ``(..., bins_g, slices, M_g)``
            - output: ``(..., length)``
        """
        if not isinstance(C, SliCQCoefficients):
            raise ValueError(
                f"inverse() expects SliCQCoefficients, got {type(C).__name__}; for matrix forms use "
                f"SliCQCoefficients.from_matrix / from_rasterized with t.layout first"
            )
        if C.layout != self.layout:
            raise ValueError(f"coefficients have layout {C.layout}, this transform expects {self.layout}")
        length = int(length)
        S = C.num_slices
        if length <= 0 or self.num_slices(length) != S:
            raise ValueError(
                f"length={length} does not match {S} slices (a signal of {length} samples gives "
                f"{self.num_slices(max(length, 1))}); pass the original number of samples"
            )
        lead = C.batch_shape
        for g, b in enumerate(C.blocks):
            if b.shape[:-3] != lead or b.shape[-2] != S:
                raise ValueError(
                    f"block {g} has shape {tuple(b.shape)}: every block needs block 0's leading dims "
                    f"{tuple(lead)} and its {S} slices, (..., bins_g, {S}, M_g)"
                )
        double = any(b.dtype in (torch.float64, torch.complex128) for b in C.blocks)  # the widest block decides
        ctype, rtype = (torch.complex128, torch.float64) if double else (torch.complex64, torch.float32)
        blocks = list(C.blocks)
        B = math.prod(lead)
        if B == 0:  # an empty batch: nothing to transform (the FFTs refuse empty batches)
            return torch.zeros(lead + (length,), dtype=rtype, device=blocks[0].device)
        N = self.slice_len
        dual = self.synthesis_window.to(rtype)  # (re, im)-interleaved
        sign = self.mirror_sign.to(rtype)
        # the half spectrum as its (re, im)-interleaved real view: every add below is a plain
        # real index_add_ along the last dim (complex tensors only between FFTs: exportable)
        half_spec = torch.zeros((B, S, 2 * (N // 2 + 2)), dtype=rtype, device=blocks[0].device)
        w = r = 0
        for blk, (_, n, m), n_mirror in zip(blocks, self.groups, self.mirror_counts):
            # (B, S, n, m): a free view for blocks that came from forward()
            spec = _fft.fft(cview(blk.to(ctype), lambda z: z.reshape((B, n, S, m, 2)).transpose(-4, -3)))
            spec = (torch.view_as_real(spec).flatten(-2) * dual[2 * w : 2 * (w + n * m)].view(n, 2 * m)).reshape(B, S, 2 * n * m)
            half_spec.index_add_(-1, self.scatter_dst[2 * w : 2 * (w + n * m)], spec)
            if n_mirror:
                mirrored = spec[..., self.mirror_src[2 * r : 2 * (r + n_mirror)]] * sign[2 * r : 2 * (r + n_mirror)]
                half_spec.index_add_(-1, self.mirror_dst[2 * r : 2 * (r + n_mirror)], mirrored)
            w, r = w + n * m, r + n_mirror
        half_spec = torch.view_as_complex(half_spec.unflatten(-1, (-1, 2))[..., : N // 2 + 1, :])
        slices = _fft.irfft(half_spec, N)  # (B, S, N)
        y = overlap_add(slices)[..., N // 2 : N // 2 + length]
        return y.reshape(lead + (length,))

    def overlap_add(self, C):
        """50% overlap-add of the slices: one spectrogram per bin group.

        Args:
            C: :class:`SliCQCoefficients` (complex or magnitudes) or a matrix form tensor.

        Returns:
            A tuple of ``(..., bins_g, (slices + 1) * M_g / 2)`` tensors, or one tensor
            ``(..., bins, (slices + 1) * M / 2)`` for a matrix input.
        """
        if isinstance(C, SliCQCoefficients):
            return tuple(overlap_add(b) for b in C.blocks)
        return overlap_add(C)
