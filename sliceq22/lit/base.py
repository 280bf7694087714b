"""What every sliceq22 LightningModule shares: self-describing checkpoints, resumable sampling
state, and optimisers built from config factories."""

from __future__ import annotations

import lightning as L
import torch

CONFIG_KEY = "sliceq22_config"


class ConfiguredModule(L.LightningModule):
    """Base of the experiment modules.

    Subclasses set ``optimizer_factory`` (``params -> Optimizer``), ``scheduler_factory``
    (``optimizer -> scheduler`` or ``None``) and ``checkpoint_config`` (the resolved config,
    set by :func:`sliceq22.lit.run.fit`), define ``_step(batch, stage)`` (``stage`` is
    ``train``, ``val`` or ``test``; it logs and returns the loss) and may override
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
    scheduler_factory = None
    checkpoint_config: dict | None = None

    def trainable_parameters(self):
        return self.parameters()

    def _step(self, batch, stage: str):  # pragma: no cover - subclasses define the step
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

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
