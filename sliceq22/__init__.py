"""sliceq22: music source separation research on the sliced constant-Q transform."""

__version__ = "0.1.0"


def separate(audio, sample_rate, model, wiener_iterations=None, **kwargs):
    """Separate ``audio (channels, samples)`` at ``sample_rate`` with ``model``: a separator, a
    trained ``DemixModule``, or a checkpoint path (``str`` or ``os.PathLike``).

    Returns ``{target: (channels, samples)}`` at the input's rate (numpy in, numpy out).
    ``wiener_iterations`` sets the post-filter's EM steps for this call (``None``: as
    trained); ``chunk_seconds``, ``device``, ``progress=True`` (a progress bar), ... go to
    :func:`sliceq22.separator.separate`.
    """
    import os

    from sliceq22.options import check_number
    from sliceq22.separator import separate as _separate

    check_number("wiener_iterations", wiener_iterations, at_least=0, integer=True, optional=True, hint=": as trained")
    if isinstance(model, (str, os.PathLike)):
        from sliceq22.lit.infer import load_separator

        return _separate(audio, sample_rate, load_separator(os.fspath(model), wiener_iterations=wiener_iterations), **kwargs)
    inner = getattr(model, "model", None)  # a LightningModule wrapping the separator
    if inner is not None and hasattr(inner, "separate") and not hasattr(model, "separate"):
        model = inner
    if not all(hasattr(model, a) for a in ("separate", "targets", "sample_rate")):
        raise ValueError(f"{type(model).__name__} is not a separator (a demixing model, DemixModule or checkpoint path; "
                         f"a de-overlap model reconstructs with infer.py instead)")
    if wiener_iterations is not None and not hasattr(model, "wiener_iterations") and int(wiener_iterations) > 0:
        raise ValueError(f"{type(model).__name__} has no Wiener post-filter")
    if wiener_iterations is None or not hasattr(model, "wiener_iterations"):
        return _separate(audio, sample_rate, model, **kwargs)
    trained, model.wiener_iterations = model.wiener_iterations, int(wiener_iterations)
    try:  # for this call only: the caller's model keeps its own setting
        return _separate(audio, sample_rate, model, **kwargs)
    finally:
        model.wiener_iterations = trained


def run_stamp(env=None) -> str:
    """The name of a run's output folder: ``slurm-<job>.<step>`` inside a multi-task SLURM step,
    otherwise the local time and the process id (``%Y-%m-%d_%H-%M-%S_<pid>``): runs started in
    the same second (a loop of background jobs, a job array) get folders of their own instead
    of sharing one (their checkpoints and logs mixed).

    Every task of ``srun python train.py ...`` composes its own config; with a timestamp, tasks
    that start a second apart would write their Hydra files and logs into different folders.
    The job and step ids are the same for all of them and differ between sruns of one job.
    """
    import datetime
    import os

    env = os.environ if env is None else env
    job, step = env.get("SLURM_JOB_ID"), env.get("SLURM_STEP_ID")
    if job and step and int(env.get("SLURM_STEP_NUM_TASKS", "1") or 1) > 1:
        return f"slurm-{job}.{step}"
    return f"{datetime.datetime.now():%Y-%m-%d_%H-%M-%S}_{os.getpid()}"


def _register_resolvers() -> None:
    """OmegaConf resolvers the configs use (``${div:a,b}``, ``${run_stamp:}``); a no-op without omegaconf."""
    try:
        from omegaconf import OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a dependency, but keep import light
        return
    if not OmegaConf.has_resolver("div"):
        OmegaConf.register_new_resolver("div", lambda a, b: a / b)
    if not OmegaConf.has_resolver("run_stamp"):
        OmegaConf.register_new_resolver("run_stamp", run_stamp, use_cache=True)


_register_resolvers()
