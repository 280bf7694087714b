"""Chroma features on the device: nnAudio's CQT folded to 12 pitch classes.

Mirrors ``librosa.feature.chroma_cqt`` (C1 = 32.70 Hz, 7 octaves, 36 bins per octave, each
semitone the sum of its three CQT bins, classes C, C#, ..., B, no normalisation by default as
in seed 000) with the CQT computed by nnAudio's convolutional ``CQT1992v2``, batched, on any
device. Tuning is not estimated (librosa's ``tuning=0``). The CQT kernels differ from
librosa's recursive CQT, so values agree in shape, not to the last digit (see the test).

:func:`chroma_onsets` adds the decaying locally-adaptive normalised chroma onset features
(DLNCO) of Ewert, Müller and Grosche (ICASSP 2009), which sharpen an alignment where the music
has clear attacks: chroma says *which* pitch classes sound, DLNCO *when* they begin.
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
        # bin b belongs to semitone floor((b + per // 2) / per), as librosa.filters.cq_to_chroma
        # groups them (per 3: the bin and one neighbour each side; per 2: the bin and the one below)
        semitone = torch.div(torch.arange(n_bins) + per // 2, per, rounding_mode="floor")
        fold = torch.zeros(12, n_bins)
        fold[semitone % 12, torch.arange(n_bins)] = 1.0
        self.register_buffer("fold", fold, persistent=False)
        # semitone energies: bins grouped the same way, pitch p = MIDI note of fmin + p
        semis = int(semitone.max()) + 1
        to_pitch = torch.zeros(semis, n_bins)
        to_pitch[semitone, torch.arange(n_bins)] = 1.0
        self.register_buffer("to_pitch", to_pitch, persistent=False)
        self.norm = norm
        self.sample_rate, self.hop_length = sample_rate, hop_length

    def forward(self, audio: Tensor) -> Tensor:
        lead = audio.shape[:-1]
        spec = self.cqt(audio.reshape(-1, audio.shape[-1]).float())  # (B, bins, frames)
        chroma = torch.einsum("cb,nbt->nct", self.fold.to(spec.dtype), spec)
        if self.norm is not None:
            chroma = chroma / torch.linalg.vector_norm(chroma, ord=self.norm, dim=-2, keepdim=True).clamp_min(1e-12)
        return chroma.reshape(lead + chroma.shape[-2:])

    def pitch(self, audio: Tensor) -> Tensor:
        """Semitone energies (the chroma before folding), ``(..., semitones, frames)``; row ``p``
        is the MIDI pitch of ``fmin`` plus ``p`` (the top semitone holds one or two bins)."""
        lead = audio.shape[:-1]
        spec = self.cqt(audio.reshape(-1, audio.shape[-1]).float())
        out = torch.einsum("pb,nbt->npt", self.to_pitch.to(spec.dtype), spec)
        return out.reshape(lead + out.shape[-2:])


def chroma_onsets(pitch: Tensor, eta: float = 100.0, decay: int = 10, window: int = 43, floor: float = 1e-2) -> Tensor:
    """Decaying locally-adaptive normalised chroma onset features (DLNCO, Ewert et al. 2009).

    Per semitone: log compression ``log(1 + eta E / max E)``, the half-wave rectified frame
    difference (onsets), folded to 12 pitch classes (pitch ``p`` to class ``p mod 12``:
    pass semitones starting at a C, as :meth:`Chroma.pitch` does); every frame divided by the
    largest onset-vector norm within ``window`` frames (loud and soft passages weigh alike;
    ``floor`` times the global largest keeps noise in near-silence from being blown up); then
    each onset decays over ``decay`` frames with a ``sqrt`` of a linear ramp, so a small
    timing difference costs a little, not everything. Compare frames with a Euclidean cost.

    Args:
        pitch: non-negative semitone energies ``(..., semitones, frames)``.
        eta: log-compression factor.
        decay: length of the decaying kernel in frames (>= 1).
        window: local-normalisation window in frames (odd; ~1 s).
        floor: relative floor of the normaliser.

    Returns:
        ``(..., 12, frames)`` features in the input's dtype.
    """
    if pitch.dim() < 2 or pitch.shape[-1] == 0:
        raise ValueError(f"pitch must be (..., semitones, frames) with frames > 0, got {tuple(pitch.shape)}")
    if decay < 1 or window < 1:
        raise ValueError(f"decay and window must be >= 1 frame, got decay={decay}, window={window}")
    lead, (semis, T) = pitch.shape[:-2], pitch.shape[-2:]
    E = pitch.reshape((-1, semis, T))
    peak = E.amax(dim=(-2, -1), keepdim=True).clamp_min(torch.finfo(E.dtype).tiny)
    L = torch.log1p(eta * E / peak)
    onsets = torch.diff(L, dim=-1, prepend=L[..., :1]).clamp_min(0)
    classes = torch.arange(semis, device=E.device) % 12
    chroma = torch.zeros(E.shape[0], 12, T, dtype=E.dtype, device=E.device).index_add_(1, classes, onsets)
    norm = chroma.norm(dim=1)  # (B, T)
    window += 1 - window % 2
    local = torch.nn.functional.max_pool1d(norm[:, None], window, 1, window // 2)[:, 0]
    local = torch.maximum(local, floor * norm.amax(dim=-1, keepdim=True)).clamp_min(torch.finfo(E.dtype).tiny)
    chroma = chroma / local[:, None]
    kernel = torch.linspace(1, 0, decay + 1, dtype=E.dtype, device=E.device)[:-1].sqrt()
    padded = torch.nn.functional.pad(chroma.reshape(-1, 1, T), (decay - 1, 0))
    out = torch.nn.functional.conv1d(padded, kernel.flip(0)[None, None])
    return out.reshape(lead + (12, T))
