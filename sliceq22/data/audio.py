"""Reading and writing audio files at the boundary, with errors that say what is wrong."""

from __future__ import annotations

import os

import numpy as np
import soundfile as sf
import torch


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


def save_audio(path: str, audio: torch.Tensor, sample_rate: float, overwrite: bool = False) -> None:
    """Write ``(channels, samples)`` as a float32 wav; never replaces a file unless asked to.

    Raises:
        ValueError: ``path`` exists and ``overwrite`` is false.
    """
    if os.path.exists(path) and not overwrite:
        raise ValueError(f"{path} exists: refusing to overwrite it (choose another output or pass overwrite=true)")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    sf.write(path, audio.detach().cpu().double().numpy().T, int(sample_rate), subtype="FLOAT")
