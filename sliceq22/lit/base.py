"""What every sliceq22 LightningModule shares: self-describing checkpoints, resumable sampling
state, and optimisers built from config factories."""

from __future__ import annotations

import math

import lightning as L
import torch

CONFIG_KEY = "sliceq22_config"
BEST_KEY = "sliceq22_best"  # monitor -> the best checkpoint over the whole training, resumes included


def best_checkpoints(trainer: L.Trainer, earlier: dict | None = None) -> dict:
    """``monitor -> {"score", "path", "mode"}``: the best checkpoint of every monitoring
    ``ModelCheckpoint`` of ``trainer``, weighed against ``earlier`` (the same record of the
    runs this one resumed; Lightning's own ``best_model_path`` forgets them once a resumed run
    saves into a new folder)."""
    best = {k: dict(v) for k, v in (earlier or {}).items() if isinstance(v, dict)}
    for cb in trainer.checkpoint_callbacks:
        if not isinstance(cb, L.pytorch.callbacks.ModelCheckpoint) or cb.monitor is None:
            continue
        if not cb.best_model_path or cb.best_model_score is None or math.isnan(float(cb.best_model_score)):
            continue
        score, old = float(cb.best_model_score), best.get(cb.monitor)
        if old is None or (score > old["score"] if cb.mode == "max" else score < old["score"]):
            best[cb.monitor] = {"score": score, "path": cb.best_model_path, "mode": cb.mode}
    return best


class ConfiguredModule(L.LightningModule):
    """Base of the experiment modules.

    Subclasses set ``optimizer_factory`` (``params -> Optimizer``), ``scheduler_factory``
    (``optimizer -> scheduler`` or ``None``) and ``checkpoint_config`` (the resolved config,
    set by :func:`sliceq22.lit.run.fit`), define ``_step(batch, stage)`` (``stage`` is
    ``train``, ``val`` or ``test``; it logs through :meth:`_log` and returns the loss) and may override
    :meth:`trainable_parameters`.
    Checkpoints then carry the config under ``sliceq22_config`` (``infer.py`` rebuilds the
    module from it and loads weights with ``weights_only=True``) and the torch RNG state, so a
    resumed run draws the same excerpts an uninterrupted one would.

    Under DDP every rank starts from the same seed (and a resumed run from rank 0's saved RNG
    state), so excerpts drawn in the main process (``num_workers=0``) would be the same batch
    on every rank; :meth:`on_fit_start` moves ranks > 0 to streams of their own, derived from
    that common state (rank 0 and single-process runs are untouched).
    """

    optimizer_factory = None
    earlier_best = None  # BEST_KEY of the checkpoint this run resumed (set by sliceq22.lit.run.fit)
    scheduler_factory = None
    checkpoint_config: dict | None = None

    def trainable_parameters(self):
        return self.parameters()

    def _step(self, batch, stage: str):  # pragma: no cover - subclasses define the step
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._eval_batch = batch_idx
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._eval_batch = batch_idx
        self._step(batch, "test")

    # -- logging ----------------------------------------------------------------------------
    def _log(self, values: dict, stage: str, batch_size: int) -> None:
        """What ``_step`` computed. Training values go to Lightning per step. Validation and
        test values are summed with their item counts and all-reduced at the epoch's end, so
        every item counts once whatever the number of ranks: Lightning's ``sync_dist`` averaged
        the ranks' means (weighting ranks, not items), and its DistributedSampler repeated items
        to give every rank as many (the data module's :class:`EvalShardSampler` marks them)."""
        if stage == "train" or getattr(self, "_trainer", None) is None:  # no trainer: a direct call
            self.log_dict(values, batch_size=batch_size)
            return
        loaders = self.trainer.val_dataloaders if stage == "val" else self.trainer.test_dataloaders
        loader = loaders[0] if isinstance(loaders, (list, tuple)) else loaders
        is_padding = getattr(getattr(loader, "sampler", None), "is_padding", None)
        weight = 0.0 if is_padding is not None and is_padding(self._eval_batch) else float(batch_size)
        for key, value in values.items():  # _start_eval ran at the epoch's start
            value = torch.as_tensor(value, device=self.device).detach().double() * weight
            self._eval_sums[key] = self._eval_sums.get(key, 0.0) + value
        self._eval_count += weight

    def _start_eval(self) -> None:
        self._eval_sums, self._eval_count = {}, 0.0

    def _end_eval(self) -> None:
        keys = sorted(self._eval_sums)
        if not keys:
            return
        totals = torch.stack([self._eval_sums[k].reshape(()) for k in keys]
                             + [torch.tensor(self._eval_count, dtype=torch.float64, device=self.device)])
        totals = self.trainer.strategy.reduce(totals, reduce_op="sum")  # one all-reduce; unchanged on one process
        count = totals[-1].clamp_min(1.0)
        self.log_dict({k: (totals[i] / count).float() for i, k in enumerate(keys)}, prog_bar=True, sync_dist=False)
        self._start_eval()

    def on_validation_epoch_start(self) -> None:
        self._start_eval()

    def on_validation_epoch_end(self) -> None:
        self._end_eval()

    def on_test_epoch_start(self) -> None:
        self._start_eval()

    def on_test_epoch_end(self) -> None:
        self._end_eval()

    def configure_optimizers(self):
        opt = self.optimizer_factory(self.trainable_parameters())
        if self.scheduler_factory is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": self.scheduler_factory(opt)}

    def on_fit_start(self) -> None:
        if self.trainer.world_size > 1 and self.global_rank > 0:
            base = int(torch.randint(2**62, ()).item())  # equal on every rank: same state so far
            torch.manual_seed(base + self.global_rank)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.checkpoint_config is not None:
            checkpoint[CONFIG_KEY] = self.checkpoint_config
        checkpoint[BEST_KEY] = best_checkpoints(self.trainer, self.earlier_best)
        checkpoint["sliceq22_rng"] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            checkpoint["sliceq22_rng"]["cuda"] = torch.cuda.get_rng_state_all()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        rng = checkpoint.get("sliceq22_rng")
        if rng:
            torch.set_rng_state(rng["torch"])
            if "cuda" in rng and torch.cuda.is_available():
                # one state per device visible when saved; a run resumed with fewer visible
                # GPUs (a DDP node's checkpoint on a workstation) restores the ones it has
                for i, state in enumerate(rng["cuda"][: torch.cuda.device_count()]):
                    torch.cuda.set_rng_state(state, i)
