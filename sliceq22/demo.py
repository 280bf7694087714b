"""The transform tour (``python train.py experiment=slicqt_demo``): what the sliCQT does to music.

Analyses a stereo excerpt with the configured transform and the STFT control, checks perfect
reconstruction in float32 and float64, times analysis and synthesis of both, and draws the
rasterized sliCQT against the STFT. Results go to ``summary.json`` and ``slicqt_vs_stft.png``.
"""

from __future__ import annotations

import json
import logging
import os
import time

import numpy as np
import torch

from sliceq22.data.audio import load_audio
from sliceq22.data.synth import synth_mixture
from sliceq22.eval.plots import plot_slicqt_vs_stft
from sliceq22.transforms import STFT, SliCQT

log = logging.getLogger(__name__)


def _median_time(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _rel_db(y: torch.Tensor, x: torch.Tensor) -> float:
    return float(20 * torch.log10((y.double() - x.double()).norm() / x.double().norm()))


def transform_demo(
    transform: SliCQT,
    control: STFT,
    output_dir: str,
    audio: str | None = None,
    seconds: float = 10.0,
    seed: int = 0,
) -> dict:
    """Run the tour and write its outputs.

    Args:
        transform: the sliCQT to show.
        control: the STFT to compare with.
        output_dir: directory for ``summary.json`` and ``slicqt_vs_stft.png``.
        audio: a wav file, or ``None`` for the built-in synthetic song.
        seconds: excerpt length.
        seed: seed of the synthetic song.

    Returns:
        The summary dict (also written as JSON).
    """
    if not isinstance(transform, SliCQT):
        raise ValueError(f"the transform tour shows a sliCQT (transform=slicqt_*), got {type(transform).__name__}; "
                         f"it draws the STFT control itself")
    os.makedirs(output_dir, exist_ok=True)
    sr = transform.sample_rate
    if audio is None:
        x = torch.from_numpy(synth_mixture(seconds, int(sr), seed))
        source = f"synthetic song (seed {seed})"
    else:
        x = load_audio(audio, sr, seconds)
        source = os.path.basename(audio)
    length = x.shape[-1]

    summary = {"source": source, "seconds": length / sr, "channels": x.shape[0], "transform": repr(transform)}
    for dtype in (torch.float64, torch.float32):
        xd = x.to(dtype)
        C = transform(xd)
        summary[f"reconstruction_db_{str(dtype).split('.')[-1]}"] = _rel_db(transform.inverse(C, length), x)
    x32 = x.float()
    C = transform(x32)
    S = control(x32)
    summary["timing_s"] = {
        "slicqt_forward": _median_time(lambda: transform(x32)),
        "slicqt_inverse": _median_time(lambda: transform.inverse(C, length)),
        "stft_forward": _median_time(lambda: control(x32)),
        "stft_inverse": _median_time(lambda: control.inverse(S, length)),
    }
    summary["slicqt"] = {
        "bins": transform.num_bins,
        "slices": C.num_slices,
        "groups": [list(g) for g in transform.layout],
        "slice_len": transform.slice_len,
        "trans_len": transform.trans_len,
        "coefficients": int(sum(b.numel() for b in C.blocks)),
        "stft_coefficients": int(S.numel()),
    }
    raster = transform.overlap_add(C.rasterize())
    # the overlap-added raster starts half a slice before the signal: crop to the signal span
    frames_per_sample = transform.max_slice_len / transform.slice_len
    start = int(round(transform.slice_len / 2 * frames_per_sample))
    raster = raster[..., start : start + int(round(length * frames_per_sample))]
    plot_slicqt_vs_stft(
        raster[0],
        transform.frequencies,
        S[0],
        control.frequencies,
        duration=length / sr,
        title=f"{source}, left channel: {transform.scale_name} sliCQT vs STFT {control.n_fft}/{control.hop_length}",
        path=os.path.join(output_dir, "slicqt_vs_stft.png"),
    )
    with open(os.path.join(output_dir, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    for key in ("reconstruction_db_float64", "reconstruction_db_float32"):
        log.info("%s: %.1f dB", key, summary[key])
    log.info("timings (s): %s", summary["timing_s"])
    log.info("wrote %s", output_dir)
    return summary
