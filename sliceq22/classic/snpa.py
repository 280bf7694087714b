"""Separable NMF: the successive nonnegative projection algorithm (SNPA) and its greedy variant.

A near-separable ``M (m x n)`` is ``M ~ M[:, J] H`` for an ``r``-subset ``J`` of its columns: the
bases are columns of the data itself (in music, spectra that occur alone somewhere). SNPA
(Gillis 2014) picks, ``r`` times, the column with the largest residual norm and projects every
column of ``M`` onto the convex hull of the chosen columns and the origin,
``H[:, i] = argmin_{h >= 0, sum(h) <= 1} ||M[:, i] - M[:, J] h||^2``; the residual of that
projection drives the next choice. The greedy variant of seed 002 (after XRAY) scores a
candidate ``j`` by how much residual it could explain, ``||(R^T M[:, j])_+||^2 / ||M[:, j]||^2``;
it is not guaranteed to find the right columns even without noise (the triangle-and-centre
example of seed 002 is in the tests).

The projections are solved for all columns at once by accelerated projected gradient
(FISTA) with an exact projection onto ``{h >= 0, sum(h) <= 1}``; everything is batched over
leading dims.

Reference:
    N. Gillis, "Successive nonnegative projection algorithm for robust nonnegative blind source
    separation", SIAM J. Imaging Sciences 7(2), 2014.
"""

from __future__ import annotations

import torch
from torch import Tensor


def project_capped_simplex(X: Tensor) -> Tensor:
    """Project every column of ``X (..., r, n)`` onto ``{h >= 0, sum(h) <= 1}`` (Euclidean)."""
    clipped = X.clamp_min(0)
    inside = clipped.sum(-2, keepdim=True) <= 1
    # otherwise the projection lies on the face sum(h) = 1: sort-based simplex projection
    u, _ = torch.sort(X, dim=-2, descending=True)
    css = u.cumsum(-2) - 1
    k = torch.arange(1, X.shape[-2] + 1, dtype=X.dtype, device=X.device).view(-1, 1)
    cond = (u - css / k) > 0
    rho = cond.to(X.dtype).cumsum(-2).argmax(-2, keepdim=True)  # last index where cond holds
    theta = css.gather(-2, rho) / (rho + 1).to(X.dtype)
    on_face = (X - theta).clamp_min(0)
    return torch.where(inside, clipped, on_face)


def simplex_nnls(M: Tensor, W: Tensor, n_iter: int = 300) -> Tensor:
    """``argmin_{H: columns in {h >= 0, sum <= 1}} ||M - W H||_F^2`` by FISTA.

    Shape: ``M (..., m, n)``, ``W (..., m, r)`` -> ``H (..., r, n)``.
    """
    WtW = W.transpose(-1, -2) @ W
    WtM = W.transpose(-1, -2) @ M
    L = torch.linalg.matrix_norm(WtW, ord=2).clamp_min(1e-12)[..., None, None]
    H = torch.zeros(WtM.shape, dtype=M.dtype, device=M.device)
    Y, t = H, 1.0
    for _ in range(n_iter):
        H_new = project_capped_simplex(Y - (WtW @ Y - WtM) / L)
        t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
        Y = H_new + ((t - 1) / t_new) * (H_new - H)
        H, t = H_new, t_new
    return H


def snpa(M: Tensor, r: int, greedy: bool = False, n_iter: int = 300, normalize: bool = True) -> tuple[Tensor, Tensor]:
    """Select ``r`` columns of ``M`` as bases and their convex-hull activations.

    Args:
        M: non-negative data, columns are samples (e.g. spectrogram frames).
        r: number of columns to select.
        greedy: use seed 002's greedy criterion instead of SNPA's residual norm.
        n_iter: projected-gradient iterations per projection.
        normalize: scale columns to unit L1 norm first (Gillis' preprocessing; a column's
            scale then lives in ``H``). ``H`` is returned for the original ``M``.

    Returns:
        ``(J, H)``: selected column indices ``(..., r)`` in order of selection, and
        ``H (..., r, n)`` with ``M ~ M[..., :, J] @ H``.
    """
    M = torch.as_tensor(M)
    if M.dim() < 2:
        raise ValueError(f"M must be (..., m, n), got {tuple(M.shape)}")
    if M.is_complex():
        raise ValueError("M must be real and non-negative (a magnitude spectrogram, not the complex STFT)")
    if (M < 0).any() or not torch.isfinite(M).all():
        raise ValueError("M must be finite and non-negative")
    if isinstance(r, bool) or int(r) != r:
        raise ValueError(f"r must be an integer, got {r!r}")
    r = int(r)
    if not 1 <= r <= M.shape[-1]:
        raise ValueError(f"r must be in 1..{M.shape[-1]} (the number of columns), got {r}")
    M = M if M.is_floating_point() else M.double()
    scale = M.sum(-2, keepdim=True).clamp_min(1e-30) if normalize else torch.ones_like(M[..., :1, :])
    X = M / scale
    lead = X.shape[:-2]
    R = X
    col_norm2 = (X**2).sum(-2)
    J = torch.empty(lead + (0,), dtype=torch.long, device=M.device)
    H = None
    for _ in range(r):
        if greedy:
            score = ((R.transpose(-1, -2) @ X).clamp_min(0) ** 2).sum(-2) / col_norm2.clamp_min(1e-30)
        else:
            # largest residual, ties to the largest original column (Gillis)
            res = (R**2).sum(-2)
            score = res + 1e-12 * res.amax(-1, keepdim=True) * col_norm2 / col_norm2.amax(-1, keepdim=True).clamp_min(1e-30)
        chosen = torch.zeros_like(score, dtype=torch.bool).scatter(-1, J, True) if J.shape[-1] else torch.zeros_like(score, dtype=torch.bool)
        score = score.masked_fill(chosen, -float("inf"))
        J = torch.cat((J, score.argmax(-1, keepdim=True)), dim=-1)
        W = X.gather(-1, J.unsqueeze(-2).expand(lead + (X.shape[-2], J.shape[-1])))
        H = simplex_nnls(X, W, n_iter)
        R = X - W @ H
    # back to the scale of M: M[:, J] = X[:, J] * scale[J], so H_M = H * scale / scale[J]
    sJ = scale.squeeze(-2).gather(-1, J)
    return J, H * scale / sJ.unsqueeze(-1)
