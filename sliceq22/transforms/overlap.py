"""The 50% slice overlap-add, its adjoint and its pseudo-inverse.

Adjacent sliCQT slices overlap by half a slice, so the coefficients of one bin group, shape
``(..., slices, M)``, lie on a time grid of hop ``M / 2``. ``overlap_add`` sums them into one
spectrogram row of ``(slices + 1) * M / 2`` frames; it is linear, works on real and complex
tensors and is its own autograd. Written as a half-block copy and an in-place half-block add instead of a
loop or ``fold``: frame block ``b`` receives the first half of slice ``b`` and the second
half of slice ``b - 1``.

``overlap_add_adjoint`` is the exact transpose (each frame copied to the slices that cover
it). Because ``A A^T`` is diagonal (1 on the two outer half-slices, 2 elsewhere),
``overlap_add_pinv`` (= ``A^T (A A^T)^{-1}``: an equal split of each overlapped value) is the
minimum-norm inverse; the de-overlap experiment starts from it as its weakest baseline.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check(x: Tensor, name: str) -> tuple[int, int]:
    if x.dim() < 2:
        raise ValueError(f"{name} expects (..., slices, M), got shape {tuple(x.shape)}")
    slices, m = x.shape[-2], x.shape[-1]
    if m % 2:
        raise ValueError(f"{name} needs an even slice length M, got M={m}")
    return slices, m


def overlap_add(x: Tensor) -> Tensor:
    """Overlap-add slices with 50% overlap.

    Args:
        x: sliced coefficients, real or complex.

    Returns:
        The overlap-added rows.

    Shape:
        - x: ``(..., slices, M)``
        - output: ``(..., (slices + 1) * M // 2)``
    """
    slices, m = _check(x, "overlap_add")
    h = m // 2
    out = x.new_empty(x.shape[:-2] + (slices + 1, h))  # no zero fill: the first half-blocks are copied in
    out[..., :-1, :] = x[..., :h]
    out[..., -1, :] = 0
    out[..., 1:, :] += x[..., h:]
    return out.flatten(-2)


def overlap_add_adjoint(y: Tensor, slice_len: int) -> Tensor:
    """The transpose of :func:`overlap_add`: copy every frame to each slice covering it.

    Args:
        y: overlap-added rows.
        slice_len: ``M``, the per-slice length (even).

    Returns:
        Sliced coefficients.

    Shape:
        - y: ``(..., (slices + 1) * M // 2)``
        - output: ``(..., slices, M)``
    """
    if slice_len % 2:
        raise ValueError(f"slice_len must be even, got {slice_len}")
    h = slice_len // 2
    frames = y.shape[-1]
    if frames % h or frames // h < 2:
        raise ValueError(
            f"{frames} frames is not (slices + 1) * {h} for any slices >= 1: "
            f"was this overlap-added with M={slice_len}?"
        )
    blocks = y.unflatten(-1, (frames // h, h))
    return torch.cat((blocks[..., :-1, :], blocks[..., 1:, :]), dim=-1)


def overlap_add_pinv(y: Tensor, slice_len: int) -> Tensor:
    """Minimum-norm inverse of :func:`overlap_add`: split every overlapped value equally.

    Shape:
        - y: ``(..., (slices + 1) * M // 2)``
        - output: ``(..., slices, M)``
    """
    h = slice_len // 2
    x = overlap_add_adjoint(y, slice_len)
    weight = torch.full((x.shape[-2], slice_len), 0.5, dtype=y.real.dtype, device=y.device)
    weight[0, :h] = 1.0
    weight[-1, h:] = 1.0
    return x * weight
