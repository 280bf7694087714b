"""Oracle separations: the best a given mask family can do on a given transform.

Each oracle reads the true targets and the mixture, builds its estimate in the transform
domain and inverts it, so its score measures the *representation* (STFT window, sliCQT scale)
and the *mask family*, not a model. Definitions follow sigsep-mus-oracle and seed 004, with
``eps = 1e-10`` times the mixture's mean coefficient level (``|X|`` for the ``*1`` masks,
``|X|^2`` for ``*2``) so that no score depends on the input level (sigsep's absolute machine
epsilon made IRM2/IBM2 lose 2 dB at -100 dBFS); at normal levels it only matters where every
source is near-silent:

==========  ==================================================================================
``irm1``    ratio mask ``|S_j| / (eps + sum_k |S_k|)`` on the mixture
``irm2``    ratio mask of powers ``|S_j|^2 / (eps + sum_k |S_k|^2)`` (the Wiener gain)
``ibm1``    binary mask ``|S_j| / (eps + |X|) >= 0.5`` (theta configurable)
``ibm2``    binary mask ``|S_j|^2 / (eps + |X|^2) >= 0.5``
``mwf``     multichannel Wiener filter: ``v_j R_j (sum_k v_k R_k)^-1 x`` per bin and frame, with
            ``v_j`` the channel-mean power and ``R_j`` the bin's spatial covariance of the
            true target, time-invariant per bin and estimated as norbert does (covariances
            summed over frames / summed power). sigsep-mus-oracle's MWF averages per-frame
            normalised covariances instead, so its numbers differ
``mpi``     mix-phase inversion: true magnitude ``|S_j|`` with the mixture's phase (what a
            magnitude-estimating network such as open-unmix achieves at best)
==========  ==================================================================================

The sources are the separator's targets. With ``targets=[vocals, accompaniment]`` the
accompaniment is one source (the magnitude of its stem sum), whereas sigsep-mus-oracle masks
the four stems and sums the non-vocal estimates: the two-source oracle scores the
accompaniment higher (most with IBM1, which keeps bins the accompaniment dominates as a
whole), so compare two-target results with two-target oracles only.

The transform is any sliceq22 transform: the STFT (``(..., bins, frames)``) or the sliCQT
(ragged blocks ``(..., bins_g, slices, len_g)``); masks apply block by block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from sliceq22.filtering import multichannel_wiener
from sliceq22.separator import check_mix, check_references
from sliceq22.transforms import SliCQCoefficients

METHODS = ("irm1", "irm2", "ibm1", "ibm2", "mwf", "mpi")


def _blocks(C) -> list[Tensor]:
    return list(C.blocks) if isinstance(C, SliCQCoefficients) else [C]


def _rebuild(like, blocks: list[Tensor]):
    return SliCQCoefficients(blocks) if isinstance(like, SliCQCoefficients) else blocks[0]


def _time_dims(transform: nn.Module) -> int:
    """Trailing time dimensions of a block: 2 for the sliCQT (slices, len), 1 for the STFT."""
    return 2 if hasattr(transform, "layout") else 1


class Oracle(nn.Module):
    """An oracle separator on any sliceq22 transform, following the separation contract.

    Args:
        transform: a :class:`~sliceq22.transforms.SliCQT` or :class:`~sliceq22.transforms.STFT`.
        method: one of :data:`METHODS`.
        targets: target names (their references must sum to about the mixture for the ratio
            masks to mean what they say).
        theta: threshold of the binary masks.
        eps: added to denominators, relative to the mixture's mean coefficient level.

    Shape:
        ``separate(mix (..., channels, samples), references={t: same shape}) -> {t: same shape}``.
    """

    needs_references = True

    def __init__(
        self,
        transform: nn.Module,
        method: str = "irm1",
        targets: Sequence[str] = ("drums", "bass", "other", "vocals"),
        theta: float = 0.5,
        eps: float = 1e-10,
    ):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown oracle {method!r}; choose one of {', '.join(METHODS)}")
        if not targets:
            raise ValueError("an oracle needs at least one target")
        self.transform, self.method, self.targets = transform, method, tuple(targets)
        self.theta, self.eps = float(theta), float(eps)
        self.sample_rate = float(transform.sample_rate)

    def extra_repr(self) -> str:
        return f"method={self.method!r}, targets={self.targets}"

    @torch.no_grad()
    def separate(self, mix: Tensor, references: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
        mix = check_mix(mix)
        refs = check_references(mix, references, self.targets)
        n = mix.shape[-1]
        CX = self.transform(mix)
        X = _blocks(CX)
        S = {t: _blocks(self.transform(r)) for t, r in refs.items()}
        # eps relative to the mixture's mean coefficient level (|X| for *1, |X|^2 for *2): an
        # absolute one made IRM2/IBM2 on the sliCQT lose 2 dB at -100 dBFS input
        alpha = 1.0 if self.method.endswith("1") else 2.0
        level = sum(float(x.abs().pow(alpha).sum()) for x in X) / sum(x.numel() for x in X)
        est_blocks: dict[str, list[Tensor]] = {t: [] for t in self.targets}
        for g, Xg in enumerate(X):
            Sg = [S[t][g] for t in self.targets]
            if self.method == "mwf":
                outs = multichannel_wiener(Xg, Sg, _time_dims(self.transform), self.eps)
            elif self.method == "mpi":
                phase = torch.polar(torch.ones_like(Xg.real), Xg.angle())
                outs = [s.abs() * phase for s in Sg]
            else:
                eps = self.eps * level + 1e-300
                P = [s.abs() ** alpha for s in Sg]
                if self.method.startswith("irm"):
                    model = eps + sum(P)
                    outs = [Xg * (p / model) for p in P]
                else:
                    ref = eps + Xg.abs() ** alpha
                    outs = [Xg * (p / ref >= self.theta) for p in P]
            for t, o in zip(self.targets, outs):
                est_blocks[t].append(o)
        return {t: self.transform.inverse(_rebuild(CX, b), n) for t, b in est_blocks.items()}
