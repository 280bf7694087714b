"""Alignment accuracy: error rates at tolerances from a hypothesis path and beat ground truth.

For every score beat ``k``, the hypothesis (``2 x L``: piano seconds, orchestra seconds) is
interpolated at the true piano time ``p.beats[k]``; the error is that predicted orchestra time
minus the true one ``o.beats[k]``. The error rate at a tolerance is the fraction of beats whose
absolute error exceeds it.
"""

from __future__ import annotations

import numpy as np

TOLERANCES_MS = (100, 200, 500, 1000, 2000)


def beat_errors(hyp: np.ndarray, p_beats: np.ndarray, o_beats: np.ndarray) -> np.ndarray:
    """Signed errors in seconds, one per beat."""
    hyp = np.asarray(hyp, dtype=np.float64)
    if hyp.ndim != 2 or hyp.shape[0] != 2 or hyp.shape[1] < 2:
        raise ValueError(f"hyp must be a 2 x L array of (piano s, orchestra s), got shape {hyp.shape}")
    if len(p_beats) != len(o_beats):
        raise ValueError(f"{len(p_beats)} piano beats but {len(o_beats)} orchestra beats")
    if np.any(np.diff(hyp[0]) < 0):
        raise ValueError("hyp's piano times must be non-decreasing")
    # average orchestra times over repeated piano times before interpolating
    t, inv = np.unique(hyp[0], return_inverse=True)
    o = np.bincount(inv, weights=hyp[1]) / np.bincount(inv)
    return np.interp(p_beats, t, o) - o_beats


def error_rates(errors: np.ndarray, tolerances_ms=TOLERANCES_MS) -> dict[int, float]:
    """Fraction of beats with ``|error| > tolerance`` for each tolerance (ms)."""
    e = np.abs(np.asarray(errors))
    return {int(tol): float(np.mean(e > tol / 1000.0)) for tol in tolerances_ms}
