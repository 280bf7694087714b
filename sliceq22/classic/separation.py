"""Supervised NMF separation: the classic baseline, under the house separation contract.

Bases are learned per target from training stems (``W_j`` from ``|STFT(stem_j)|`` by KL-NMF);
on a mixture the concatenated bases ``W = [W_1 ... W_J]`` stay fixed and only the activations
``H`` are fitted, then each target gets the soft mask ``(W_j H_j)^p / sum_k (W_k H_k)^p`` on the
mixture's STFT (``p = 1``: the magnitude ratio of seed 002's resynthesis with the mixture phase;
``p = 2``: the Wiener gain). Both channels share the bases and are fitted jointly (their frames
are concatenated), so the masks differ per channel only through the activations.

This is the "NMF baseline" that every learned demixing model in sliceq22 must beat.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import permutations

import torch
from torch import Tensor, nn

from sliceq22.classic.ilrma import ilrma, projection_back
from sliceq22.classic.nmf import nmf
from sliceq22.separator import check_mix, check_references
from sliceq22.transforms import STFT


class SupervisedNMF(nn.Module):
    """Fixed per-target NMF bases, activations fitted on the mixture, soft masks.

    Args:
        transform: an :class:`~sliceq22.transforms.STFT` (NMF needs one time grid).
        targets: target names, in the order of the bases.
        rank: bases per target.
        beta: beta-divergence of the NMF (1: Kullback-Leibler).
        n_iter: multiplicative-update iterations (for the bases and for the activations).
        power: mask exponent ``p``.
        bases: ``(targets, bins, rank)`` learned bases (see :meth:`fit` / :meth:`from_dataset`).

    Shape:
        ``separate(mix (channels, samples)) -> {target: (channels, samples)}``.
    """

    needs_references = False

    def __init__(
        self,
        transform: STFT,
        targets: Sequence[str] = ("drums", "bass", "other", "vocals"),
        rank: int = 16,
        beta: float = 1.0,
        n_iter: int = 100,
        power: float = 1.0,
        bases: Tensor | None = None,
    ):
        super().__init__()
        if not isinstance(transform, STFT):
            raise ValueError(f"SupervisedNMF works on an STFT (one time grid for all bins), got {type(transform).__name__}")
        self.transform, self.targets = transform, tuple(targets)
        self.rank, self.beta, self.n_iter, self.power = int(rank), float(beta), int(n_iter), float(power)
        self.sample_rate = transform.sample_rate
        self.register_buffer("bases", bases)

    def _magnitudes(self, audio: Tensor) -> Tensor:
        """``(channels, samples) -> (bins, channels * frames)``."""
        V = self.transform(audio).abs()  # (ch, F, T)
        return V.permute(1, 0, 2).reshape(V.shape[1], -1)

    @torch.no_grad()
    def fit(self, stems: Mapping[str, Sequence[Tensor]], seed: int = 0) -> "SupervisedNMF":
        """Learn the bases of every target from its training excerpts ``{target: [(ch, n), ...]}``."""
        missing = [t for t in self.targets if not stems.get(t)]
        if missing:
            raise ValueError(f"no training audio for targets {missing}")
        g = torch.Generator().manual_seed(seed)
        bases = []
        for t in self.targets:
            V = torch.cat([self._magnitudes(check_mix(x)) for x in stems[t]], dim=-1)
            W, _ = nmf(V, self.rank, self.beta, self.n_iter, generator=g)
            bases.append(W / W.sum(0, keepdim=True).clamp_min(1e-12))  # unit-sum columns
        self.bases = torch.stack(bases)
        return self

    @classmethod
    def from_dataset(
        cls,
        root: str,
        transform: STFT,
        targets: Sequence[str] = ("drums", "bass", "other", "vocals"),
        subset: str = "train",
        fit_seconds: float = 5.0,
        max_tracks: int | None = None,
        seed: int = 0,
        **kwargs,
    ) -> "SupervisedNMF":
        """Build and fit on centred excerpts of a MUSDB-layout subset (the training tracks)."""
        from sliceq22.data.musdb import find_tracks, read_stem

        model = cls(transform, targets, **kwargs)
        tracks = find_tracks(root, subset, int(transform.sample_rate))[:max_tracks]
        stems: dict[str, list[Tensor]] = {t: [] for t in model.targets}
        for tr in tracks:
            n = min(tr.frames, int(fit_seconds * tr.sample_rate))
            start = (tr.frames - n) // 2
            for t in model.targets:
                x = torch.from_numpy(read_stem(tr, t, start, n))
                if (x != 0).any():
                    stems[t].append(x)
        return model.fit(stems, seed)

    @torch.no_grad()
    def separate(self, mix: Tensor, references: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
        if self.bases is None:
            raise RuntimeError("SupervisedNMF has no bases: call fit() or build it with from_dataset()")
        mix = check_mix(mix)
        X = self.transform(mix)  # (..., ch, F, T)
        V = X.abs().to(self.bases.dtype)
        lead, (ch, F, T) = V.shape[:-3], V.shape[-3:]
        Vm = V.movedim(-3, -2).reshape(lead + (F, ch * T))
        J, _, K = self.bases.shape
        W = self.bases.permute(1, 0, 2).reshape(F, J * K).expand(lead + (F, J * K))
        # a fixed seed for the activations' start: the same mixture always separates the same
        # (the global RNG made evaluate.py's NMF scores vary from run to run)
        g = torch.Generator(device=Vm.device).manual_seed(0)
        _, H = nmf(Vm, J * K, self.beta, self.n_iter, W=W, fix_W=True, generator=g)
        parts = torch.stack([self.bases[j] @ H[..., j * K : (j + 1) * K, :] for j in range(J)])  # (J, ..., F, ch*T)
        parts = parts.pow(self.power)
        masks = parts / parts.sum(0).clamp_min(1e-12)
        masks = masks.reshape((J,) + lead + (F, ch, T)).movedim(-2, -3).to(X.real.dtype)
        n = mix.shape[-1]
        return {t: self.transform.inverse(X * masks[j], n) for j, t in enumerate(self.targets)}


class ILRMASeparator(nn.Module):
    """ILRMA under the separation contract: as many sources as channels (two for stereo).

    ILRMA is blind: it returns sources in no particular order. The evaluation's custom (and
    issue 6's "permutation solved by the evaluation") is to assign them to the targets with the
    true references: ``needs_references`` is set for that alone, the separation never sees
    them. Each source's stereo image comes from projecting it back onto each channel.

    Args:
        transform: the STFT to separate in.
        targets: one name per channel (default: vocals / accompaniment).
        n_iter, n_basis: ILRMA iterations and NMF bases per source.
        seed: for ILRMA's random initialisation.
    """

    needs_references = True

    def __init__(self, transform: STFT, targets: Sequence[str] = ("vocals", "accompaniment"), n_iter: int = 100,
                 n_basis: int = 2, seed: int = 0):
        super().__init__()
        if not isinstance(transform, STFT):
            raise ValueError(f"ILRMA works on an STFT, got {type(transform).__name__}")
        self.transform, self.targets = transform, tuple(targets)
        self.n_iter, self.n_basis, self.seed = int(n_iter), int(n_basis), int(seed)
        self.sample_rate = transform.sample_rate

    @torch.no_grad()
    def separate(self, mix: Tensor, references: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
        mix = check_mix(mix)
        if mix.dim() != 2 or mix.shape[0] != len(self.targets):
            raise ValueError(f"ILRMA separates as many sources as channels: {len(self.targets)} targets need "
                             f"({len(self.targets)}, samples) audio, got {tuple(mix.shape)}")
        refs = check_references(mix, references, self.targets)
        X = self.transform(mix.double())  # (ch, F, T)
        Y = ilrma(X, self.n_iter, self.n_basis, proj_back=False, generator=torch.Generator().manual_seed(self.seed))
        n = mix.shape[-1]
        images = torch.stack([Y * projection_back(Y, X[c])[..., None] for c in range(X.shape[0])], dim=1)  # (N, ch, F, T)
        est = self.transform.inverse(images, n).to(mix.dtype)  # (N, ch, n)
        R = torch.stack([refs[t] for t in self.targets])

        def score(order):
            e = est[list(order)]
            return (10 * torch.log10(R.square().sum((-1, -2)) / (R - e).square().sum((-1, -2)).clamp_min(1e-20))).sum()

        best = max(permutations(range(len(self.targets))), key=score)
        return {t: est[i] for t, i in zip(self.targets, best)}
