"""The multichannel Wiener filter and its expectation-maximisation, differentiable, on any
time-frequency grid (STFT ``(..., ch, bins, frames)`` or one sliCQT block
``(..., ch, bins, slices, M)``).

Source model (Duong, Vincent, Gribonval 2010; norbert / open-unmix's ``wiener``): each
source ``j`` has a power spectral density ``v_j(f, t)`` and a time-invariant spatial
covariance ``R_j(f)`` per bin, ``E[y_j y_j^H] = v_j R_j``; the mixture's is the sum. Given
estimates ``y_j``, one step re-estimates ``v_j = mean_ch |y_j|^2`` and
``R_j = sum_t y_j y_j^H / sum_t v_j``, then filters the mixture:
``y_j <- v_j R_j (sum_k v_k R_k)^-1 x``. With the true sources as ``y_j`` this is the MWF
oracle; from a network's mask estimates, a few iterations are the xumx-sliCQ post-filter.
The estimates sum to the mixture (up to the diagonal loading) wherever the model's power is
not zero; a bin and frame where every estimate is zero stays zero (as in norbert). The floors
are relative to the mixture's mean power, so the filter does not depend on the input level.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def multichannel_wiener(X: Tensor, S: Sequence[Tensor], time_dims: int = 1, eps: float = 1e-10) -> list[Tensor]:
    """One Wiener step: the mixture ``X`` filtered with statistics of the estimates ``S``.

    Args:
        X: complex mixture ``(..., ch, bins, *time)`` with ``time_dims`` trailing time dims.
        S: complex estimates, each shaped like ``X``.
        time_dims: 1 for the STFT, 2 for a sliCQT block ``(slices, M)``.
        eps: floor of the power normalisation and of the diagonal loading, relative to the
            mixture's mean power (the loading is also ``1e-10`` of the model's power).
    Returns:
        The filtered estimates, shaped and typed like ``X``. Computed in complex128: a rank-one
        mixture covariance plus a relative loading is singular in complex64.
    """
    shape, dtype = X.shape, X.dtype
    X = X.to(torch.complex128)
    S = [s.to(torch.complex128) for s in S]
    if time_dims > 1:
        X = X.flatten(-time_dims)
        S = [s.flatten(-time_dims) for s in S]
    ch, T = X.shape[-3], X.shape[-1]
    xs = X.movedim(-3, -1)  # (..., F, T, ch)
    # floors relative to the mixture's mean power (absolute ones made the filter level-dependent:
    # the MWF oracle lost 2-7 dB at -100 dB input); 1e-300 keeps a silent mixture finite
    tiny = eps * X.abs().square().mean((-3, -2, -1)) + 1e-300  # (...)
    vs, Rs = [], []
    for s in S:
        sj = s.movedim(-3, -1)
        v = sj.abs().square().mean(-1)  # (..., F, T)
        R = torch.einsum("...ti,...tj->...ij", sj, sj.conj()) / (v.sum(-1) + T * tiny[..., None])[..., None, None]  # (..., F, ch, ch)
        vs.append(v)
        Rs.append(R)
    Cxx = sum(v[..., None, None] * R[..., None, :, :] for v, R in zip(vs, Rs))  # (..., F, T, ch, ch)
    load = tiny[..., None, None, None, None] + 1e-10 * Cxx.diagonal(dim1=-2, dim2=-1).real.mean(-1)[..., None, None]
    eye = torch.eye(ch, dtype=Cxx.dtype, device=Cxx.device)
    y = torch.linalg.solve(Cxx + load * eye, xs[..., None])  # (..., F, T, ch, 1)
    return [(v[..., None, None] * (R[..., None, :, :] @ y))[..., 0].movedim(-1, -3).reshape(shape).to(dtype) for v, R in zip(vs, Rs)]


def wiener_em(X: Tensor, S: Sequence[Tensor], iterations: int = 1, time_dims: int = 1, eps: float = 1e-10) -> list[Tensor]:
    """``iterations`` EM steps of :func:`multichannel_wiener` from the estimates ``S``
    (0 returns them unchanged)."""
    S = list(S)
    for _ in range(int(iterations)):
        S = multichannel_wiener(X, S, time_dims, eps)
    return S
