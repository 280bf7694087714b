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


def _multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:  # not under Hydra
        return False


def run_job(cfg: DictConfig):
    """``hydra.utils.instantiate(cfg.job)``, with user errors as ``error: ...`` and exit status 1.

    In a ``-m`` sweep a failing job must not end the sweep: ``SystemExit`` escapes Hydra's
    launcher, so there the message is printed at once (``error: <overrides>: <message>``) and a
    :class:`JobError` lets the launcher record the failure and run the remaining jobs."""
    import hydra

    try:
        return hydra.utils.instantiate(cfg.job)
    except Exception as exc:
        message = _user_error(exc)
        if message is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        if _multirun():
            from hydra.core.hydra_config import HydraConfig

            import logging

            overrides = " ".join(HydraConfig.get().overrides.task)
            logging.getLogger("sliceq22").error("job failed [%s]: %s", overrides, message)  # console and <job>/*.log
            raise JobError(message) from None
        raise SystemExit(f"error: {message}") from None
