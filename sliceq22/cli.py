"""What ``train.py``, ``evaluate.py`` and ``infer.py`` share: run the config's ``job`` node and
report a user's mistake as one plain message.

Hydra wraps an error raised by the job in ``InstantiationException`` and prints its repr
(``ValueError("nothing was written; ...\\n  ...")`` on one line, with literal ``\\n``) inside
its own boilerplate. A ``ValueError`` (bad input, an existing output, a wrong sample rate:
everything sliceq22 checks), an ``OSError`` that names a file (a full disk, a
read-only folder) or a missing mandatory value (``ckpt: ???``) is printed here as
``error: <message>`` on stderr with exit status 1; other exceptions, and everything under
``HYDRA_FULL_ERROR=1``, keep their traceback. :func:`user_errors` does the same for the
``python -m`` commands.
"""

from __future__ import annotations

import contextlib
import os

from omegaconf import DictConfig


def _user_error(exc: BaseException) -> str | None:
    from omegaconf.errors import MissingMandatoryValue

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MissingMandatoryValue):
            key = str(getattr(exc, "full_key", "") or "").removeprefix("job.") or "a mandatory value"
            return f"{key} is required: pass {key}=... on the command line"
        if isinstance(exc, ValueError):
            return str(exc)
        if isinstance(exc, OSError) and exc.filename is not None:  # a full disk, a read-only folder: no traceback
            return f"{exc.strerror or exc}: {exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 else "")
        exc = exc.__cause__ or exc.__context__
    return None


def check_new_file(path: str, overwrite: bool = False, option: str = "--out") -> None:
    """Before any work: ``path`` may be written (not a folder, not an existing file unless
    ``overwrite``; its folder exists or can be created, and takes files). A results file must never replace a user's file
    (``--out data/embedded/render.json`` replaced the dataset's manifest)."""
    if os.path.isdir(path):
        raise ValueError(f"{option} {path} is a folder: give a file path")
    if os.path.exists(path) and not overwrite:
        raise ValueError(f"{option} {path} exists: refusing to overwrite it (choose another path or pass --overwrite)")
    from sliceq22.data.audio import ensure_writable_folder

    ensure_writable_folder(os.path.dirname(os.path.abspath(path)), f"the folder of {option}")


def write_json(path: str, obj, **kwargs) -> None:
    """``json.dump`` into a temporary file beside ``path``, then renamed: never half a file."""
    import json
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".partial-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh, **kwargs)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def user_errors():
    """For the ``python -m sliceq22...`` commands: a ``ValueError`` raised inside (what sliceq22
    raises for a user's mistake), or an ``OSError`` naming a file, ends the program with ``error: <message>`` and status 1;
    ``SLICEQ22_TRACEBACK=1`` (or ``HYDRA_FULL_ERROR=1``) keeps the traceback."""
    try:
        yield
    except (ValueError, OSError) as exc:
        message = _user_error(exc)
        if message is None or os.environ.get("SLICEQ22_TRACEBACK") == "1" or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        raise SystemExit(f"error: {message}") from None


class JobError(ValueError):
    """A user's mistake in one job of a ``-m`` sweep: the sweep goes on with the other jobs and
    Hydra reports this one (with its overrides) and exits with status 1 at the end."""


def _hydra_config():
    """Hydra's runtime config of the running job, or None outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    try:
        return HydraConfig.get()
    except ValueError:  # not under Hydra
        return None


def _contains(node, wanted) -> bool:
    if node == wanted:
        return True
    if isinstance(node, dict):
        return any(_contains(v, wanted) for v in node.values())
    if isinstance(node, list):
        return any(_contains(v, wanted) for v in node)
    return False


def _own_transforms(node, path: str = "") -> list[str]:
    """Dotted keys of the transform configs a job builds itself (``separator.transform``)."""
    if isinstance(node, dict):
        if str(node.get("_target_", "")).startswith("sliceq22.transforms."):
            return [path]
        return [k for key, v in node.items() for k in _own_transforms(v, f"{path}.{key}" if path else str(key))]
    if isinstance(node, list):
        return [k for i, v in enumerate(node) for k in _own_transforms(v, f"{path}.{i}")]
    return []


def check_config(cfg: DictConfig) -> None:
    """Before any work: mandatory values given; a search group run as a sweep; ``transform=...``
    only where the job uses the top-level transform (a model or separator with its own, a
    checkpoint or an experiment without one would silently ignore it)."""
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    missing = sorted(k for k in OmegaConf.missing_keys(cfg) if not k.startswith("hydra."))
    if missing:  # before rendering data or loading anything (separator=demix without its ckpt)
        raise ValueError("; ".join(f"{k} is required: pass {k}=... on the command line" for k in missing))
    hydra_cfg = _hydra_config()
    if hydra_cfg is None:
        return
    search = hydra_cfg.runtime.choices.get("search")
    if search and hydra_cfg.mode != RunMode.MULTIRUN:
        raise ValueError(f"search={search} is a sweep: run it with -m (python evaluate.py -m search={search})")
    given = [o for o in hydra_cfg.overrides.task if o.lstrip("+~").split("=", 1)[0].split(".", 1)[0] == "transform"]
    if not given or "transform" not in cfg or "job" not in cfg:
        return
    job = OmegaConf.to_container(cfg.job, resolve=True)
    if _contains(job, OmegaConf.to_container(cfg.transform, resolve=True)):
        return
    own = [k for k in _own_transforms(job) if k]
    from_ckpt = isinstance(job.get("separator"), dict) and job["separator"].get("ckpt") is not None
    why = (f"it builds its own ({', '.join(own[:4])}{' ...' if len(own) > 4 else ''}): override those keys instead" if own else
           "a checkpoint brings the transform it was trained with" if from_ckpt else "it uses no transform")
    raise ValueError(f"{' '.join(given)} has no effect on this job: {why}")


def run_job(cfg: DictConfig):
    """``hydra.utils.instantiate(cfg.job)``, with user errors as ``error: ...`` and exit status 1.

    :func:`check_config` runs first. In a ``-m`` sweep a failing job must not end the sweep:
    ``SystemExit`` escapes Hydra's launcher, so there the message is logged at once (console and
    the job's log file) and a :class:`JobError` lets the launcher record the failure and run the
    remaining jobs; Hydra then exits with status 1."""
    import logging

    import hydra

    try:
        check_config(cfg)
        return hydra.utils.instantiate(cfg.job)
    except Exception as exc:
        message = _user_error(exc)
        if message is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        from hydra.types import RunMode

        hydra_cfg = _hydra_config()
        if hydra_cfg is not None and hydra_cfg.mode == RunMode.MULTIRUN:
            overrides = " ".join(hydra_cfg.overrides.task)
            logging.getLogger("sliceq22").error("job failed [%s]: %s", overrides, message)  # console and <job>/*.log
            raise JobError(message) from None
        raise SystemExit(f"error: {message}") from None
