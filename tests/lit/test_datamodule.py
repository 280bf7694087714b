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


_DDP_SCRIPT = """
import sys, torch, lightning as L
from sliceq22.lit.base import ConfiguredModule
from sliceq22.lit.datamodule import MusicDataModule

class Probe(ConfiguredModule):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.optimizer_factory = lambda params: torch.optim.SGD(params, lr=0.0)

    def training_step(self, batch, i):
        with open(f"batches_rank{self.global_rank}.txt", "a") as fh:  # one file per rank: no interleaving
            fh.write(f"{i} {batch[0].double().sum().item():.9e}\\n")
        return self.w.sum() * batch[0].mean()

if __name__ == "__main__":
    L.seed_everything(7, workers=True)
    dm = MusicDataModule(sys.argv[1], seconds=0.5, samples_per_track=4, batch_size=2, num_workers=0)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, limit_train_batches=2, limit_val_batches=0,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False, num_sanity_val_steps=0)
    trainer.fit(Probe(), datamodule=dm)
"""


def test_ddp_ranks_draw_different_excerpts(tmp_path):
    """Two CPU processes, excerpts drawn in the main process: every rank seeded alike used to
    train on the very same batches (half the data, twice the compute)."""
    import os
    import subprocess
    import sys

    root = str(tmp_path / "emb")
    MusicDataModule(root, render={"tracks": 4, "seconds": 2.0, "seed": 5}).prepare_data()
    script = tmp_path / "probe.py"
    script.write_text(_DDP_SCRIPT)
    out = subprocess.run([sys.executable, str(script), root], capture_output=True, text=True, timeout=300,
                         cwd=str(tmp_path), env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr[-3000:]
    sums = {}
    for rank in (0, 1):
        for line in (tmp_path / f"batches_rank{rank}.txt").read_text().splitlines():
            step, value = line.split()
            sums[(rank, int(step))] = value
    assert set(sums) == {(r, s) for r in (0, 1) for s in (0, 1)}, sums
    assert sums[(0, 0)] != sums[(1, 0)] and sums[(0, 1)] != sums[(1, 1)]


def test_training_items_do_not_depend_on_workers_or_resumption(tmp_path):
    """Items were drawn from the workers' RNG streams, which persistent workers keep across
    epochs and checkpoints never save: a resumed run with workers diverged from an
    uninterrupted one. Now each epoch is a function of (sample_seed, epoch) alone."""
    root = str(tmp_path / "emb")
    MusicDataModule(root, render={"tracks": 4, "seconds": 2.0, "seed": 5}).prepare_data()

    def epochs(dm, which):
        loader = dm.train_dataloader()
        out = []
        for e in which:
            loader.sampler.set_epoch(e)  # what Lightning does before every epoch
            out.append([m.double().sum().item() for m, _ in loader])
        return out

    def module(workers):
        return MusicDataModule(root, seconds=0.5, samples_per_track=3, batch_size=2, num_workers=workers)

    torch.manual_seed(11)
    plain = module(0)
    plain.setup("fit")
    reference = epochs(plain, range(3))
    assert reference[0] != reference[1]  # a new draw every epoch
    torch.manual_seed(11)
    workers = module(2)
    workers.setup("fit")
    assert epochs(workers, range(3)) == reference  # persistent workers, same items
    resumed = module(2)
    resumed.load_state_dict(plain.state_dict())  # as Lightning restores it from a checkpoint
    resumed.setup("fit")
    assert epochs(resumed, [2]) == reference[2:]


def test_sizes_that_cannot_train_are_refused(tmp_path):
    """A batch larger than the epoch trained nothing and exited 0 (drop_last); seconds <= 0
    failed late with 'excerpt [157090, 157090) outside ...'."""
    import pytest

    root = str(tmp_path / "emb")
    MusicDataModule(root, render={"tracks": 4, "seconds": 2.0, "seed": 5}).prepare_data()
    for kwargs, needle in ((dict(batch_size=100, samples_per_track=1), "data.batch_size=100 is more than"),
                           (dict(seconds=0), "data.seconds must be a number > 0"), (dict(valid_seconds=-1), "data.valid_seconds must be a number > 0"),
                           (dict(batch_size=0), "data.batch_size must be an integer >= 1"),
                           (dict(seconds="abc"), "data.seconds must be a number > 0, got 'abc'"),  # was a TypeError
                           (dict(random_mix="no"), "data.random_mix must be true or false"),  # 'no' was truthy
                           (dict(samples_per_track=1.5), "data.samples_per_track must be an integer")):
        with pytest.raises(ValueError, match=needle):
            MusicDataModule(root, **{**dict(seconds=0.5, num_workers=0), **kwargs}).setup("fit")


_DDP_VAL_SCRIPT = """
import json, sys, torch, lightning as L
from torch.utils.data import Dataset
from sliceq22.lit.base import ConfiguredModule
from sliceq22.lit.datamodule import MusicDataModule

class Items(Dataset):
    equal_lengths = True
    def __init__(self, values):
        self.values = values
    def __len__(self):
        return len(self.values)
    def __getitem__(self, i):
        i = i[0] if isinstance(i, tuple) else i  # the training sampler gives (item, seed)
        return torch.tensor([self.values[i]]), torch.tensor([self.values[i]])

class Data(MusicDataModule):
    def prepare_data(self):
        pass
    def setup(self, stage=None):
        self.train_set, self.valid_set, self.sample_seed = Items([0.0] * 8), Items([0.0, 1.0, 5.0]), 0

class Probe(ConfiguredModule):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.optimizer_factory = lambda params: torch.optim.SGD(params, lr=0.0)
    def _step(self, batch, stage):
        loss = self.w.sum() * batch[0].mean()
        self._log({f"{stage}/value": batch[0].mean()}, stage, batch[0].shape[0])
        return loss

if __name__ == "__main__":
    devices = int(sys.argv[1])
    trainer = L.Trainer(accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto", max_epochs=1,
                        limit_train_batches=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        num_sanity_val_steps=0)
    trainer.fit(Probe(), datamodule=Data("unused", batch_size=2, num_workers=0, valid_seconds=1.0))
    if trainer.is_global_zero:
        print("RESULT", json.dumps(float(trainer.callback_metrics["val/value"])))
"""


def test_validation_metrics_count_every_item_once_under_ddp(tmp_path):
    """Three validation items on two ranks: Lightning's sampler repeated one (values 0, 1, 5 gave
    1.5) and sync_dist averaged the ranks' means; the mean over items is 2 on any rank count."""
    import json
    import os
    import subprocess
    import sys

    script = tmp_path / "probe_val.py"
    script.write_text(_DDP_VAL_SCRIPT)
    for devices in (1, 2):
        out = subprocess.run([sys.executable, str(script), str(devices)], capture_output=True, text=True, timeout=300,
                             cwd=str(tmp_path), env={**os.environ, "PYTHONWARNINGS": "ignore"})
        assert out.returncode == 0, out.stderr[-3000:]
        value = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("RESULT")).split(" ", 1)[1])
        assert abs(value - 2.0) < 1e-6, (devices, value)


def test_eval_shard_sampler_covers_every_item_once():
    from sliceq22.lit.datamodule import EvalShardSampler

    for n in (1, 2, 3, 14):
        for world in (1, 2, 4, 16):
            seen = []
            for rank in range(world):
                s = EvalShardSampler(n, rank, world)
                assert len(s) == -(-n // world)  # the same number of batches on every rank
                seen += [i for k, i in enumerate(s) if not s.is_padding(k)]
            assert sorted(seen) == list(range(n)), (n, world)
