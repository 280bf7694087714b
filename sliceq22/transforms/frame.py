"""The sliced NSGT frame: analysis windows, their positions, the canonical dual, slice windows.

Everything here is computed once, in float64, when a :class:`~sliceq22.transforms.SliCQT`
is built; the module turns the result into buffers. The construction follows the sliced
NSGT of Holighaus et al. (2012) as implemented by the reference package ``nsgt`` (Grill),
so that coefficients agree with it to round-off:

* every bin ``k`` gets a Blackman-Harris window in frequency of ``M_k`` samples (a multiple
  of 4), centred on the even frequency index ``nu_k``; the DC and Nyquist windows are flat
  with Hann flanks where they are wider than their neighbours;
* ``M_k`` is also the number of time coefficients per slice of bin ``k`` (the painless
  case: no aliasing), so bins with equal ``M_k`` form one *group* of equal time resolution;
* the frame operator is diagonal in frequency, and the canonical dual window is
  ``g_k / sum_j M_j |g_j|^2`` over the full (two-sided) spectrum;
* slices of ``slice_len`` samples hop by ``slice_len / 2`` and are weighted by a Tukey-like
  window whose shifted copies sum to one.

The reference rotates every slice by a quarter in time and rolls the coefficients back; the
two cancel up to a sign ``(-1)^(nu_k / 2)`` per bin, which is folded into the windows here,
so the torch code needs no rotation at all.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .scales import FrequencyScale


@dataclass(frozen=True)
class SlicedFrame:
    """The geometry of a sliced NSGT for real signals (bins DC .. Nyquist).

    Attributes:
        frequencies: ``(bins,)`` centre frequencies in Hz, DC and Nyquist included.
        slice_len: slice length in samples (``N``).
        trans_len: transition length in samples.
        M: ``(bins,)`` window length = coefficients per slice for each bin.
        centers: ``(bins,)`` even frequency index of each window centre.
        windows: list of ``(M_k,)`` analysis windows in zero-phase order (centre first).
        duals: list of ``(M_k,)`` canonical dual windows in zero-phase order.
        slice_window: ``(N,)`` the slicing (analysis) window.
    """

    frequencies: np.ndarray
    slice_len: int
    trans_len: int
    M: np.ndarray
    centers: np.ndarray
    windows: list
    duals: list
    slice_window: np.ndarray

    def positions(self, k: int) -> np.ndarray:
        """Frequency indices (mod N) of window ``k``, in zero-phase order."""
        m = int(self.M[k])
        natural = (int(self.centers[k]) - m // 2 + np.arange(m)) % self.slice_len
        return np.roll(natural, -(m // 2))

    def sign(self, k: int) -> float:
        """``(-1)^(nu_k / 2)``: the reference's quarter-slice rotation, undone."""
        return -1.0 if (int(self.centers[k]) // 2) % 2 else 1.0


def hann_zero_phase(n: int) -> np.ndarray:
    """Hann window of length ``n`` with its peak at index 0 (zero-phase order)."""
    return 0.5 + 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def blackman_harris_zero_phase(n: int) -> np.ndarray:
    """The (slightly modified) 4-term Blackman-Harris window of nsgt, peak at index 0."""
    nn = (n // 2) * 2
    k = np.arange(n)
    w = (
        0.35872
        - 0.48832 * np.cos(k * (2 * np.pi / nn))
        + 0.14128 * np.cos(k * (4 * np.pi / nn))
        - 0.01168 * np.cos(k * (6 * np.pi / nn))
    )
    return np.concatenate((w[-n // 2 :], w[: -n // 2]))


def slice_window(slice_len: int, trans_len: int) -> np.ndarray:
    """Tukey-like slicing window: zero, Hann rise at N/4, flat, Hann fall at 3N/4, zero."""
    q, h = slice_len // 4, trans_len // 2
    rise = hann_zero_phase(2 * trans_len)
    w = np.zeros(slice_len)
    w[q - h : q + h] = rise[trans_len:]
    w[q + h : 3 * q - h] = 1.0
    w[3 * q - h : 3 * q + h] = rise[:trans_len]
    return w


def next_fast_len(n: int, multiple: int = 4) -> int:
    """Smallest ``m >= n`` that is a multiple of ``multiple`` and 5-smooth (fast FFT size)."""
    m = int(math.ceil(n / multiple)) * multiple
    while True:
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += multiple


def minimum_slice_len(scale: FrequencyScale, sample_rate: float) -> float:
    """Shortest slice (in samples) for which every atom fits: ``N > 8 sr q_k / f_k``."""
    return float(np.max(8.0 * sample_rate * scale.q / scale.frequencies))


def build_frame(
    scale: FrequencyScale,
    sample_rate: float,
    slice_len: int,
    trans_len: int,
    min_win: int = 16,
    q_var: float = 1.0,
    strict: bool = True,
    fast_sizes: bool = False,
) -> SlicedFrame:
    """Construct the windows and duals of the sliced NSGT.

    Args:
        scale: bin frequencies and Q factors (bins at or above Nyquist are dropped, as in nsgt).
        sample_rate: sampling rate in Hz.
        slice_len: slice length ``N`` in samples, a multiple of 4.
        trans_len: transition length, even, with ``N > 2 * trans_len``.
        min_win: smallest window length (coefficients per slice), a positive multiple of 4
            (every bin's coefficients per slice come in multiples of 4).
        q_var: bandwidth multiplier (``Qvar`` of nsgt); > 0, and large enough that the
            windows still cover every frequency (below ~0.6-0.9, depending on the scale's
            density, gaps open between the bins and the frame is no longer invertible).
        strict: raise if a slice is too short for the lowest atoms (nsgt only warns);
            ``False`` warns instead. Reconstruction stays perfect either way, but the
            coefficients of the offending bins are truncated by the slicing.
        fast_sizes: give every bin ``M_k = next_fast_len(L_k)`` coefficients per slice, the
            5-smooth multiple of 4 at or above its window length ``L_k``, with the window
            zero-padded to ``M_k`` (still painless: perfect reconstruction, a little more
            redundancy, finer time grid). nsgt's ``M_k = L_k`` has prime factors up to ~73
            whose FFTs run 3-4x slower; the default (``False``) keeps nsgt's coefficients.

    Returns:
        The :class:`SlicedFrame`.

    Raises:
        ValueError: for inadmissible lengths, naming the smallest admissible slice length.
    """
    if int(min_win) != min_win or min_win <= 0 or int(min_win) % 4:
        raise ValueError(f"min_win must be a positive multiple of 4 (coefficients per slice), got {min_win}")
    if not q_var > 0:
        raise ValueError(f"q_var must be > 0, got {q_var}")
    nyquist = sample_rate / 2.0
    f, q = scale.frequencies, scale.q
    keep = (f > 0) & (f < nyquist)
    f, q = f[keep], q[keep]
    n_bins = len(f)
    if n_bins < 2:
        raise ValueError(
            f"the scale has {n_bins} bin(s) strictly between 0 Hz and Nyquist ({nyquist:g} Hz) and needs at "
            f"least 2 (a bin at Nyquist merges into the Nyquist window): add bins, or lower fmax below Nyquist"
        )
    N = int(slice_len)
    needed = minimum_slice_len(FrequencyScale(scale.name, f, q), sample_rate)
    if not N > needed:
        msg = (
            f"slice_len={N} is too short for the lowest atoms of this {scale.name} scale: "
            f"it must exceed {needed:.1f} samples (use slice_len=None for a suggestion, "
            f"raise fmin or lower the number of bins; strict=False only warns)"
        )
        if strict:
            raise ValueError(msg)
        warnings.warn(msg, stacklevel=3)

    # band centres in frequency-index units, both sides of the spectrum
    frqs = np.concatenate(([0.0], f, [nyquist]))
    fbas = np.concatenate((frqs, sample_rate - frqs[-2:0:-1])) * (N / sample_rate)
    lb = n_bins
    M = np.zeros(len(fbas))
    M[0] = 2 * fbas[1]
    M[1] = fbas[1] / q[0]
    interior = list(range(2, lb)) + [lb + 1]
    M[interior] = fbas[np.array(interior) + 1] - fbas[np.array(interior) - 1]
    M[lb] = fbas[lb] / q[lb - 1]
    M[lb + 2 :] = M[lb:0:-1]
    widths = M * q_var  # window lengths before rounding: bandwidth * N / sample_rate
    M = np.round(widths / 4.0).astype(np.int64) * 4
    M = np.maximum(M, int(min_win))
    if M.max() > N:
        k = int(np.argmax(widths))  # the first maximum: a positive frequency (the rest mirrors it)
        if widths[k] >= N - 2:  # proportional to N: no slice length fits
            # the Nyquist window spans the band from fmax to fs - fmax: more bins cannot narrow it
            advice = "raise fmax towards Nyquist or lower q_var" if k == lb + 1 else "use more bins (or a lower q_var)"
            raise ValueError(
                f"the window at {frqs[k]:.1f} Hz "
                f"is {widths[k] * sample_rate / N:.0f} Hz wide, as wide as the sample rate ({sample_rate:g} Hz): no "
                f"slice length fits it; {advice}"
            )
        if min_win > N:
            raise ValueError(f"min_win={min_win} is longer than slice_len={N}: lower min_win or raise slice_len")
        raise ValueError(
            f"a window of {M.max()} samples does not fit a slice of {N}: raise slice_len "
            f"(or use more bins / a lower q_var)"
        )

    g = [blackman_harris_zero_phase(int(m)) for m in M]
    for kk in (1, lb + 2):  # DC and Nyquist: flat top where wider than the neighbour
        wide, narrow = int(M[kk - 1]), int(M[kk])
        if wide > narrow:
            w = np.ones(wide)
            w[wide // 2 - narrow // 2 : wide // 2 + int(math.ceil(narrow / 2))] = hann_zero_phase(narrow)
            g[kk - 1] = w
    if fast_sizes:  # zero-pad each window (zero-phase order: right half, zeros, left half)
        M = np.array([next_fast_len(int(m)) for m in M], dtype=np.int64)
        if M.max() > N:
            raise ValueError(f"fast_sizes needs windows of up to {M.max()} samples, more than slice_len={N}: raise slice_len")
        g = [np.concatenate((w[: len(w) // 2], np.zeros(int(m) - len(w)), w[len(w) // 2 :])) for w, m in zip(g, M)]
    centers = (np.round(fbas / 2.0).astype(np.int64) * 2)

    # canonical dual: divide by the diagonal of the frame operator (painless case)
    diag = np.zeros(N)
    pos_all = []
    for k in range(len(M)):
        m = int(M[k])
        natural = (int(centers[k]) - m // 2 + np.arange(m)) % N
        pos = np.roll(natural, -(m // 2))
        pos_all.append(pos)
        np.add.at(diag, pos, g[k] ** 2 * m)
    # the painless dual needs every frequency covered; uncovered ones (diag ~ 0) would give
    # inf/NaN or silently wrong reconstruction. Working frames measured up to a 2.5e6 ratio,
    # broken ones 1e35 or exact zeros.
    if not diag.min() > 1e-10 * diag.max():
        gap = int(np.argmin(diag))
        gap = min(gap, N - gap)  # negative frequencies mirror the positive ones
        raise ValueError(
            f"the frequency windows leave a gap near {gap * sample_rate / N:.1f} Hz, so the frame "
            f"is not invertible (q_var={q_var} is too small for this {scale.name} scale): raise "
            f"q_var (1.0 is nsgt's default) or use more bins"
        )
    duals = [g[k] / diag[pos_all[k]] for k in range(len(M))]

    n_real = lb + 2  # DC, the bins, Nyquist
    return SlicedFrame(
        frequencies=np.concatenate(([0.0], f, [nyquist])),
        slice_len=N,
        trans_len=int(trans_len),
        M=M[:n_real].copy(),
        centers=centers[:n_real].copy(),
        windows=g[:n_real],
        duals=duals[:n_real],
        slice_window=slice_window(N, int(trans_len)),
    )
