"""Reading and writing audio files at the boundary, with errors that say what is wrong."""

from __future__ import annotations

import os

import numpy as np
import soundfile as sf
import torch


def list_entries(folder: str, kind: str = "any", extensions: tuple[str, ...] | None = None) -> list[str]:
    """Sorted names in ``folder`` that a user put there: hidden entries are skipped (macOS
    leaves ``._song.wav`` resource forks beside copied files, notebooks ``.ipynb_checkpoints``).

    Args:
        kind: ``"any"``, ``"dir"`` (folders only) or ``"file"`` (files only).
        extensions: keep only names ending with one of these (case-insensitive).
    """
    keep = {"any": lambda p: True, "dir": os.path.isdir, "file": os.path.isfile}[kind]
    names = [n for n in os.listdir(folder) if not n.startswith(".") and keep(os.path.join(folder, n))]
    if extensions is not None:
        names = [n for n in names if n.lower().endswith(tuple(extensions))]
    return sorted(names)


def load_audio(path: str, sample_rate: float, seconds: float | None = None) -> torch.Tensor:
    """Read a wav/flac file as float64 ``(channels, samples)``; refuse a wrong sample rate.

    Raises:
        ValueError: missing/empty file, NaN/inf samples, or a sample rate other than expected.
    """
    if not os.path.isfile(path):
        raise ValueError(f"audio file not found: {path}")
    info = sf.info(path)
    if info.samplerate != sample_rate:
        raise ValueError(
            f"{path} is sampled at {info.samplerate} Hz but the transform expects {sample_rate:g} Hz: "
            f"resample the file or set sample_rate={info.samplerate}"
        )
    frames = -1 if seconds is None else int(seconds * info.samplerate)
    data, _ = sf.read(path, frames=frames, dtype="float64", always_2d=True)
    if data.size == 0:
        raise ValueError(f"{path} holds no audio samples")
    if not np.isfinite(data).all():
        raise ValueError(f"{path} contains NaN or infinite samples")
    return torch.from_numpy(data.T.copy())


SUBTYPES = {"float": "FLOAT", "pcm16": "PCM_16", "pcm24": "PCM_24"}


def output_subtype(choice: str, input_path: str | None = None) -> str:
    """The soundfile subtype for ``choice``: ``float`` (32-bit float, never clips), ``pcm16``,
    ``pcm24``, or ``input`` (the input file's bit depth when it is 16/24-bit PCM, else float).

    Raises:
        ValueError: an unknown choice.
    """
    if choice == "input":
        if input_path is None:
            raise ValueError("subtype='input' needs the input file")
        return {"PCM_16": "PCM_16", "PCM_24": "PCM_24"}.get(sf.info(input_path).subtype, "FLOAT")
    if choice not in SUBTYPES:
        raise ValueError(f"unknown output subtype {choice!r}; choose one of {', '.join([*SUBTYPES, 'input'])}")
    return SUBTYPES[choice]


def ensure_writable_folder(folder: str, what: str = "output") -> None:
    """Create ``folder`` if needed and check a file can be written in it, before any long work.

    Raises:
        ValueError: naming the path: a part of it is a file, the folder cannot be created, or
            nothing can be written in it (read-only, a virtual file system such as ``/proc``).
    """
    import tempfile

    try:
        os.makedirs(folder or ".", exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder or ".", prefix=".sliceq22-probe-"):
            pass
    except OSError as exc:
        raise ValueError(f"{what}={folder}: cannot write there ({exc.strerror or exc}); choose another folder") from exc


def save_audio(path: str, audio: torch.Tensor, sample_rate: float, overwrite: bool = False, subtype: str = "FLOAT") -> int:
    """Write ``(channels, samples)`` as a wav (float32 unless ``subtype`` says otherwise);
    never replaces a file unless asked to.

    Returns:
        The number of samples clipped to [-1, 1] (PCM subtypes only; float keeps everything).

    Raises:
        ValueError: ``path`` exists and ``overwrite`` is false.
    """
    if os.path.exists(path) and not overwrite:
        raise ValueError(f"{path} exists: refusing to overwrite it (choose another output or pass overwrite=true)")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    data = audio.detach().cpu().double().numpy().T
    clipped = 0
    if subtype.startswith("PCM"):
        clipped = int((np.abs(data) > 1.0).sum())
        data = np.clip(data, -1.0, 1.0)
    sf.write(path, data, int(sample_rate), subtype=subtype)
    return clipped
