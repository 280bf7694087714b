"""Checkpoint inference: separation with a demixing checkpoint, reconstruction with a de-overlap one.

``python infer.py ckpt=outputs/demix/.../last.ckpt input=song.wav [output=separated]``
writes ``separated/song/{drums,bass,other,vocals}.wav`` (a folder of files works too);
``python infer.py ckpt=outputs/deoverlap/.../last.ckpt input=song.wav output=song.deoverlap.wav``
reconstructs through sliCQT -> overlap-add -> network -> inverse.

The checkpoint is loaded with ``torch.load(weights_only=True)``; the model is rebuilt from the
resolved config stored in it, so no training config is needed. That config names the classes
to build (``_target_``), so a checkpoint could name any importable callable: only torch
modules, optimizers and learning-rate schedulers *defined* under ``sliceq22.`` and
``torch.optim.`` are built (the target is resolved through trusted modules only, so
``sliceq22.some_module.shutil.copyfile`` is refused), plus anything under the prefixes listed
in the environment variable ``SLICEQ22_TRUSTED_TARGETS`` (comma-separated, e.g.
``mylab.models.``) for models of your own. The reconstruction uses the
true slice phase (the de-overlap's own quality, as in training); the SNR of the network and of
the re-blur baseline are printed.
"""

from __future__ import annotations

import logging
import os

import torch
from hydra.utils import instantiate

from sliceq22.data.audio import ensure_writable_folder, list_entries, load_audio, save_audio
from sliceq22.device import resolve_device
from sliceq22.lit.deoverlap import CONFIG_KEY, DeOverlapModule, snr_db
from sliceq22.models.deoverlap import analytic_deoverlap

log = logging.getLogger(__name__)


def load_deoverlap(ckpt: str, device: str = "cpu") -> DeOverlapModule:
    """Rebuild a trained :class:`DeOverlapModule` from a checkpoint (weights only, no pickles)."""
    module = _load_module(ckpt, device)
    if not isinstance(module, DeOverlapModule):
        raise ValueError(f"{ckpt} holds a {type(module).__name__}, not a de-overlap model")
    return module


def deoverlap_file(ckpt: str, input: str, output: str | None = None, overwrite: bool = False, device: str = "cpu") -> dict:
    """De-overlap one file and write the reconstruction; returns the SNRs in dB."""
    import soundfile as sf

    device = resolve_device(device)
    if os.path.isdir(input):
        raise ValueError(f"{input} is a folder: a de-overlap checkpoint reconstructs one file (input=song.wav)")
    module = load_deoverlap(ckpt, device)
    t = module.transform
    if os.path.isfile(input):  # load_audio's own message suggests a config key infer.py does not have
        try:
            rate = sf.info(input).samplerate
        except Exception as exc:  # soundfile's own error types
            raise ValueError(f"cannot read {input} as audio: {exc}") from exc
        if rate != t.sample_rate:
            raise ValueError(f"{input} is sampled at {rate} Hz; this checkpoint's sliCQT runs at {t.sample_rate:g} Hz: resample the file first")
    x = load_audio(input, t.sample_rate).float().to(device)
    if output is None:
        output = os.path.splitext(input)[0] + ".deoverlap.wav"
    elif os.path.isdir(output):  # a folder: the file goes inside it
        output = os.path.join(output, os.path.splitext(os.path.basename(input))[0] + ".deoverlap.wav")
    fmt = os.path.splitext(output)[1].lstrip(".").upper() or "NONE"
    if fmt == "AIF":
        fmt = "AIFF"
    if not sf.check_format(fmt):
        raise ValueError(f"output={output} needs an audio file extension (.wav, .flac): it names the reconstruction")
    # float where the format holds it (wav, aiff), else 24-bit PCM (flac) or the format's own codec (ogg)
    subtype = next((st for st in ("FLOAT", "PCM_24", "VORBIS", "MPEG_LAYER_III") if sf.check_format(fmt, st)), None)
    if subtype is None:
        raise ValueError(f"output={output}: soundfile cannot write {fmt} files here; use .wav or .flac")
    if os.path.realpath(output) == os.path.realpath(input):
        raise ValueError(f"output {output} is the input file: choose another output (the input is never overwritten)")
    if os.path.exists(output) and not overwrite:  # fail before the work, not after
        raise ValueError(f"{output} exists: refusing to overwrite it (choose another output or pass overwrite=true)")
    ensure_writable_folder(os.path.dirname(os.path.abspath(output)))
    with torch.no_grad():
        C, ola = module.analyse(x)
        y = module.reconstruct(module(ola), C, x.shape[-1], "true")
        base = module.reconstruct(analytic_deoverlap(module.geometry, ola, "reblur"), C, x.shape[-1], "true")
    result = {"snr_db": float(snr_db(x[None], y[None])), "baseline_snr_db": float(snr_db(x[None], base[None]))}
    clipped = save_audio(output, y, t.sample_rate, overwrite=overwrite, subtype=subtype)
    if clipped:
        log.warning("%s: %d samples clipped to [-1, 1] for %s (a .wav keeps them as float)", output, clipped, subtype)
    log.debug("%s -> %s: SNR %.2f dB (re-blur baseline %.2f dB)", input, output, result["snr_db"], result["baseline_snr_db"])
    print(f"SNR {result['snr_db']:.2f} dB (re-blur baseline {result['baseline_snr_db']:.2f} dB) -> {output}")
    return result


AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif")


def _read_checkpoint(ckpt: str) -> dict:
    ckpt = os.fspath(ckpt)
    if not os.path.isfile(ckpt):
        raise ValueError(f"checkpoint not found: {ckpt}")
    try:
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch's own advice (weights_only=False, allow-listing) is the unsafe one
        import re

        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
        unpickler = re.search(r"GLOBAL (\S+)", text)
        if unpickler:
            first = f"it pickles the object {unpickler.group(1)}, which is never unpickled here (arbitrary code)"
        elif "Weights only load failed" in text:
            found = re.search(r"WeightsUnpickler error: ([^\n]*?)(?:\. |\n|$)", text)
            first = found.group(1) if found else "it holds objects other than tensors and plain data"
        else:
            first = text.splitlines()[0].split(". ")[0] if text else type(exc).__name__
        raise ValueError(
            f"cannot read {ckpt} as a sliceq22 checkpoint (truncated, not a torch file, or it holds "
            f"objects other than tensors and plain data): {first}"
        ) from exc
    if not isinstance(state, dict):
        raise ValueError(f"{ckpt} holds a {type(state).__name__}, not a checkpoint (a dict written by train.py)")
    return state


TRUSTED_TARGETS = ("sliceq22.", "torch.optim.")


def _trusted_target(target) -> bool:
    """Whether ``target`` names a torch module, optimizer or LR scheduler class defined in a
    trusted package, reached through trusted modules only (a prefix test alone let
    ``sliceq22.data.render.shutil.copyfile`` through: any module a sliceq22 file imports)."""
    import importlib
    import inspect
    import re
    import types

    if not isinstance(target, str) or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", target):
        return False
    if not target.startswith(TRUSTED_TARGETS):
        return False

    def trusted(name: str) -> bool:
        return (name + ".").startswith(TRUSTED_TARGETS)

    parts = target.split(".")
    obj, rest = None, []
    for i in range(len(parts) - 1, 0, -1):  # the longest trusted module the path starts with
        name = ".".join(parts[:i])
        if not trusted(name):
            return False
        try:
            obj, rest = importlib.import_module(name), parts[i:]
            break
        except ImportError:
            continue
    if obj is None:
        return False
    for part in rest:
        obj = getattr(obj, part, None)
        if obj is None or (isinstance(obj, types.ModuleType) and not trusted(obj.__name__)):
            return False
    from torch.optim.lr_scheduler import LRScheduler

    return (inspect.isclass(obj) and trusted(obj.__module__)
            and issubclass(obj, (torch.nn.Module, torch.optim.Optimizer, LRScheduler)))


def _check_targets(config, ckpt: str) -> None:
    """Refuse a checkpoint config that would build anything outside the trusted packages."""
    extra = tuple(p.strip() for p in os.environ.get("SLICEQ22_TRUSTED_TARGETS", "").split(",") if p.strip())
    found, stack = [], [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            target = node.get("_target_")
            user = bool(extra) and isinstance(target, str) and target.startswith(extra)
            if target is not None and not user and not _trusted_target(target):
                found.append(repr(target))
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    if found:
        raise ValueError(
            f"{ckpt} asks to build {', '.join(sorted(set(found)))}, not a model, optimizer or scheduler class of "
            f"{', '.join(TRUSTED_TARGETS)}: not loaded "
            f"(a checkpoint's config can name any callable). If you trust this file and it uses your own "
            f"classes, list their package in SLICEQ22_TRUSTED_TARGETS, e.g. SLICEQ22_TRUSTED_TARGETS=mylab."
        )


def _load_module(ckpt: str, device: str = "cpu", state: dict | None = None):
    state = _read_checkpoint(ckpt) if state is None else state
    if not isinstance(state.get(CONFIG_KEY), dict) or not isinstance(state[CONFIG_KEY].get("model"), dict):
        raise ValueError(f"{ckpt} carries no sliceq22 config: was it written by `python train.py experiment=...`?")
    _check_targets(state[CONFIG_KEY]["model"], ckpt)
    module = instantiate(state[CONFIG_KEY]["model"])
    try:
        module.load_state_dict(state["state_dict"])
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{ckpt}: its weights do not match the model its config builds ({first}); "
                         f"was the file edited or written by another version?") from exc
    return module.to(resolve_device(device)).eval()


def load_separator(ckpt: str, device: str = "cpu", wiener_iterations: int | None = None):
    """The separator inside a demixing checkpoint (weights only, rebuilt from its config; a
    checkpoint written on a GPU loads on the CPU); ``wiener_iterations`` overrides the
    post-filter's EM steps."""
    from sliceq22.lit.demix import DemixModule

    module = _load_module(ckpt, device)
    if not isinstance(module, DemixModule):
        raise ValueError(f"{ckpt} holds a {type(module).__name__}, not a demixing model (experiment=demix)")
    from sliceq22.options import check_number

    check_number("wiener_iterations", wiener_iterations, at_least=0, integer=True, optional=True, hint=": as trained")
    if wiener_iterations is not None:
        if not hasattr(module.model, "wiener_iterations"):
            if int(wiener_iterations) > 0:
                raise ValueError(f"{type(module.model).__name__} has no Wiener post-filter (its targets live in different transforms)")
        else:
            module.model.wiener_iterations = int(wiener_iterations)
    return module.model


def _inputs(input: str) -> list[str]:
    if os.path.isdir(input):
        files = [os.path.join(input, f) for f in list_entries(input, "file", AUDIO_EXTENSIONS)]
        if not files:
            raise ValueError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) in {input}")
        return files
    if not os.path.isfile(input):
        raise ValueError(f"input not found: {input}")
    return [input]


def _read_any(path: str) -> tuple[torch.Tensor, int]:
    """Any soundfile-readable file as float64 ``(channels, samples)`` with its rate."""
    import soundfile as sf

    try:
        info = sf.info(path)
        data, rate = sf.read(path, dtype="float64", always_2d=True)
    except Exception as exc:  # soundfile raises its own error types for corrupt files
        raise ValueError(f"cannot read {path} as audio: {exc}") from exc
    if data.size == 0 or info.frames == 0:
        raise ValueError(f"{path} holds no audio samples")
    if not torch.isfinite(torch.from_numpy(data)).all():
        raise ValueError(f"{path} contains NaN or infinite samples")
    return torch.from_numpy(data.T.copy()), rate


def song_name(path: str) -> str:
    """The stem folder's name for an input: its file name without extension, or for a MUSDB
    layout's ``<track>/mixture.wav`` the track folder's name."""
    song = os.path.splitext(os.path.basename(path))[0]
    if song == "mixture":
        parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
        return parent or song
    return song


def plan_outputs(files: list[str], output: str, targets, overwrite: bool = False, channels: int = 2) -> list[tuple[str, dict[str, str]]]:
    """Check a batch before any work: ``[(input, {target: stem path}), ...]`` or one error listing
    every problem (unreadable, empty or non-finite inputs; more channels than the model takes;
    two inputs that would write the same stems, e.g. ``song.wav`` and ``song.flac``; stems that
    exist without ``overwrite``; a stem path that is one of the inputs; an output that is a
    file)."""
    problems, plans, owner = [], [], {}
    if os.path.exists(output) and not os.path.isdir(output):
        problems.append(f"output={output} is a file: the stems go into a folder <output>/<song>/, give a folder")
    inputs = {os.path.realpath(f) for f in files}
    for f in files:
        try:
            audio, _ = _read_any(f)  # read once to check: a bad file late in a batch must not stop it half-way
            if audio.shape[0] not in (1, channels):
                problems.append(f"{f} has {audio.shape[0]} channels; the model separates mono or {channels}-channel audio: downmix it first")
        except ValueError as exc:
            problems.append(str(exc))
        folder = os.path.join(output, song_name(f))
        if folder in owner:
            problems.append(f"{owner[folder]} and {f} would both write {folder}/: rename one of them or separate them in two runs")
        owner.setdefault(folder, f)
        paths = {t: os.path.join(folder, f"{t}.wav") for t in targets}
        existing = [p for p in paths.values() if os.path.exists(p)]
        if existing and not overwrite:
            problems.append(f"{existing[0]} exists: refusing to overwrite (pass overwrite=true or choose another output)")
        problems += [f"stem path {p} is an input file: choose another output" for p in paths.values() if os.path.realpath(p) in inputs]
        plans.append((f, paths))
    if problems:
        raise ValueError(f"nothing was written; {len(problems)} problem(s) with this batch:\n  " + "\n  ".join(problems))
    ensure_writable_folder(output)  # a read-only or impossible folder fails now, not after the first song's work
    return plans


def separate_files(
    ckpt: str,
    input: str,
    output: str | None = None,
    overwrite: bool = False,
    device: str = "cpu",
    chunk_seconds: float = 30.0,
    progress: bool = True,
    subtype: str = "float",
    wiener_iterations: int | None = None,
) -> list[str]:
    """Separate a file or a folder of files into ``<output>/<song>/<target>.wav``.

    Every input is read and checked and every output path is checked before any work
    (:func:`plan_outputs`: one error lists every problem); stems are written to temporary
    names and renamed once all of a song's stems exist, so an error never leaves partial
    outputs. Mono files give mono stems, other rates are resampled and restored. ``subtype``:
    ``float`` (32-bit float wav, the default: nothing clips), ``pcm16``, ``pcm24``, or ``input``
    (each input's own bit depth when it is 16/24-bit PCM); PCM stems are clipped to [-1, 1]
    with a warning naming the file. ``wiener_iterations`` overrides the post-filter's EM steps
    (``None``: as trained).
    """
    from sliceq22.data.audio import output_subtype
    from sliceq22.separator import separate

    if subtype != "input":
        output_subtype(subtype)  # an unknown choice fails before any work
    device = resolve_device(device)
    model = load_separator(ckpt, device, wiener_iterations)
    output = output or "separated"
    plans = plan_outputs(_inputs(input), output, model.targets, overwrite, model.channels)
    written = []
    for f, paths in plans:
        audio, rate = _read_any(f)
        stems = separate(audio, rate, model, chunk_seconds=chunk_seconds, device=device, progress=progress)
        tmp = {t: p + ".partial.wav" for t, p in paths.items()}
        try:
            fmt = output_subtype(subtype, f)
            for t, p in tmp.items():
                clipped = save_audio(p, stems[t], rate, overwrite=True, subtype=fmt)
                if clipped:
                    log.warning("%s: %d samples clipped to [-1, 1] for %s (subtype=float keeps them)", paths[t], clipped, fmt)
            for t, p in paths.items():
                os.replace(tmp[t], p)
        finally:
            for p in tmp.values():
                if os.path.exists(p):
                    os.remove(p)
        log.info("%s -> %s", f, os.path.dirname(next(iter(paths.values()))))
        written += list(paths.values())
    print(f"wrote {len(written)} stems for {len(plans)} file(s) under {output}")
    return written


def run(ckpt: str, input: str, output: str | None = None, overwrite: bool = False, device: str = "cpu", chunk_seconds: float = 30.0,
        subtype: str = "float", wiener_iterations: int | None = None):
    """``infer.py``'s job: separate with a demixing checkpoint, or reconstruct with a de-overlap one."""
    from sliceq22.lit.demix import DemixModule

    _check_options(overwrite, chunk_seconds, subtype, wiener_iterations)
    device = resolve_device(device)  # a device this machine lacks fails before the checkpoint is read
    state = _read_checkpoint(ckpt)
    config = state.get(CONFIG_KEY)
    model = config.get("model") if isinstance(config, dict) else None
    target = model.get("_target_", "") if isinstance(model, dict) else ""
    if target.endswith(DemixModule.__name__):
        return separate_files(ckpt, input, output, overwrite, device, chunk_seconds, subtype=subtype, wiener_iterations=wiener_iterations)
    ignored = [k for k, v, default in (("subtype", subtype, "float"), ("wiener_iterations", wiener_iterations, None)) if v != default]
    if ignored:
        log.warning("%s: de-overlap checkpoints write float wavs and have no post-filter; ignoring %s", ckpt, ", ".join(ignored))
    return deoverlap_file(ckpt, input, output, overwrite, device)


def _check_options(overwrite, chunk_seconds, subtype, wiener_iterations) -> None:
    """infer.py's options, checked before any work (Hydra passes ``overwrite=no`` as a string)."""
    from sliceq22.options import check_flag, check_number

    check_flag("overwrite", overwrite)
    check_number("chunk_seconds", chunk_seconds, at_least=1.0, hint=" seconds (default 30)")
    if not isinstance(subtype, str):
        raise ValueError(f"subtype must be float, pcm16, pcm24 or input, got {subtype!r}")
    check_number("wiener_iterations", wiener_iterations, at_least=0, integer=True, optional=True, hint=": as trained")
