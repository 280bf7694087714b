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

import numpy as np
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


def resample(audio: Tensor, orig: float, new: float) -> Tensor:
    """Band-limited polyphase resampling (scipy's ``resample_poly``, Kaiser window) of
    ``(..., samples)``; the identity when the rates agree."""
    if orig == new:
        return audio
    from fractions import Fraction

    from scipy.signal import resample_poly

    # the exact ratio: an approximated one (limit_denominator) put 384 kHz audio 85 samples
    # off by the end of a 30 s chunk; resample_poly handles large factors (longer filter)
    ratio = Fraction(int(round(new)), int(round(orig)))
    y = resample_poly(audio.detach().cpu().double().numpy(), ratio.numerator, ratio.denominator, axis=-1)
    return torch.from_numpy(y.copy()).to(audio.device, audio.dtype)


def separate(
    audio: Tensor,
    sample_rate: float,
    model: Separator,
    chunk_seconds: float = 30.0,
    overlap_seconds: float = 2.0,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> dict[str, Tensor]:
    """Separate audio of any length, channel count and sample rate with ``model``.

    Mono input is duplicated to the model's channels and the estimates folded back to mono;
    long input goes through :func:`sliceq22.apply.apply_chunked` (bounded memory, cross-faded
    chunks); another sample rate is resampled to the model's and back chunk by chunk, so the
    memory stays that of one chunk plus the output at any rate (the resampler's edge
    transients, ~10 samples, fall where the cross-fade weights are ~1e-4).

    Args:
        audio: ``(channels, samples)`` or ``(samples,)`` real floating-point samples in
            [-1, 1] (a torch tensor or a numpy array).
        sample_rate: the audio's rate in Hz.
        model: a separator (e.g. ``sliceq22.lit.infer.load_separator(ckpt)``).
        chunk_seconds, overlap_seconds: chunking (see :func:`~sliceq22.apply.apply_chunked`).
        device: where the model runs (``"auto"``, ``"cpu"``, ``"cuda"``, ...; the model is moved
            there); default: where its parameters are.
        progress: a progress bar over chunks.

    Returns:
        ``{target: (channels, samples)}`` at the input's rate, channel count, length and
        dtype, as torch tensors for torch input and numpy arrays for numpy input.
    """
    from sliceq22.apply import apply_chunked

    as_numpy = isinstance(audio, np.ndarray)
    if as_numpy and audio.dtype.kind in "iu":
        raise ValueError(f"audio holds integer samples ({audio.dtype}): scale them to floats in [-1, 1] first "
                         f"(soundfile.read(path, dtype='float32') does)")
    audio = torch.as_tensor(np.ascontiguousarray(audio) if as_numpy else audio)
    if audio.dim() == 1:
        audio = audio[None]
    if audio.dim() != 2:
        raise ValueError(f"separate() takes one track, (channels, samples) or (samples,); got shape {tuple(audio.shape)} "
                         f"(loop over a batch, or call model.separate on a (batch, channels, samples) tensor)")
    check_mix(audio)
    if not sample_rate or not sample_rate > 0:
        raise ValueError(f"sample_rate must be the audio's rate in Hz (> 0), got {sample_rate}")
    if getattr(model, "needs_references", False):
        raise ValueError("separate() runs real separators; an oracle needs the true targets (use its separate method)")
    channels_in, n = audio.shape
    want = getattr(model, "channels", channels_in)
    if channels_in not in (1, want):
        hint = " (it looks like (samples, channels): transpose it)" if n in (1, want) and channels_in > n else ""
        raise ValueError(f"the model separates mono or {want}-channel audio; got {channels_in} channels{hint}")
    if not chunk_seconds or not chunk_seconds > 0:
        raise ValueError(f"chunk_seconds must be > 0, got {chunk_seconds}")
    x = audio.expand(want, -1) if channels_in == 1 else audio
    if device is None:
        params = list(model.parameters()) if isinstance(model, nn.Module) else []
        device = params[0].device if params else torch.device("cpu")
    else:
        from sliceq22.device import resolve_device

        device = resolve_device(device)
        if isinstance(model, nn.Module):
            model.to(device)

    def run(chunk: Tensor) -> Tensor:  # (1, ch, m) at the input's rate -> (1, J, ch, m)
        m = chunk.shape[-1]
        z = resample(chunk.float(), sample_rate, model.sample_rate)
        with torch.no_grad():
            est = model.separate(z.to(device))
        y = resample(torch.stack([est[t] for t in model.targets], dim=1).cpu(), model.sample_rate, sample_rate)
        return torch.nn.functional.pad(y, (0, max(0, m - y.shape[-1])))[..., :m]

    y = apply_chunked(run, x.cpu(), sample_rate, chunk_seconds, overlap_seconds, progress)  # (J, ch, n)
    if channels_in == 1:
        y = y.mean(-2, keepdim=True)
    out = {t: y[j].to(audio.dtype) for j, t in enumerate(model.targets)}
    return {t: v.numpy() for t, v in out.items()} if as_numpy else out
