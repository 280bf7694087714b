"""The DataModule renders on first use and serves batches of the documented shapes."""

from __future__ import annotations

import torch

from sliceq22.lit.datamodule import MusicDataModule


def test_renders_then_serves(tmp_path):
    root = str(tmp_path / "emb")
    dm = MusicDataModule(
        root, seconds=1.0, samples_per_track=2, batch_size=2, num_workers=0, valid_seconds=2.0,
        render={"tracks": 4, "seconds": 3.0, "seed": 3},
    )
    dm.prepare_data()
    dm.setup("fit")
    mix, tgt = next(iter(dm.train_dataloader()))
    assert mix.shape == (2, 2, 44100) and tgt.shape == (2, 4, 2, 44100)
    mix, tgt = next(iter(dm.val_dataloader()))
    assert mix.shape == (1, 2, 88200)
    assert torch.isfinite(mix).all()
    dm.setup("test")
    assert len(dm.test_dataloader()) == 1
