"""Transforms whose float64 tables stay float64 when the module is cast to another dtype."""

from __future__ import annotations

import torch
from torch import nn


class Float64Buffers(nn.Module):
    """An ``nn.Module`` whose float64 buffers follow device moves but never dtype casts.

    The transforms keep their windows in float64 and cast them to the input's precision per
    call (that is what keeps float64 reconstruction at ~1e-15). ``module.to(torch.float32)``,
    ``.half()`` or Lightning's ``16-true``/``bf16-true`` precisions cast every floating
    buffer of a model, which would silently round the windows (a bfloat16 sliCQT then
    reconstructs at -40 dB instead of -130 dB). Here such a cast moves them to the new device
    and leaves their dtype alone; parameters and other buffers are cast as usual.
    """

    def _apply(self, fn, recurse=True):
        kept = {name: b for name, b in self._buffers.items() if b is not None and b.dtype == torch.float64}
        super()._apply(fn, recurse)
        for name, old in kept.items():
            new = self._buffers[name]
            if new is not None and new.dtype != torch.float64:
                self._buffers[name] = old.to(device=new.device)
        return self
