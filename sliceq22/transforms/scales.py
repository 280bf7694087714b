"""Frequency scales for the sliCQT: where the bins sit and how wide the outer ones are.

A scale is a pair of arrays ``(frequencies, q)``: the centre frequency of every bin in Hz
(strictly increasing) and its quality factor ``q = f / bandwidth``. In the sliced NSGT of
Holighaus et al. (2012) the bandwidth of an *interior* bin is the distance between its two
neighbours, so the spacing of the scale is what sets the time-frequency tiling; ``q`` only
sizes the lowest and highest bin and decides which slice lengths are admissible.

Scales (``name``: meaning of ``bins``):

* ``"log"`` / ``"cqlog"``: constant-Q, ``bins`` geometrically spaced bins in total.
* ``"oct"``: constant-Q, ``bins`` bins *per octave* (the total follows from fmin/fmax).
* ``"vqlog"``: variable-Q (Schörkhuber et al. 2014): bandwidth ``B_k = alpha * f_k + gamma``,
  i.e. the bins are geometrically spaced on ``f + gamma / alpha``; ``gamma = 0`` is ``"log"``.
* ``"mel"``: uniform on the mel scale ``2595 log10(1 + f / 700)``.
* ``"bark"``: uniform on the Bark scale ``6 asinh(f / 600)`` (Schroeder's formula, as
  used by xumx-sliCQ).
* ``"lin"``: uniformly spaced.

References:
    Holighaus, Dörfler, Velasco, Grill. "A framework for invertible, real-time constant-Q
    transforms", IEEE TASLP 21(4), 2013 (arXiv:1210.0084).
    Schörkhuber, Klapuri, Holighaus, Dörfler. "A Matlab toolbox for efficient perfect
    reconstruction time-frequency transforms with log-frequency resolution", AES 53rd
    Conference, 2014.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SCALES = ("log", "cqlog", "oct", "vqlog", "mel", "bark", "lin")


@dataclass(frozen=True)
class FrequencyScale:
    """Centre frequencies and Q factors of one scale.

    Attributes:
        name: one of :data:`SCALES`.
        frequencies: ``(bins,)`` float64 centre frequencies in Hz, increasing.
        q: ``(bins,)`` float64 quality factors ``f / bandwidth``.
    """

    name: str
    frequencies: np.ndarray
    q: np.ndarray

    def __len__(self) -> int:
        return len(self.frequencies)


def _q_from_warp(frequencies: np.ndarray, dfdk: np.ndarray) -> np.ndarray:
    """Q of a scale ``f(k)`` with derivative ``df/dk``: ``f / (2 df/dk)``.

    The bandwidth of bin ``k`` in the sliced NSGT is ``f(k+1) - f(k-1) ~ 2 df/dk``.
    """
    return frequencies / (2.0 * dfdk)


def _log_scale(fmin: float, fmax: float, bins: int) -> tuple[np.ndarray, np.ndarray]:
    pow2n = 2.0 ** ((math.log2(fmax) - math.log2(fmin)) / (bins - 1))
    frequencies = fmin * pow2n ** np.arange(bins, dtype=np.float64)
    # the Q of a geometric grid with ratio r between neighbours (nsgt's OctScale/LogScale)
    q = np.full(bins, math.sqrt(pow2n) / (pow2n - 1.0) / 2.0)
    return frequencies, q


def _vqlog_scale(fmin: float, fmax: float, bins: int, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    if gamma == 0:
        return _log_scale(fmin, fmax, bins)
    # geometric on f + s, s = gamma / alpha, where alpha = r - 1/r is the constant-Q bandwidth
    # factor of that grid; alpha depends (weakly) on s, so solve the fixed point.
    # A solution exists for gamma below the spacing-set limit of make_scale; the iteration
    # contracts ever more slowly near it, so bisection finishes what it has not.
    def update(s: float) -> float:
        r = ((fmax + s) / (fmin + s)) ** (1.0 / (bins - 1))
        return gamma / (r - 1.0 / r)

    s, converged = 0.0, False
    for _ in range(200):
        s_new = update(s)
        converged = abs(s_new - s) <= 1e-12 * max(1.0, s)
        s = s_new
        if converged:
            break
    if not converged:  # update(s) - s changes sign once, from + at s = 0 to - for large s
        lo, hi = 0.0, max(s, 1.0)
        while update(hi) > hi:
            lo, hi = hi, 2.0 * hi
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if update(mid) > mid else (lo, mid)
            if hi - lo <= 1e-13 * hi:
                break
        s = 0.5 * (lo + hi)
    r = ((fmax + s) / (fmin + s)) ** (1.0 / (bins - 1))
    frequencies = (fmin + s) * r ** np.arange(bins, dtype=np.float64) - s
    frequencies[0], frequencies[-1] = fmin, fmax  # exact end points despite round-off (s may be large)
    dfdk = (frequencies + s) * math.log(r)
    return frequencies, _q_from_warp(frequencies, dfdk)


def _mel_scale(fmin: float, fmax: float, bins: int) -> tuple[np.ndarray, np.ndarray]:
    mmin, mmax = 2595.0 * math.log10(1.0 + fmin / 700.0), 2595.0 * math.log10(1.0 + fmax / 700.0)
    step = (mmax - mmin) / (bins - 1)
    mel = mmin + step * np.arange(bins, dtype=np.float64)
    frequencies = 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    dfdk = (frequencies + 700.0) * math.log(10.0) / 2595.0 * step
    return frequencies, _q_from_warp(frequencies, dfdk)


def _bark_scale(fmin: float, fmax: float, bins: int) -> tuple[np.ndarray, np.ndarray]:
    bmin, bmax = 6.0 * math.asinh(fmin / 600.0), 6.0 * math.asinh(fmax / 600.0)
    step = (bmax - bmin) / (bins - 1)
    bark = bmin + step * np.arange(bins, dtype=np.float64)
    frequencies = 600.0 * np.sinh(bark / 6.0)
    dfdk = 100.0 * np.cosh(bark / 6.0) * step
    return frequencies, _q_from_warp(frequencies, dfdk)


def _lin_scale(fmin: float, fmax: float, bins: int) -> tuple[np.ndarray, np.ndarray]:
    df = (fmax - fmin) / (bins - 1)
    frequencies = fmin + df * np.arange(bins, dtype=np.float64)
    return frequencies, frequencies / (2.0 * df)


def make_scale(name: str, fmin: float, fmax: float, bins: int, gamma: float = 0.0) -> FrequencyScale:
    """Build a frequency scale.

    Args:
        name: one of ``log``/``cqlog``, ``oct``, ``vqlog``, ``mel``, ``bark``, ``lin``.
        fmin: lowest centre frequency in Hz, > 0.
        fmax: highest centre frequency in Hz, > fmin.
        bins: number of bins (bins per octave for ``oct``), >= 2.
        gamma: bandwidth offset in Hz for ``vqlog`` (``B_k = alpha f_k + gamma``), >= 0.

    Returns:
        The :class:`FrequencyScale`.

    Raises:
        ValueError: for an unknown name or inconsistent parameters, saying what to change.
    """
    if name not in SCALES:
        raise ValueError(f"unknown frequency scale {name!r}; choose one of {', '.join(SCALES)}")
    if not (fmin > 0):
        raise ValueError(f"fmin must be > 0 Hz, got {fmin}")
    if not (fmax > fmin):
        raise ValueError(f"fmin ({fmin} Hz) must be below fmax ({fmax} Hz): lower fmin or raise fmax")
    if int(bins) != bins or bins < 2:
        raise ValueError(f"bins must be an integer >= 2, got {bins}")
    bins = int(bins)
    if not (math.isfinite(fmin) and math.isfinite(fmax)):
        raise ValueError(f"fmin and fmax must be finite, got {fmin} and {fmax}")
    if not (math.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"gamma must be a finite number >= 0 Hz, got {gamma}")
    if gamma and name != "vqlog":
        raise ValueError(f"gamma only applies to the 'vqlog' scale, not {name!r}")
    if name == "vqlog":
        # B_k = alpha f_k + gamma with bins spaced by ~B_k / 2 cannot have every bandwidth above
        # twice the spacing of a linear scale: gamma -> limit is the linear scale itself
        limit = 2.0 * (fmax - fmin) / (bins - 1)
        if gamma >= limit:
            raise ValueError(
                f"gamma={gamma} Hz is too large for {bins} vqlog bins between {fmin} and {fmax} Hz: it must "
                f"stay below 2 (fmax - fmin) / (bins - 1) = {limit:.4g} Hz (the bandwidth of a linear scale "
                f"with these bins); lower gamma or use fewer bins"
            )

    if name in ("log", "cqlog"):
        f, q = _log_scale(fmin, fmax, bins)
    elif name == "oct":
        total = int(math.ceil((math.log2(fmax) - math.log2(fmin)) * bins)) + 1
        f, q = _log_scale(fmin, fmax, total)
    elif name == "vqlog":
        f, q = _vqlog_scale(fmin, fmax, bins, gamma)
    elif name == "mel":
        f, q = _mel_scale(fmin, fmax, bins)
    elif name == "bark":
        f, q = _bark_scale(fmin, fmax, bins)
    else:
        f, q = _lin_scale(fmin, fmax, bins)
    return FrequencyScale(name=name, frequencies=f, q=q)
