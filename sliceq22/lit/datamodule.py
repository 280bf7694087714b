"""The Lightning DataModule over MUSDB-layout folders (real MUSDB18-HQ or the embedded set)."""

from __future__ import annotations

from typing import Sequence

import lightning as L
import torch
from torch.utils.data import DataLoader, DistributedSampler

from sliceq22.data.datasets import FixedExcerpts, RandomExcerpts, SeededSampler
from sliceq22.data.musdb import SOURCES


class EvalShardSampler(DistributedSampler):
    """Validation/test items of one rank under DDP: items ``rank, rank + world, ...``, topped up
    to ``ceil(n / world)`` with repeats so every rank runs as many batches (a rank without
    any would skip the epoch-end all-reduce), and :meth:`is_padding` tells which are repeats
    (the module gives them no weight). Used with batches of one item.

    Lightning leaves a ``DistributedSampler`` in place; its own pads the same way but says
    nothing, so the repeated items counted twice in the validation metrics.
    """

    def __init__(self, n: int, rank: int, world: int):
        super().__init__(range(n), num_replicas=world, rank=rank, shuffle=False, drop_last=False)
        self.n = n
        per_rank = -(-n // world)
        self.positions = [rank + k * world for k in range(per_rank)]

    def __iter__(self):
        return iter([p % self.n for p in self.positions])

    def __len__(self) -> int:
        return len(self.positions)

    def is_padding(self, k: int) -> bool:
        """Whether this rank's ``k``-th item repeats one that another rank scores."""
        return self.positions[k] >= self.n


class MusicDataModule(L.LightningDataModule):
    """Random augmented excerpts for training, deterministic items for validation and test.

    Training items are drawn by :class:`~sliceq22.data.datasets.SeededSampler` from a base seed
    taken from torch's generator at set-up (so ``seed_everything`` fixes it) and kept in the
    checkpoint (:meth:`state_dict`): a resumed run draws the excerpts of an uninterrupted one,
    with any number of workers.

    Args:
        root: MUSDB-layout folder.
        targets: sources (or ``accompaniment``) to predict.
        seconds: training excerpt length.
        samples_per_track: training items per track and epoch.
        batch_size: training (and excerpt validation) batch size.
        num_workers: DataLoader workers.
        valid_seconds: validation excerpt length (centred), or ``None`` for whole tracks.
        random_mix, gain_range, channel_swap: training augmentation (see ``RandomExcerpts``).
        sample_rate: expected sample rate of the files.
        mono_to_stereo: accept mono stems.
        render: ``{"tracks", "seconds", "seed"}`` to render the embedded dataset into ``root``
            on first use (reused afterwards, never rewritten), or ``None`` for existing data.
    """

    def __init__(
        self,
        root: str,
        targets: Sequence[str] = SOURCES,
        seconds: float = 6.0,
        samples_per_track: int = 64,
        batch_size: int = 8,
        num_workers: int = 2,
        valid_seconds: float | None = 10.0,
        random_mix: bool = True,
        gain_range: tuple[float, float] | None = (0.25, 1.25),
        channel_swap: bool = True,
        sample_rate: int = 44100,
        mono_to_stereo: bool = False,
        render: dict | None = None,
    ):
        super().__init__()
        from sliceq22.options import check_flag, check_number

        # before rendering or reading anything; data.seconds=abc would fail later as a TypeError
        check_number("data.seconds", seconds, above=0)
        check_number("data.valid_seconds", valid_seconds, above=0, optional=True, hint=": whole tracks")
        check_number("data.samples_per_track", samples_per_track, at_least=1, integer=True)
        check_number("data.batch_size", batch_size, at_least=1, integer=True)
        check_number("data.num_workers", num_workers, at_least=0, integer=True)
        check_number("data.sample_rate", sample_rate, above=0, integer=True)
        for key, flag in (("random_mix", random_mix), ("channel_swap", channel_swap), ("mono_to_stereo", mono_to_stereo)):
            check_flag(f"data.{key}", flag)
        self.root, self.targets = root, ((targets,) if isinstance(targets, str) else tuple(targets))  # data.targets=vocals
        self.seconds, self.samples_per_track = seconds, samples_per_track
        self.batch_size, self.num_workers, self.valid_seconds = batch_size, num_workers, valid_seconds
        self.augment = dict(random_mix=random_mix, gain_range=tuple(gain_range) if gain_range else None, channel_swap=channel_swap)
        self.sample_rate, self.mono_to_stereo = int(sample_rate), mono_to_stereo
        self.render = dict(render) if render else None
        self.sample_seed: int | None = None

    def prepare_data(self) -> None:
        if self.render:
            from sliceq22.data.render import mismatch_hint, render_dataset

            try:
                render_dataset(self.root, sample_rate=self.sample_rate, **self.render)
            except ValueError as exc:
                raise ValueError(f"{exc} ({mismatch_hint(self.root, self.sample_rate)})") from exc

    def setup(self, stage: str | None = None) -> None:
        common = dict(targets=self.targets, sample_rate=self.sample_rate, mono_to_stereo=self.mono_to_stereo)
        if stage in (None, "fit"):
            if self.sample_seed is None:  # equal on every DDP rank (same seed so far)
                self.sample_seed = int(torch.randint(2**62, ()).item())
            self.train_set = RandomExcerpts(
                self.root, "train", seconds=self.seconds, samples_per_track=self.samples_per_track, **self.augment, **common
            )
            ranks = getattr(getattr(self, "trainer", None), "world_size", 1) or 1
            if len(self.train_set) // ranks < self.batch_size:  # drop_last would leave no batch at all
                raise ValueError(
                    f"data.batch_size={self.batch_size} is more than the {len(self.train_set)} training items per epoch "
                    f"({len(self.train_set.tracks)} tracks x data.samples_per_track={self.samples_per_track}"
                    f"{f', over {ranks} ranks' if ranks > 1 else ''}): raise data.samples_per_track or lower data.batch_size"
                )
        if stage in (None, "fit", "validate"):
            self.valid_set = FixedExcerpts(self.root, "valid", seconds=self.valid_seconds, **common)
        if stage in (None, "test"):
            self.test_set = FixedExcerpts(self.root, "test", seconds=None, **common)

    def state_dict(self) -> dict:
        return {"sample_seed": self.sample_seed}

    def load_state_dict(self, state: dict) -> None:
        if state.get("sample_seed") is not None:
            self.sample_seed = int(state["sample_seed"])

    def _loader(self, dataset, batch_size: int, train: bool) -> DataLoader:
        sampler = SeededSampler(len(dataset), self.sample_seed) if train else None
        trainer = getattr(self, "trainer", None)
        world = int(getattr(trainer, "world_size", 1) or 1)
        if not train and world > 1:  # every item scored once (see EvalShardSampler)
            sampler, batch_size = EvalShardSampler(len(dataset), int(trainer.global_rank), world), 1
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            drop_last=train,
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, self.batch_size, train=True)

    def val_dataloader(self) -> DataLoader:
        # items of unequal length (whole tracks, or tracks shorter than valid_seconds) go one by one
        batched = self.valid_seconds is not None and self.valid_set.equal_lengths
        return self._loader(self.valid_set, self.batch_size if batched else 1, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, 1, train=False)
