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


def ddp_strategy(**kwargs):
    """Lightning's ``DDPStrategy`` without the per-forward broadcast of buffers.

    The models' buffers are constant tables (transform windows, bin geometry; several times the
    parameters' size), not running statistics, so rank 0's copy need not be sent to every rank
    before every forward. torch 2.13 renamed DDP's ``broadcast_buffers`` to
    ``forward_sync_buffers`` (the old name warns); torch 2.11 knows only the old one.
    """
    import inspect

    import torch
    from lightning.pytorch.strategies import DDPStrategy

    params = inspect.signature(torch.nn.parallel.DistributedDataParallel.__init__).parameters
    key = "forward_sync_buffers" if "forward_sync_buffers" in params else "broadcast_buffers"
    return DDPStrategy(**{key: False}, **kwargs)


def _differences(a, b, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested configs."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _differences(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]


def _check_resume(ckpt_path: str, model: dict, max_epochs) -> None:
    """A checkpoint to resume must hold this very model and have epochs left to train."""
    import torch

    from sliceq22.lit.base import CONFIG_KEY

    if not os.path.isfile(ckpt_path):
        raise ValueError(f"ckpt_path={ckpt_path} does not exist (use .../checkpoints/last.ckpt of a previous run)")
    state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    saved = (state.get(CONFIG_KEY) or {}).get("model") if isinstance(state, dict) else None
    if saved is not None:
        if saved.get("_target_") != model.get("_target_"):
            raise ValueError(f"{ckpt_path} holds a {saved.get('_target_')}, this run builds a {model.get('_target_')}: "
                             f"resume with the experiment that wrote it")
        differ = [k for k in _differences(saved, model) if not k.startswith(("optimizer", "scheduler"))]
        if differ:
            shown = ", ".join(f"model.{k}" for k in differ[:6]) + (" ..." if len(differ) > 6 else "")
            raise ValueError(f"{ckpt_path} was trained with other model settings ({shown}): resume with the same "
                             f"model config (see its run's .hydra/config.yaml)")
    # epochs whose training finished: Lightning's loop counter (a mid-epoch checkpoint, e.g. a
    # SLURM requeue's hpc_ckpt, has not processed its epoch yet), else the epoch index + 1
    try:
        done = int(state["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])
    except (KeyError, TypeError):
        done = int(state.get("epoch", -1)) + 1 if isinstance(state, dict) else 0
    if max_epochs is not None and max_epochs != -1 and done >= max_epochs:
        raise ValueError(f"{ckpt_path} has finished {done} epoch(s) and trainer.max_epochs={max_epochs}: nothing is "
                         f"left to train; raise trainer.max_epochs to continue")


def _check_callbacks(model: dict, callbacks) -> None:
    """The example callbacks draw one kind of model: a model of another experiment would train a
    whole epoch and then fail in them (``experiment=demix model=deoverlap``)."""
    from hydra.utils import get_class

    for cb in callbacks or []:
        target = cb.get("_target_") if isinstance(cb, dict) else None
        if not target:
            continue
        try:
            cls = get_class(target)
        except Exception:  # noqa: BLE001 - Lightning names a class it cannot build itself
            continue
        wanted = getattr(cls, "module", None)
        if wanted is not None and model.get("_target_") != wanted:
            raise ValueError(f"the model {model.get('_target_')} does not go with the callbacks of experiment="
                             f"{cls.experiment} ({cls.__name__} draws a {wanted.rsplit('.', 1)[-1]}): choose the "
                             f"experiment that trains this model (experiment=... sets model, data and callbacks "
                             f"together) instead of overriding model= or callbacks=")


def _check_rates(model: dict, data: dict) -> None:
    """Every transform of the model must run at the data's rate (a model trained at 22.05 kHz on
    44.1 kHz audio would be resampled to a rate it never saw at inference)."""
    rates = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("sample_rate"), (int, float)):
                rates.add(float(node["sample_rate"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(model)
    rate = data.get("sample_rate")
    other = sorted(r for r in rates if isinstance(rate, (int, float)) and r != float(rate))
    if other:
        raise ValueError(f"the model's transform runs at {', '.join(f'{r:g}' for r in other)} Hz but data.sample_rate={rate}: "
                         f"set the top-level sample_rate=... (both follow it) instead of one of them")


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
        ValueError: ``ckpt_path`` is missing, holds another model or one configured otherwise,
            or has nothing left to train; ``trainer.max_epochs`` < 1; a GPU trainer on a
            machine without one.
    """
    config = {"model": OmegaConf.to_container(model, resolve=True), "data": OmegaConf.to_container(data, resolve=True)}
    from sliceq22.options import check_number

    max_epochs = trainer.get("max_epochs")
    check_number("trainer.max_epochs", max_epochs, integer=True, optional=True, hint=": -1 for no limit")
    if max_epochs is not None and max_epochs != -1 and max_epochs < 1:
        raise ValueError(f"trainer.max_epochs={max_epochs}: nothing would be trained (use >= 1, or -1 for no limit)")
    check_number("seed", seed, integer=True)
    if str(trainer.get("accelerator", "")) in ("gpu", "cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError("this trainer needs a CUDA GPU and torch sees none: use trainer=cpu (or trainer=ddp_cpu)")
    _check_rates(config["model"], config["data"])
    _check_callbacks(config["model"], OmegaConf.to_container(trainer, resolve=True).get("callbacks"))
    if ckpt_path is not None:
        _check_resume(ckpt_path, config["model"], max_epochs)
    L.seed_everything(seed, workers=True)
    datamodule = instantiate(data)
    module = instantiate(model)
    # set after construction: passed through instantiate it would become a DictConfig, which
    # torch.load(weights_only=True) refuses to unpickle
    module.checkpoint_config = config
    trainer = instantiate(trainer)
    if not trainer.loggers:  # ~logger: LearningRateMonitor refuses to run without one
        trainer.callbacks = [c for c in trainer.callbacks if not isinstance(c, L.pytorch.callbacks.LearningRateMonitor)]
    if trainer.fast_dev_run:
        # Lightning suppresses checkpoints in a fast_dev_run except ModelCheckpoint's save_last at
        # train end: a one-batch last.ckpt that infer.py would take for a trained model
        trainer.callbacks = [c for c in trainer.callbacks if not isinstance(c, L.pytorch.callbacks.Checkpoint)]
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
