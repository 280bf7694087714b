"""Dynamic time warping as torch functions: exact DTW (librosa's semantics) and soft-DTW.

``dtw(C, steps, weights)`` accumulates a cost matrix ``C`` of shape ``(..., N, M)`` with arbitrary
step sizes and multiplicative (and additive) step weights exactly as ``librosa.sequence.dtw``
does with ``step_sizes_sigma`` / ``weights_mul`` / ``weights_add`` (only the target cell's
cost is weighted; ties go to the earlier step; subsequence alignment frees the start column and
ends at the cheapest cell of the last row), and backtracks the warping path.

Design record:
    * The recursion is vectorised over the batch and over every cell that can be computed at
      once: whole rows when every step advances the row (e.g. the seed's steps
      ``[[1,1],[1,2],[2,1]]``: ``N`` vector steps), whole columns when every step advances the
      column, otherwise anti-diagonals (the wavefront of ParDTW, Yang/Shaw/Tsai 2022).
      Each cell only reads finished cells, so the result equals librosa's row-major loop
      bit for bit in float64.
    * On the CPU, with numba installed (a runtime dependency; ``backend="auto"``), the same
      recursion runs as compiled loops (``_dtw_numba.py``): a torch-op recursion pays ~5 us of
      dispatch per vector op, which dominates one pair on the CPU. Both give the same bits.
    * Backtracking is inherently sequential and cheap (O(N + M)); it runs on the CPU.
    * Departure from librosa, on purpose: for a user-supplied ``C`` with ``N > M`` librosa's
      subsequence mode flips the columns of the returned path; here the path is always
      ``(row of C, column of C)``.

``soft_dtw(C, gamma)`` is the differentiable soft-min relaxation of Cuturi and Blondel (2017)
with steps (1,0), (0,1), (1,1); its gradient with respect to ``C`` is the expected alignment,
computed by their backward recursion (also on anti-diagonals).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

DEFAULT_STEPS = ((1, 1), (0, 1), (1, 0))
BACKENDS = ("auto", "torch", "numba")
_NUMBA: list = []


def _numba_kernels():
    """The compiled kernels, or ``None`` without numba (imported once, on first use)."""
    if not _NUMBA:
        try:
            from . import _dtw_numba
        except ImportError:  # numba is optional at run time: the torch path is exact too
            _dtw_numba = None
        _NUMBA.append(_dtw_numba)
    return _NUMBA[0]


def _as_costs(C) -> Tensor:
    """Cost matrices ``(..., N, M)`` from a tensor or array: real, non-empty; integers as
    float64, half precisions as float32 (accumulated costs need the range and precision)."""
    C = torch.as_tensor(C)
    if C.dim() < 2 or C.shape[-1] == 0 or C.shape[-2] == 0:
        raise ValueError(f"C must be (..., N, M) with N, M >= 1, got {tuple(C.shape)}")
    if C.is_complex():
        raise ValueError("C must be real")
    if not C.is_floating_point():
        return C.double()
    return C.float() if C.dtype in (torch.float16, torch.bfloat16) else C


def _as_steps(steps, weights, weights_add, device) -> tuple[np.ndarray, Tensor, Tensor]:
    raw = np.asarray(DEFAULT_STEPS if steps is None else steps)
    if raw.size == 0:
        raise ValueError("steps must hold at least one (row, column) step, e.g. [[1, 1], [0, 1], [1, 0]]")
    if raw.ndim != 2 or raw.shape[1] != 2:  # a reshape here once read a transposed (2, k) array as other steps
        raise ValueError(f"steps must be a (k, 2) array of (row, column) steps like [[1, 1], [0, 1], [1, 0]], got shape {raw.shape}")
    if (raw.dtype.kind not in "iuf" or not np.array_equal(raw, np.round(raw))):
        raise ValueError(f"step sizes must be whole numbers, got {raw.tolist()}")
    sigma = raw.astype(np.int64)
    if (sigma < 0).any():
        raise ValueError(f"step sizes must be >= 0, got {sigma.tolist()}")
    if (sigma.sum(1) == 0).any():
        raise ValueError("a step of (0, 0) would never advance; remove it")
    k = len(sigma)
    w_mul = torch.ones(k, dtype=torch.float64) if weights is None else torch.as_tensor(weights, dtype=torch.float64).flatten()
    w_add = torch.zeros(k, dtype=torch.float64) if weights_add is None else torch.as_tensor(weights_add, dtype=torch.float64).flatten()
    if len(w_mul) != k or len(w_add) != k:
        raise ValueError(f"{k} steps need {k} weights, got {len(w_mul)} multiplicative and {len(w_add)} additive")
    if (w_mul.isnan() | (w_mul == -torch.inf)).any() or (w_add.isnan() | (w_add == -torch.inf)).any():
        raise ValueError(f"step weights must not be NaN or -inf (+inf disables a step), got {w_mul.tolist()} and {w_add.tolist()}")
    return sigma, w_mul.to(device), w_add.to(device)


def _relax(prevs: list[Tensor], cost: Tensor, cur: Tensor, cur_steps: Tensor, w_mul: Tensor, w_add: Tensor) -> tuple[Tensor, Tensor]:
    """One vector of cells: the best predecessor ``prev + w_mul * cost + w_add`` over the steps
    (the earlier step keeps ties, like librosa's strict ``<``), taken where it beats ``cur``."""
    best = arg = None
    for s_idx, prev in enumerate(prevs):
        cand = prev + (w_mul[s_idx] * cost + w_add[s_idx])
        cand = torch.where(torch.isnan(cand), float("inf"), cand)  # inf * 0 from infinite weights
        if best is None:
            best, arg = cand, torch.zeros_like(cand, dtype=torch.long)
        else:
            take = cand < best
            best = torch.where(take, cand, best)
            arg = torch.where(take, s_idx, arg)
    better = best < cur
    return torch.where(better, best, cur), torch.where(better, arg, cur_steps)


def _accumulate(C: Tensor, sigma: np.ndarray, w_mul: Tensor, w_add: Tensor, subsequence: bool) -> tuple[Tensor, Tensor]:
    """Accumulated cost ``D`` and step indices, both ``(B, N, M)``."""
    B, N, M = C.shape
    w_mul, w_add = w_mul.to(C.dtype), w_add.to(C.dtype)
    if not (len(sigma) and (sigma[:, 0] >= 1).all()):
        if (sigma[:, 1] >= 1).all() and not subsequence:  # rows of the transposed problem
            Dt, st = _accumulate(C.transpose(1, 2).contiguous(), sigma[:, ::-1].copy(), w_mul, w_add, False)
            return Dt.transpose(1, 2), st.transpose(1, 2)
        return _wavefront(C, sigma, w_mul, w_add, subsequence)
    # every step advances the row: each row only reads finished rows, through plain slices
    p0, p1 = int(sigma[:, 0].max()), int(sigma[:, 1].max())
    D = torch.full((B, N + p0, M + p1), float("inf"), dtype=C.dtype, device=C.device)
    steps = torch.zeros((B, N + p0, M + p1), dtype=torch.long, device=C.device)
    D[:, p0, p1] = C[:, 0, 0]
    if subsequence:
        D[:, p0, p1:] = C[:, 0, :]
    for i in range(N):
        prevs = [D[:, i + p0 - int(dn), p1 - int(dm) : p1 - int(dm) + M] for dn, dm in sigma]
        D[:, i + p0, p1:], steps[:, i + p0, p1:] = _relax(prevs, C[:, i, :], D[:, i + p0, p1:], steps[:, i + p0, p1:], w_mul, w_add)
    return D[:, p0:, p1:], steps[:, p0:, p1:]


def _wavefront(C: Tensor, sigma: np.ndarray, w_mul: Tensor, w_add: Tensor, subsequence: bool) -> tuple[Tensor, Tensor]:
    """Anti-diagonal recursion on a skewed (diagonal-major) copy of ``D``.

    ``E[:, d, i] = D[:, i, d - i]`` in padded coordinates, so every anti-diagonal and each of its
    predecessors along a step are contiguous slices: one scatter in, one gather out, and no
    gathers in the loop.
    """
    B, N, M = C.shape
    p0, p1 = int(sigma[:, 0].max()), int(sigma[:, 1].max())
    Np, Mp = N + p0, M + p1
    n_diag = Np + Mp - 1
    dev = C.device
    ii, jj = torch.meshgrid(torch.arange(N, device=dev), torch.arange(M, device=dev), indexing="ij")
    d_idx, i_idx = (ii + jj + p0 + p1).flatten(), (ii + p0).flatten()
    Cs = torch.zeros((B, n_diag, Np), dtype=C.dtype, device=dev)
    Cs[:, d_idx, i_idx] = C.reshape(B, -1)
    E = torch.full((B, n_diag, Np), float("inf"), dtype=C.dtype, device=dev)
    St = torch.zeros((B, n_diag, Np), dtype=torch.long, device=dev)
    E[:, p0 + p1, p0] = C[:, 0, 0]
    if subsequence:
        E[:, p0 + p1 + torch.arange(M, device=dev), p0] = C[:, 0, :]
    for d in range(p0 + p1, n_diag):
        lo, hi = max(p0, d - (Mp - 1)), min(Np - 1, d - p1)
        if lo > hi:
            continue
        prevs = [E[:, d - int(dn) - int(dm), lo - int(dn) : hi - int(dn) + 1] for dn, dm in sigma]
        E[:, d, lo : hi + 1], St[:, d, lo : hi + 1] = _relax(
            prevs, Cs[:, d, lo : hi + 1], E[:, d, lo : hi + 1], St[:, d, lo : hi + 1], w_mul, w_add
        )
    D = E[:, d_idx, i_idx].reshape(B, N, M)
    steps = St[:, d_idx, i_idx].reshape(B, N, M)
    return D, steps


def _accumulate_numba(kernels, C: Tensor, sigma: np.ndarray, w_mul: Tensor, w_add: Tensor, subsequence: bool) -> tuple[Tensor, Tensor]:
    """:func:`_accumulate` as compiled loops over a CPU batch (same semantics, same bits)."""
    p0, p1 = int(sigma[:, 0].max()), int(sigma[:, 1].max())
    Cn = np.ascontiguousarray(C.detach().numpy())
    dt = Cn.dtype
    D, st = kernels.accumulate(Cn, np.ascontiguousarray(sigma), w_mul.cpu().numpy().astype(dt), w_add.cpu().numpy().astype(dt), subsequence)
    return torch.from_numpy(D[:, p0:, p1:]), torch.from_numpy(st[:, p0:, p1:])


def _backtrack(steps: np.ndarray, last: np.ndarray, sigma: np.ndarray, subsequence: bool) -> np.ndarray:
    """Path from the step indices ``(N, M)`` and the last row of ``D`` ``(M,)``."""
    N, M = steps.shape
    if subsequence:
        if np.isinf(last).all():
            raise ValueError("no subsequence warping path exists with these steps (every end cell is unreachable)")
        cur = (N - 1, int(np.argmin(last)))
    else:
        if np.isinf(last[-1]):
            raise ValueError(
                f"no warping path from (0, 0) to ({N - 1}, {M - 1}) with steps {sigma.tolist()}: every path meets an "
                f"infinite cost, or the sequence lengths are beyond the steps' slope (try subsequence=True or other steps)"
            )
        cur = (N - 1, M - 1)
    kernels = _numba_kernels()
    if kernels is not None:
        path, reached = kernels.backtrack(steps, np.ascontiguousarray(sigma), cur[0], cur[1], subsequence)
        if not subsequence and not reached:
            raise ValueError("the warping path does not reach (0, 0); try subsequence=True")
        return path
    path = [cur]
    while (subsequence and cur[0] > 0) or (not subsequence and cur != (0, 0)):
        dn, dm = sigma[steps[cur]]
        cur = (cur[0] - int(dn), cur[1] - int(dm))
        if min(cur) < 0:
            break
        path.append(cur)
    if not subsequence and path[-1] != (0, 0):
        raise ValueError("the warping path does not reach (0, 0); try subsequence=True")
    return np.asarray(path[::-1], dtype=np.int64).T


def dtw(
    C: Tensor,
    steps: Sequence[Sequence[int]] | None = None,
    weights: Sequence[float] | None = None,
    subsequence: bool = False,
    weights_add: Sequence[float] | None = None,
    backtrack: bool = True,
    backend: str = "auto",
    memory: str = "full",
):
    """Dynamic time warping of a cost matrix (librosa's ``dtw`` semantics, batched).

    Args:
        C: cost matrix, real, no NaN.
        steps: step sizes ``[[dn, dm], ...]`` (librosa's ``step_sizes_sigma``; default
            ``[[1, 1], [0, 1], [1, 0]]``).
        weights: multiplicative weight per step, applied to the target cell's cost
            (``weights_mul``; default ones).
        subsequence: free start and end in the second axis (``subseq``).
        weights_add: additive weight per step (default zeros).
        backtrack: also return the warping path.
        backend: ``"auto"`` (compiled loops for float32/float64 CPU tensors when numba is
            installed, else torch ops), ``"torch"`` (vectorised torch ops, any device) or
            ``"numba"`` (CPU only). All give identical values; only the torch backend's
            ``D`` carries autograd history (a subgradient; use :func:`soft_dtw` to learn).
        memory: ``"full"`` returns all of ``D``; ``"low"`` (compiled CPU backend) keeps only a
            ring of rows of ``D`` and one byte per cell for the steps (16x less than
            ``"full"``: a 20000 x 20000 pair needs 0.4 GB instead of 6.4 GB) and returns only
            the last row of ``D`` (the end costs), shape ``(..., M)``.

    Returns:
        ``D`` of the shape of ``C`` (``inf`` where unreachable), and if ``backtrack`` the path:
        a ``(2, L)`` long tensor of ``(n, m)`` pairs in increasing order for a 2-D ``C``, or a
        list of them (in the flattened order of the leading dims) for a batch.

    Shape:
        - C: ``(..., N, M)``

    Raises:
        ValueError: bad steps or weights, NaN costs, or no warping path.
    """
    C = _as_costs(C)
    if torch.isnan(C).any():
        raise ValueError("the DTW cost matrix C has NaN values")
    if (C == -torch.inf).any():
        raise ValueError("the DTW cost matrix C has -inf values: a path through one would cost -inf whatever else it does")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if memory not in ("full", "low"):
        raise ValueError(f"memory must be 'full' or 'low', got {memory!r}")
    sigma, w_mul, w_add = _as_steps(steps, weights, weights_add, C.device)
    lead = C.shape[:-2]
    Cb = C.reshape((-1,) + C.shape[-2:])
    kernels = _numba_kernels() if backend != "torch" else None
    if backend == "numba" and (kernels is None or C.device.type != "cpu" or C.dtype not in (torch.float32, torch.float64)):
        raise ValueError("backend='numba' needs numba installed (pip install numba) and a float32/float64 CPU tensor")
    compiled = kernels is not None and C.device.type == "cpu" and C.dtype in (torch.float32, torch.float64)
    if memory == "low":
        if not compiled or backend == "torch":
            raise ValueError("memory='low' needs the compiled CPU backend: numba installed and a float32/float64 CPU tensor")
        Cn = np.ascontiguousarray(Cb.detach().numpy())
        last_np, st_np = kernels.accumulate_low(
            Cn, np.ascontiguousarray(sigma), w_mul.numpy().astype(Cn.dtype), w_add.numpy().astype(Cn.dtype), subsequence
        )
        D_out = torch.from_numpy(last_np).reshape(C.shape[:-2] + (C.shape[-1],))
    else:
        if compiled:
            D, st = _accumulate_numba(kernels, Cb, sigma, w_mul, w_add, subsequence)
        else:
            D, st = _accumulate(Cb, sigma, w_mul, w_add, subsequence)
        D_out = D.reshape(C.shape)
        if backtrack:
            st_np, last_np = st.cpu().numpy(), D[:, -1].detach().cpu().numpy()
    if not backtrack:
        return D_out
    paths = []
    for b in range(st_np.shape[0]):
        try:
            paths.append(torch.from_numpy(_backtrack(st_np[b], last_np[b], sigma, subsequence)).to(C.device))
        except ValueError as err:
            if not lead:
                raise
            raise ValueError(f"batch item {b} (flattened leading dims {tuple(lead)}): {err}") from None
    return D_out, (paths[0] if not lead else paths)


class DTW(nn.Module):
    """:func:`dtw` with fixed steps and weights (kept as buffers)."""

    def __init__(self, steps=None, weights=None, subsequence: bool = False, weights_add=None, backend: str = "auto"):
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.backend = backend
        sigma, w_mul, w_add = _as_steps(steps, weights, weights_add, "cpu")
        self.register_buffer("steps", torch.as_tensor(sigma), persistent=False)
        self.register_buffer("weights", w_mul, persistent=False)
        self.register_buffer("weights_add", w_add, persistent=False)
        self.subsequence = subsequence

    def forward(self, C: Tensor):
        return dtw(C, self.steps.cpu().numpy(), self.weights, self.subsequence, self.weights_add, backend=self.backend)


# ---------------------------------------------------------------------------------- soft-DTW
def _softmin(stack: Tensor, gamma: float) -> Tensor:
    return -gamma * torch.logsumexp(-stack / gamma, dim=0)


def _diagonals(N: int, M: int, device):
    for d in range(N + M - 1):
        i = torch.arange(max(0, d - M + 1), min(N - 1, d) + 1, device=device)
        yield i, d - i


class _SoftDTW(torch.autograd.Function):
    @staticmethod
    def forward(ctx, C: Tensor, gamma: float) -> Tensor:
        B, N, M = C.shape
        inf = torch.tensor(float("inf"), dtype=C.dtype, device=C.device)
        R = torch.full((B, N + 2, M + 2), float("inf"), dtype=C.dtype, device=C.device)
        R[:, 0, 0] = 0.0
        for i, j in _diagonals(N, M, C.device):
            prev = torch.stack((R[:, i, j], R[:, i, j + 1], R[:, i + 1, j]))  # diag, up, left
            sm = _softmin(prev, gamma)
            R[:, i + 1, j + 1] = C[:, i, j] + torch.where(torch.isinf(prev).all(0), inf, sm)
        ctx.save_for_backward(C, R)
        ctx.gamma = gamma
        return R[:, N, M].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable  # the backward reads R, which is not in the graph
    def backward(ctx, grad: Tensor):
        C, R = ctx.saved_tensors
        gamma = ctx.gamma
        B, N, M = C.shape
        Cp = torch.zeros((B, N + 2, M + 2), dtype=C.dtype, device=C.device)
        Cp[:, 1 : N + 1, 1 : M + 1] = C
        R = R.clone()
        R[:, :, M + 1] = -float("inf")
        R[:, N + 1, :] = -float("inf")
        R[:, N + 1, M + 1] = R[:, N, M]
        E = torch.zeros_like(Cp)
        E[:, N + 1, M + 1] = 1.0
        for i, j in reversed(list(_diagonals(N, M, C.device))):
            i1, j1 = i + 1, j + 1  # padded coordinates of cell (i, j)
            r = R[:, i1, j1]
            # exponents are <= 0 exactly; the clamp stops round-off from overflowing exp
            a = torch.exp(((R[:, i1 + 1, j1] - r - Cp[:, i1 + 1, j1]) / gamma).clamp_max(0))
            b = torch.exp(((R[:, i1, j1 + 1] - r - Cp[:, i1, j1 + 1]) / gamma).clamp_max(0))
            c = torch.exp(((R[:, i1 + 1, j1 + 1] - r - Cp[:, i1 + 1, j1 + 1]) / gamma).clamp_max(0))
            E[:, i1, j1] = E[:, i1 + 1, j1] * a + E[:, i1, j1 + 1] * b + E[:, i1 + 1, j1 + 1] * c
        return grad[:, None, None] * E[:, 1 : N + 1, 1 : M + 1], None


def soft_dtw(C: Tensor, gamma: float = 1.0) -> Tensor:
    """Soft-DTW value of cost matrices (Cuturi and Blondel 2017), differentiable in ``C``.

    ``gamma -> 0`` gives the DTW cost with steps (1,0), (0,1), (1,1); the gradient with respect
    to ``C`` is the expected alignment matrix (rows and columns of each alignment sum over it).

    Shape:
        - C: ``(..., N, M)``
        - output: ``(...)``
    """
    if not (gamma > 0 and math.isfinite(gamma)):
        raise ValueError(f"gamma must be a finite number > 0, got {gamma}")
    C = _as_costs(C)
    if not torch.isfinite(C).all():
        raise ValueError("the soft-DTW cost matrix C has NaN or infinite values")
    lead = C.shape[:-2]
    # the recursion runs in float64: in float32, costs / gamma beyond ~1e5 gave gradients off by
    # 1e6-1e12 (the expected alignment lies in [0, 1]) or NaN
    out = _SoftDTW.apply(C.reshape((-1,) + C.shape[-2:]).to(torch.float64), float(gamma))
    return out.reshape(lead).to(C.dtype)


class SoftDTW(nn.Module):
    """:func:`soft_dtw` as a module (e.g. a loss between sequences through a cost function)."""

    def __init__(self, gamma: float = 1.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, C: Tensor) -> Tensor:
        return soft_dtw(C, self.gamma)


# ---------------------------------------------------------------------------------- costs
def cosine_cost(X: Tensor, Y: Tensor, eps: float = 1e-12) -> Tensor:
    """``1 - cos`` between the frames of ``X (..., K, N)`` and ``Y (..., K, M)``; ``(..., N, M)``.

    All-zero frames are left at zero after normalisation, so their cost to anything is 1
    (librosa's ``normalize`` behaviour), never NaN.
    """
    Xn = X / X.norm(dim=-2, keepdim=True).clamp_min(eps)
    Yn = Y / Y.norm(dim=-2, keepdim=True).clamp_min(eps)
    return 1 - Xn.transpose(-1, -2) @ Yn


def euclidean_cost(X: Tensor, Y: Tensor) -> Tensor:
    """Euclidean distance between frames of ``X (..., K, N)`` and ``Y (..., K, M)``; ``(..., N, M)``."""
    return torch.cdist(X.transpose(-1, -2), Y.transpose(-1, -2))
