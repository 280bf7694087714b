"""The job behind Lightning experiments: build data, model and trainer from config, fit, report.

Called by ``train.py`` through the experiment's ``job`` node (``_recursive_: false``, so the
pieces are built here, in order, after seeding). The resolved ``model`` config goes into every
checkpoint, so inference needs nothing but the checkpoint.
"""

from __future__ import annotations

import logging
import os

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def fit(
    data: DictConfig,
    model: DictConfig,
    trainer: DictConfig,
    output_dir: str,
    seed: int = 42,
    ckpt_path: str | None = None,
    test: bool = False,
) -> dict:
    """Train (or resume from ``ckpt_path``), validate, optionally test; return the final metrics.

    Raises:
        ValueError: ``ckpt_path`` is given but does not exist.
    """
    if ckpt_path is not None and not os.path.isfile(ckpt_path):
        raise ValueError(f"ckpt_path={ckpt_path} does not exist (use .../checkpoints/last.ckpt of a previous run)")
    L.seed_everything(seed, workers=True)
    config = {"model": OmegaConf.to_container(model, resolve=True), "data": OmegaConf.to_container(data, resolve=True)}
    datamodule = instantiate(data)
    module = instantiate(model)
    # set after construction: passed through instantiate it would become a DictConfig, which
    # torch.load(weights_only=True) refuses to unpickle
    module.checkpoint_config = config
    trainer = instantiate(trainer)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    if test:
        trainer.test(module, datamodule=datamodule)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    if trainer.is_global_zero:
        tb = getattr(trainer.logger, "log_dir", None)
        if "val/snr_db" in metrics:
            log.info(
                "final validation SNR (true phase): network %.2f dB, re-blur baseline %.2f dB",
                metrics["val/snr_db"], metrics.get("val/baseline_snr_db", float("nan")),
            )
        if tb:
            log.info("TensorBoard logs: tensorboard --logdir %s", tb)
        log.info("outputs in %s", output_dir)
    return metrics
