"""The one chunking function for long audio: overlapping chunks, cross-faded, bounded memory.

Every separator runs on whole tracks through :func:`apply_chunked` (demucs ``apply_model``'s
idea): the track is cut into chunks of ``chunk_seconds`` overlapping by ``overlap_seconds``,
each chunk is separated on its own, and the results are overlap-added with linear cross-fades
whose weights sum to one. Memory is that of one chunk plus the output, whatever the length
(a 10-minute track needs no more working memory than a 1-minute one). A track shorter than a
chunk is one chunk.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def _fade_weights(n: int, fade: int, first: bool, last: bool, device, dtype) -> Tensor:
    w = torch.ones(n, device=device, dtype=dtype)
    if fade > 0:
        ramp = (torch.arange(fade, device=device, dtype=dtype) + 0.5) / fade
        if not first:
            w[:fade] = ramp
        if not last:
            w[-fade:] = ramp.flip(0)
    return w


def apply_chunked(
    fn: Callable[[Tensor], Tensor],
    audio: Tensor,
    sample_rate: float,
    chunk_seconds: float = 30.0,
    overlap_seconds: float = 2.0,
    progress: bool = False,
) -> Tensor:
    """Run ``fn`` over overlapping chunks of ``audio`` and cross-fade the results.

    Args:
        fn: ``(1, channels, n) -> (1, ..., channels, n)``: one chunk in, any leading output dims
            (e.g. targets) before channels, same length out.
        audio: ``(channels, samples)``.
        sample_rate: Hz (chunk sizes are given in seconds).
        chunk_seconds: chunk length; overlap_seconds: cross-fade length between chunks.
        progress: show a tqdm bar over chunks.

    Returns:
        ``(..., channels, samples)`` on ``audio``'s device.
    """
    if audio.dim() != 2 or audio.shape[-1] == 0:
        raise ValueError(f"apply_chunked expects (channels, samples) with samples > 0, got {tuple(audio.shape)}")
    if not overlap_seconds >= 0:
        raise ValueError(f"overlap_seconds must be >= 0 (the cross-fade between chunks), got {overlap_seconds}")
    n = audio.shape[-1]
    chunk = max(1, int(round(chunk_seconds * sample_rate)))
    fade = min(int(round(overlap_seconds * sample_rate)), chunk // 2)
    if chunk >= n:
        return fn(audio[None])[0]
    hop = max(1, chunk - fade)
    starts = [0]
    while starts[-1] + chunk < n:  # the last chunk reaches the end
        starts.append(starts[-1] + hop)
    out = None
    iterator = starts
    if progress:
        from tqdm import tqdm

        iterator = tqdm(starts, desc="separating", unit="chunk")
    for i, s in enumerate(iterator):
        e = min(s + chunk, n)
        y = fn(audio[None, :, s:e])[0]
        if y.shape[-1] != e - s:
            raise ValueError(f"the separator returned {y.shape[-1]} samples for a chunk of {e - s}")
        if out is None:
            out = torch.zeros(y.shape[:-1] + (n,), dtype=y.dtype, device=audio.device)
        w = _fade_weights(e - s, fade, i == 0, e >= n, y.device, y.dtype)
        out[..., s:e] += (y * w).to(out.device)
    return out
