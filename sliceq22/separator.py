"""The one separation contract every method in sliceq22 follows.

Networks, classic methods (NMF, ILRMA) and oracles all expose::

    separator.separate(mix, references=None) -> {target: estimate}

with ``mix`` a real tensor ``(channels, samples)`` (or ``(batch, channels, samples)``) at
``separator.sample_rate`` and each estimate of the same shape as ``mix``. Oracles set
``needs_references = True`` and read the true target images from ``references``
(``{target: (channels, samples)}``); every other method ignores it. The evaluation
(:mod:`sliceq22.eval.separation`) consumes exactly this dict, so every number sits in one table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn


@runtime_checkable
class Separator(Protocol):
    """What the evaluation needs from a separation method."""

    targets: Sequence[str]
    sample_rate: float
    needs_references: bool

    def separate(self, mix: Tensor, references: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]: ...


def check_mix(mix: Tensor) -> Tensor:
    """Validate a mixture at the boundary: real, finite, ``(..., channels, samples)``, not empty."""
    if not isinstance(mix, Tensor):
        raise TypeError(f"mix must be a torch.Tensor (channels, samples), got {type(mix).__name__}")
    if mix.dim() < 2 or mix.shape[-1] == 0:
        raise ValueError(f"mix must be shaped (..., channels, samples) with samples > 0, got {tuple(mix.shape)}")
    if mix.is_complex() or not mix.is_floating_point():
        raise ValueError(f"mix must hold real floating-point samples, got {mix.dtype}")
    if not torch.isfinite(mix).all():
        raise ValueError("mix contains NaN or infinite samples")
    return mix


def check_references(mix: Tensor, references: Mapping[str, Tensor] | None, targets: Sequence[str]) -> dict[str, Tensor]:
    """The true target images an oracle needs, each shaped like ``mix``."""
    if references is None:
        raise ValueError("an oracle needs the true targets: separate(mix, references={target: audio})")
    missing = [t for t in targets if t not in references]
    if missing:
        raise ValueError(f"references lack targets {missing} (have {sorted(references)})")
    out = {}
    for t in targets:
        r = torch.as_tensor(references[t], device=mix.device, dtype=mix.dtype)
        if r.shape != mix.shape:
            raise ValueError(f"reference {t!r} has shape {tuple(r.shape)}, the mixture {tuple(mix.shape)}")
        out[t] = r
    return out


class MixtureAsEstimate(nn.Module):
    """The floor every method must clear: each target's estimate is the mixture itself, scaled.

    Args:
        targets: target names.
        sample_rate: sampling rate in Hz (any; nothing is resampled).
        scale: factor applied to the mixture (1 as in SiSEC's ``MIX``; ``1 / len(targets)``
            is the "equal share" variant).
    """

    needs_references = False

    def __init__(self, targets: Sequence[str] = ("drums", "bass", "other", "vocals"), sample_rate: float = 44100, scale: float = 1.0):
        super().__init__()
        self.targets, self.sample_rate, self.scale = tuple(targets), float(sample_rate), float(scale)

    def separate(self, mix: Tensor, references: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
        mix = check_mix(mix)
        return {t: mix * self.scale for t in self.targets}
