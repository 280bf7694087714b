"""Chroma features on the device: nnAudio's CQT folded to 12 pitch classes.

Mirrors ``librosa.feature.chroma_cqt`` (C1 = 32.70 Hz, 7 octaves, 36 bins per octave, each
semitone the sum of its three CQT bins, classes C, C#, ..., B, no normalisation by default as
in seed 000) with the CQT computed by nnAudio's convolutional ``CQT1992v2``, batched, on any
device. Tuning is not estimated (librosa's ``tuning=0``). The CQT kernels differ from
librosa's recursive CQT, so values agree in shape, not to the last digit (see the test).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Chroma(nn.Module):
    """Chromagram of mono audio.

    Args:
        sample_rate: Hz.
        hop_length: samples between frames.
        fmin: lowest CQT bin (C1 by default, so class 0 is C).
        n_octaves: octaves of CQT bins.
        bins_per_octave: CQT resolution, a multiple of 12.
        norm: ``None`` (raw energies), or ``2`` / ``inf`` for a per-frame norm.

    Shape:
        - input: ``(..., samples)``
        - output: ``(..., 12, frames)``
    """

    def __init__(self, sample_rate: int = 22050, hop_length: int = 512, fmin: float = 32.70319566, n_octaves: int = 7, bins_per_octave: int = 36, norm: float | None = None):
        super().__init__()
        if bins_per_octave % 12:
            raise ValueError(f"bins_per_octave must be a multiple of 12, got {bins_per_octave}")
        from nnAudio.features import CQT1992v2

        n_bins = n_octaves * bins_per_octave
        if fmin * 2 ** (n_bins / bins_per_octave) > sample_rate / 2:
            raise ValueError(f"{n_octaves} octaves above {fmin} Hz exceed Nyquist at {sample_rate} Hz: use fewer octaves")
        self.cqt = CQT1992v2(sr=sample_rate, hop_length=hop_length, fmin=fmin, n_bins=n_bins, bins_per_octave=bins_per_octave, output_format="Magnitude", pad_mode="constant", verbose=False)
        per = bins_per_octave // 12
        # bin b belongs to semitone round(b / per): its own bin and the neighbours on each side
        semitone = torch.round(torch.arange(n_bins, dtype=torch.float64) / per).long()
        fold = torch.zeros(12, n_bins)
        fold[semitone % 12, torch.arange(n_bins)] = 1.0
        self.register_buffer("fold", fold, persistent=False)
        self.norm = norm
        self.sample_rate, self.hop_length = sample_rate, hop_length

    def forward(self, audio: Tensor) -> Tensor:
        lead = audio.shape[:-1]
        spec = self.cqt(audio.reshape(-1, audio.shape[-1]).float())  # (B, bins, frames)
        chroma = torch.einsum("cb,nbt->nct", self.fold.to(spec.dtype), spec)
        if self.norm is not None:
            chroma = chroma / torch.linalg.vector_norm(chroma, ord=self.norm, dim=-2, keepdim=True).clamp_min(1e-12)
        return chroma.reshape(lead + chroma.shape[-2:])
