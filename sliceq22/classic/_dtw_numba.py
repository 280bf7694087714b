"""The DTW recursion and backtracking compiled with numba, for one or many pairs on the CPU.

Used by :func:`sliceq22.classic.dtw` for CPU tensors when numba is installed (``backend="auto"``).
A torch-op recursion pays ~5 us of dispatch per vector op, which dominates a single pair on the
CPU (hundreds of rows or thousands of anti-diagonals); compiled loops have no such floor and run
the batch in parallel (``prange``). The loop is librosa's, cell by cell in row-major order
(strict ``<``, so the earlier step keeps ties), so results equal the torch path bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _pads(sigma):
    """The largest row and column step: the padding of ``D`` above and to the left."""
    p0 = 0
    p1 = 0
    for s in range(sigma.shape[0]):
        p0 = max(p0, sigma[s, 0])
        p1 = max(p1, sigma[s, 1])
    return p0, p1


@numba.njit(cache=True, nogil=True)
def _accumulate_one(C, sigma, w_mul, w_add, subsequence, D, steps):
    N, M = C.shape
    p0, p1 = _pads(sigma)
    D[p0, p1] = C[0, 0]
    if subsequence:
        for m in range(M):
            D[p0, p1 + m] = C[0, m]
    for n in range(p0, N + p0):
        for m in range(p1, M + p1):
            c = C[n - p0, m - p1]
            best = D[n, m]
            arg = steps[n, m]
            for s in range(sigma.shape[0]):
                cand = D[n - sigma[s, 0], m - sigma[s, 1]] + (w_mul[s] * c + w_add[s])
                if cand < best:  # NaN (inf * 0) never wins, as in librosa
                    best = cand
                    arg = s
            D[n, m] = best
            steps[n, m] = arg


@numba.njit(cache=True, parallel=True)
def accumulate(C, sigma, w_mul, w_add, subsequence):
    """``C (B, N, M)`` -> padded ``D`` and step indices ``(B, N + p0, M + p1)``."""
    B, N, M = C.shape
    p0, p1 = _pads(sigma)
    D = np.full((B, N + p0, M + p1), np.inf, dtype=C.dtype)
    steps = np.zeros((B, N + p0, M + p1), dtype=np.int64)
    for b in numba.prange(B):
        _accumulate_one(C[b], sigma, w_mul, w_add, subsequence, D[b], steps[b])
    return D, steps


@numba.njit(cache=True)
def backtrack(steps, sigma, start_n, start_m, subsequence):
    """Follow the stored steps from ``(start_n, start_m)`` back to row 0 (subsequence) or
    ``(0, 0)``; returns the path ``(2, L)`` in increasing order and whether it got there."""
    cap = start_n + start_m + 2
    out = np.empty((2, cap), dtype=np.int64)
    n, m, k = start_n, start_m, 0
    out[0, 0], out[1, 0] = n, m
    k = 1
    while (subsequence and n > 0) or ((not subsequence) and (n != 0 or m != 0)):
        s = steps[n, m]
        n -= sigma[s, 0]
        m -= sigma[s, 1]
        if n < 0 or m < 0:
            break
        out[0, k], out[1, k] = n, m
        k += 1
    reached = (n == 0) if subsequence else (n == 0 and m == 0)
    return out[:, :k][:, ::-1].copy(), reached


@numba.njit(cache=True, nogil=True)
def _accumulate_low_one(C, sigma, w_mul, w_add, subsequence, last, steps):
    """:func:`_accumulate_one` keeping only ``p0 + 1`` rows of ``D`` (a ring) and uint8 steps;
    writes the last row of ``D`` into ``last``."""
    N, M = C.shape
    p0, p1 = _pads(sigma)
    R = p0 + 1
    ring = np.full((R, M + p1), np.inf, dtype=C.dtype)
    for n in range(N):
        row = ring[n % R]
        row[:] = np.inf
        if n == 0:
            row[p1] = C[0, 0]
            if subsequence:
                for m in range(M):
                    row[p1 + m] = C[0, m]
        for m in range(M):
            c = C[n, m]
            best = row[p1 + m]
            arg = 0
            for s in range(sigma.shape[0]):
                dn = sigma[s, 0]
                if dn > n:
                    continue  # the padding rows above row 0 are all inf
                cand = ring[(n - dn) % R, p1 + m - sigma[s, 1]] + (w_mul[s] * c + w_add[s])
                if cand < best:
                    best = cand
                    arg = s
            row[p1 + m] = best
            steps[n, m] = arg
    last[:] = ring[(N - 1) % R, p1:]


@numba.njit(cache=True, parallel=True)
def accumulate_low(C, sigma, w_mul, w_add, subsequence):
    """``C (B, N, M)`` -> last rows of ``D`` ``(B, M)`` and uint8 step indices ``(B, N, M)``."""
    B, N, M = C.shape
    last = np.empty((B, M), dtype=C.dtype)
    steps = np.zeros((B, N, M), dtype=np.uint8)
    for b in numba.prange(B):
        _accumulate_low_one(C[b], sigma, w_mul, w_add, subsequence, last[b], steps[b])
    return last, steps
