"""sliceq22: music source separation research on the sliced constant-Q transform."""

__version__ = "0.1.0"


def separate(audio, sample_rate, model, **kwargs):
    """Separate ``audio (channels, samples)`` at ``sample_rate`` with ``model`` (a separator, or
    a checkpoint path): ``{target: (channels, samples)}``. See :func:`sliceq22.separator.separate`."""
    from sliceq22.separator import separate as _separate

    if isinstance(model, str):
        from sliceq22.lit.infer import load_separator

        model = load_separator(model)
    return _separate(audio, sample_rate, model, **kwargs)


def _register_resolvers() -> None:
    """OmegaConf resolvers the configs use (``${div:a,b}``); a no-op without omegaconf."""
    try:
        from omegaconf import OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a dependency, but keep import light
        return
    if not OmegaConf.has_resolver("div"):
        OmegaConf.register_new_resolver("div", lambda a, b: a / b)


_register_resolvers()
