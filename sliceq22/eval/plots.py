"""Figures: spectrograms of the sliCQT and the STFT on a shared, honest axis.

Matplotlib is imported lazily with the Agg backend, so figures can be drawn on headless
machines and from TensorBoard callbacks.
"""

from __future__ import annotations

import numpy as np
import torch


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _log_edges(f: np.ndarray) -> np.ndarray:
    """Bin edges halfway (geometrically) between centres, so uneven bins are drawn as they are."""
    mid = np.sqrt(f[1:] * f[:-1])
    return np.concatenate(([f[0] ** 2 / mid[0]], mid, [f[-1] ** 2 / mid[-1]]))


def _finish(fig, axes, title: str, path: str | None, dpi: int):
    axes[-1].set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    if path:
        fig.savefig(path, dpi=dpi)
    return fig


def log_magnitude_db(spec: torch.Tensor, floor_db: float = -100.0) -> np.ndarray:
    """``20 log10 |spec|`` normalised to 0 dB at the maximum, floored. ``(bins, frames)``."""
    mag = spec.abs().detach().double().cpu()
    db = 20 * torch.log10(mag.clamp_min(1e-20) / mag.max().clamp_min(1e-20))
    return db.clamp_min(floor_db).numpy()


def plot_slicqt_vs_stft(
    raster_ola: torch.Tensor,
    slicqt_freqs: torch.Tensor,
    stft: torch.Tensor,
    stft_freqs: torch.Tensor,
    duration: float,
    title: str = "",
    path: str | None = None,
):
    """Rasterized (overlap-added) sliCQT above the STFT of the same audio, log-frequency axes.

    Args:
        raster_ola: ``(bins, frames)`` overlap-added rasterized sliCQT (one channel).
        slicqt_freqs: ``(bins,)`` bin centres in Hz (DC first).
        stft: ``(bins, frames)`` STFT of the same channel.
        stft_freqs: ``(bins,)`` STFT bin frequencies in Hz.
        duration: seconds covered, for the time axis.
        title: suptitle.
        path: where to save a PNG (the figure is returned either way).

    Returns:
        The matplotlib figure.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(11, 7.5), constrained_layout=True)
    panels = [
        (raster_ola, slicqt_freqs, "sliCQT (rasterized, overlap-added)"),
        (stft, stft_freqs, "STFT"),
    ]
    for ax, (spec, freqs, name) in zip(axes, panels):
        db = log_magnitude_db(spec)
        f = freqs.detach().double().cpu().numpy()
        keep = f > 0  # DC has no place on a log axis
        t = np.linspace(0, duration, db.shape[-1] + 1)
        fc = f[keep]
        edges = _log_edges(fc)
        mesh = ax.pcolormesh(t, edges, db[keep], shading="flat", cmap="magma", vmin=-90, vmax=0, rasterized=True)
        ax.set_yscale("log")
        ax.set_ylim(max(fc[0], 20.0), fc[-1])
        ax.set_ylabel("frequency (Hz)")
        ax.set_title(f"{name}: {db.shape[0]} bins x {db.shape[1]} frames")
        fig.colorbar(mesh, ax=ax, label="dB")
    return _finish(fig, axes, title, path, dpi=110)


def plot_mixture_and_stems(
    tracks: dict[str, torch.Tensor],
    transform,
    title: str = "",
    path: str | None = None,
):
    """Rasterized sliCQT of a mixture and its stems, one row each (left channel).

    Args:
        tracks: ``{"mixture": (channels, samples), "drums": ..., ...}`` on one sample grid.
        transform: a :class:`~sliceq22.transforms.SliCQT` at the audio's sample rate.
        title: suptitle.
        path: where to save a PNG.

    Returns:
        The matplotlib figure.
    """
    plt = _pyplot()
    names = list(tracks)
    fig, axes = plt.subplots(len(names), 1, figsize=(11, 2.2 * len(names)), sharex=True, constrained_layout=True)
    ref = None
    length = next(iter(tracks.values())).shape[-1]
    duration = length / transform.sample_rate
    f = transform.frequencies.double().cpu().numpy()[1:]
    edges = _log_edges(f)
    for ax, name in zip(axes, names):
        spec = transform.overlap_add(transform(tracks[name][0].double()).rasterize())
        scale = 20 * np.log10(max(spec.abs().max().item(), 1e-12))
        ref = scale if ref is None else ref  # all rows in dB relative to the mixture's peak
        db = (log_magnitude_db(spec) + scale - ref)[1:]
        t = np.linspace(-transform.slice_len / 2 / transform.sample_rate, duration + transform.slice_len / 2 / transform.sample_rate, db.shape[-1] + 1)
        mesh = ax.pcolormesh(t, edges, np.maximum(db, -90), shading="flat", cmap="magma", vmin=-90, vmax=0, rasterized=True)
        ax.set_yscale("log")
        ax.set_ylim(max(f[0], 30.0), f[-1])
        ax.set_xlim(0, duration)
        ax.set_ylabel("Hz")
        ax.set_title(name, loc="left", fontsize=10)
    fig.colorbar(mesh, ax=axes, label="dB re mixture peak", shrink=0.6)
    return _finish(fig, axes, title, path, dpi=100)


def plot_score_boxes(per_track: dict, metric: str = "SDR", title: str = "", path: str | None = None, dpi: int = 120):
    """SiSEC-2018-style boxplots: one panel per target, one box per method, of track medians.

    Args:
        per_track: ``{method: {target: [median of metric over windows, one per track]}}``.
        metric: axis label (the values are already that metric's track medians, in dB).
    Methods are ordered by their median over all targets, best at the top of each panel.
    """
    plt = _pyplot()
    targets: list[str] = []
    for res in per_track.values():
        targets += [t for t in res if t not in targets]
    def overall(m):
        vals = [v for t in per_track[m].values() for v in t if np.isfinite(v)]
        return np.median(vals) if vals else -np.inf

    methods = sorted(per_track, key=overall)
    fig, axes = plt.subplots(1, len(targets), figsize=(3.2 * len(targets) + 1.5, 0.45 * len(methods) + 1.6), sharey=True, squeeze=False)
    for ax, target in zip(axes[0], targets):
        data = [[v for v in per_track[m].get(target, []) if np.isfinite(v)] for m in methods]
        style = {"widths": 0.6, "medianprops": {"color": "k"}, "flierprops": {"markersize": 3}}
        try:
            ax.boxplot(data, orientation="horizontal", **style)
        except TypeError:  # matplotlib < 3.10
            ax.boxplot(data, vert=False, **style)
        ax.set_title(target)
        ax.set_xlabel(f"{metric} (dB)")
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(range(1, len(methods) + 1), methods)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=dpi)
    return fig
