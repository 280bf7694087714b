"""torch Datasets over MUSDB-layout folders: random training excerpts and fixed validation items.

Items are ``(mixture, targets)`` with ``mixture`` of shape ``(2, samples)`` and ``targets`` of
shape ``(n_targets, 2, samples)``, float32, in the order of ``targets``. A target is a source
name or ``accompaniment`` (everything but the vocals).

Training augmentation (open-unmix's recipe): each source of an excerpt may come from a
different track at its own random offset (``random_mix``; without it, every source comes from
the same excerpt of one track), gets a random gain and a random channel swap, and the mixture
is the sum of the augmented sources.

Randomness: in training every item is drawn from its own generator, seeded by
:class:`SeededSampler` in the main process from ``(seed, epoch)``. An item is then the same
whatever the number of DataLoader workers, whether they persist across epochs, and whether
the run was resumed from a checkpoint (worker RNG streams are never saved, so drawing from
them made a resumed run with workers diverge). Indexed with a plain integer, an item draws
from torch's global generator instead.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch.utils.data import Dataset, Sampler

from .musdb import SOURCES, Track, find_tracks, read_stem

TARGETS = SOURCES + ("accompaniment",)


def _check_targets(targets: Sequence[str]) -> tuple[str, ...]:
    targets = (targets,) if isinstance(targets, str) else tuple(targets)  # data.targets=vocals from the command line
    if not targets:
        raise ValueError(f"no targets given; choose from {', '.join(TARGETS)}")
    bad = [t for t in targets if t not in TARGETS]
    if bad:
        raise ValueError(f"unknown targets {bad}; choose from {', '.join(TARGETS)}")
    if len(set(targets)) != len(targets):
        raise ValueError(f"targets {list(targets)} name a target twice")
    return targets


def _stack_targets(sources: dict[str, torch.Tensor], targets: tuple[str, ...]) -> torch.Tensor:
    out = []
    for t in targets:
        if t == "accompaniment":
            out.append(sum(sources[s] for s in SOURCES if s != "vocals"))
        else:
            out.append(sources[t])
    return torch.stack(out)


class RandomExcerpts(Dataset):
    """Random excerpts for training, ``samples_per_track`` of them per track and epoch.

    Args:
        root: MUSDB-layout folder.
        subset: ``train`` (usually), ``valid`` or ``test``.
        targets: sources (or ``accompaniment``) to return as targets.
        seconds: excerpt length.
        samples_per_track: items per track and epoch.
        random_mix: draw every source from an independent random track at its own random
            offset; ``False``: all sources of an item from one excerpt of its track (the real mix).
        gain_range: uniform random gain per source (``None``: no gain augmentation).
        channel_swap: swap left/right of each source with probability 1/2.
        sample_rate: expected rate of the files.
        mono_to_stereo: accept mono stems.
    """

    def __init__(
        self,
        root: str,
        subset: str = "train",
        targets: Sequence[str] = SOURCES,
        seconds: float = 6.0,
        samples_per_track: int = 64,
        random_mix: bool = True,
        gain_range: tuple[float, float] | None = (0.25, 1.25),
        channel_swap: bool = True,
        sample_rate: int = 44100,
        mono_to_stereo: bool = False,
    ):
        self.targets = _check_targets(targets)
        self.tracks: list[Track] = find_tracks(root, subset, sample_rate, mono_to_stereo)
        self.frames = int(round(seconds * sample_rate))
        short = [t.name for t in self.tracks if t.frames < self.frames]
        if short:
            raise ValueError(f"{len(short)} track(s) are shorter than seconds={seconds}: {short[:3]}; lower seconds")
        if samples_per_track < 1:
            raise ValueError(f"samples_per_track must be >= 1, got {samples_per_track}")
        self.samples_per_track = samples_per_track
        if gain_range is not None:
            gain_range = tuple(float(g) for g in gain_range)
            if len(gain_range) != 2 or not 0 <= gain_range[0] <= gain_range[1]:
                raise ValueError(f"gain_range must be (low, high) with 0 <= low <= high, got {gain_range}")
        self.random_mix, self.gain_range, self.channel_swap = random_mix, gain_range, channel_swap

    def __len__(self) -> int:
        return len(self.tracks) * self.samples_per_track

    def __getitem__(self, index: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Item ``index``, or ``(index, seed)`` (from :class:`SeededSampler`) for an item drawn
        from its own generator."""
        gen = None
        if isinstance(index, (tuple, list)):
            index, seed = index
            gen = torch.Generator().manual_seed(int(seed))
        randint = lambda high: int(torch.randint(high, (), generator=gen).item())  # noqa: E731
        uniform = lambda: float(torch.rand((), generator=gen).item())  # noqa: E731
        sources = {}
        for s in SOURCES:
            track = self.tracks[randint(len(self.tracks))] if self.random_mix else self.tracks[index // self.samples_per_track]
            if self.random_mix or s == SOURCES[0]:  # without random_mix: one excerpt of the real mix
                start = randint(track.frames - self.frames + 1)
            x = torch.from_numpy(read_stem(track, s, start, self.frames))
            if self.gain_range is not None:
                lo, hi = self.gain_range
                x = x * (lo + (hi - lo) * uniform())
            if self.channel_swap and uniform() < 0.5:
                x = x.flip(0)
            sources[s] = x
        mixture = sum(sources.values())
        return mixture, _stack_targets(sources, self.targets)


class SeededSampler(Sampler):
    """A shuffled epoch of ``(index, seed)`` pairs, a pure function of ``(seed, epoch)``.

    The seeds of every item's randomness are drawn here, in the main process, so items do not
    depend on DataLoader workers (see the module docstring). Lightning calls :meth:`set_epoch`
    before every epoch (also on a resumed run) and, under DDP, wraps the sampler so that every
    rank takes its own share of the epoch.

    Args:
        length: items per epoch (``len(dataset)``).
        seed: base seed (the data module draws it once and keeps it in checkpoints).
    """

    def __init__(self, length: int, seed: int):
        self.length, self.seed, self.epoch = int(length), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        gen = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % 2**63)
        order = torch.randperm(self.length, generator=gen).tolist()
        seeds = torch.randint(2**62, (self.length,), generator=gen).tolist()
        return iter(list(zip(order, seeds)))


class FixedExcerpts(Dataset):
    """Deterministic items for validation/test: whole tracks, or one centred excerpt each.

    The mixture is the track's own ``mixture.wav`` (for real MUSDB it is not exactly the sum
    of the stems; for the embedded set it is, to float32 precision).

    Args:
        root: MUSDB-layout folder.
        subset: ``valid`` or ``test`` (``train`` works too).
        targets: as in :class:`RandomExcerpts`.
        seconds: excerpt length, or ``None`` for whole tracks.
    """

    def __init__(
        self,
        root: str,
        subset: str = "valid",
        targets: Sequence[str] = SOURCES,
        seconds: float | None = None,
        sample_rate: int = 44100,
        mono_to_stereo: bool = False,
    ):
        self.targets = _check_targets(targets)
        self.tracks = find_tracks(root, subset, sample_rate, mono_to_stereo)
        self.frames = None if seconds is None else int(round(seconds * sample_rate))

    def __len__(self) -> int:
        return len(self.tracks)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        track = self.tracks[index]
        frames = track.frames if self.frames is None else min(self.frames, track.frames)
        start = (track.frames - frames) // 2
        read = lambda s: torch.from_numpy(read_stem(track, s, start, frames))  # noqa: E731
        sources = {s: read(s) for s in SOURCES}
        return read("mixture"), _stack_targets(sources, self.targets)

    def name(self, index: int) -> str:
        return self.tracks[index].name

    @property
    def equal_lengths(self) -> bool:
        """Whether every item has the same length (so items can be batched): tracks shorter than
        ``seconds`` come whole."""
        return len({t.frames if self.frames is None else min(self.frames, t.frames) for t in self.tracks}) <= 1


__all__ = ["RandomExcerpts", "FixedExcerpts", "SeededSampler", "TARGETS"]
