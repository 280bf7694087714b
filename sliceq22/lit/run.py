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


def _pin_slice_lengths(node):
    """``node`` with every sliCQT's ``slice_len``/``trans_len`` filled in where left to the default.

    A null length is chosen at construction by a rule (:func:`~sliceq22.transforms.slicqt.suggest_slice_len`);
    checkpoints record the chosen numbers, so a checkpoint keeps its transform even if that rule
    changes, and a resume compares what was actually built.
    """
    if isinstance(node, list):
        return [_pin_slice_lengths(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _pin_slice_lengths(v) for k, v in node.items()}
    if node.get("slice_len") is None or node.get("trans_len") is None:
        from hydra.utils import get_class

        from sliceq22.transforms import SliCQT

        try:
            cls = get_class(node["_target_"]) if isinstance(node.get("_target_"), str) else None
        except Exception:  # noqa: BLE001 - not a class: nothing to pin (instantiate reports it)
            cls = None
        if isinstance(cls, type) and issubclass(cls, SliCQT):
            built = instantiate(node)
            node["slice_len"], node["trans_len"] = built.slice_len, built.trans_len
    return node


def _check_resume(ckpt_path: str, model: dict, max_epochs) -> dict:
    """A checkpoint to resume must hold this very model and have epochs left to train; returns it."""
    from sliceq22.lit.base import CONFIG_KEY
    from sliceq22.lit.infer import _read_checkpoint

    if os.path.isdir(ckpt_path):
        raise ValueError(f"ckpt_path={ckpt_path} is a folder: give a checkpoint file in it (a run's .../checkpoints/last.ckpt)")
    if not os.path.isfile(ckpt_path):
        raise ValueError(f"ckpt_path={ckpt_path} does not exist (use .../checkpoints/last.ckpt of a previous run)")
    state = _read_checkpoint(ckpt_path)
    saved = state.get(CONFIG_KEY)
    saved = saved.get("model") if isinstance(saved, dict) else None
    if not isinstance(saved, dict):
        raise ValueError(f"{ckpt_path} carries no sliceq22 model config: resume from a checkpoint written by train.py")
    if saved.get("_target_") != model.get("_target_"):
        raise ValueError(f"{ckpt_path} holds a {saved.get('_target_')}, this run builds a {model.get('_target_')}: "
                         f"resume with the experiment that wrote it")
    differ = _differences(_pin_slice_lengths(saved), model)
    if differ:
        shown = ", ".join(f"model.{k}" for k in differ[:6]) + (" ..." if len(differ) > 6 else "")
        settled = [k for k in differ if k.startswith(("optimizer", "scheduler"))]
        why = (" (a resumed run continues with the optimizer and LR scheduler saved in the checkpoint, so "
               f"{', '.join('model.' + k for k in settled[:3])} would not take effect)") if settled else ""
        raise ValueError(f"{ckpt_path} was trained with other model settings ({shown}){why}: resume with the same "
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
    return state


def _earlier_best(resumed: dict, trainer: L.Trainer) -> dict:
    """The best checkpoints of the training a resumed checkpoint continues (its own record, or,
    for a checkpoint from before that record existed, its ModelCheckpoint states)."""
    from sliceq22.lit.base import BEST_KEY

    if isinstance(resumed.get(BEST_KEY), dict):
        return resumed[BEST_KEY]
    best = {}
    for cb in trainer.checkpoint_callbacks:
        old = (resumed.get("callbacks") or {}).get(getattr(cb, "state_key", None)) or {}
        score = old.get("best_model_score")
        if getattr(cb, "monitor", None) and old.get("best_model_path") and score is not None:
            best[cb.monitor] = {"score": float(score), "path": old["best_model_path"], "mode": cb.mode}
    return best


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
    config = {"model": _pin_slice_lengths(OmegaConf.to_container(model, resolve=True)),
              "data": OmegaConf.to_container(data, resolve=True)}
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
    resumed = _check_resume(ckpt_path, config["model"], max_epochs) if ckpt_path is not None else None
    L.seed_everything(seed, workers=True)
    datamodule = instantiate(data)
    module = instantiate(model)
    # set after construction: passed through instantiate it would become a DictConfig, which
    # torch.load(weights_only=True) refuses to unpickle
    module.checkpoint_config = config
    trainer = instantiate(trainer)
    if resumed is not None:
        # a resumed run saves into its own new folder (the earlier run's files are never
        # touched), where Lightning's top-k and best_model_path restart: the checkpoints carry
        # the best over the whole training (BEST_KEY), reported at the end
        module.earlier_best = _earlier_best(resumed, trainer)
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
        from sliceq22.lit.base import best_checkpoints

        for monitor, best in best_checkpoints(trainer, module.earlier_best).items():
            whole = " over the whole training (resumes included)" if module.earlier_best else ""
            log.info("best %s%s: %.4g, %s", monitor, whole, best["score"], best["path"])
        if tb:
            log.info("TensorBoard logs: tensorboard --logdir %s", tb)
        log.info("outputs in %s", output_dir)
    return metrics
