"""Per-track scores in museval's JSON format, and their aggregation as SigSep and MDX report it.

A :class:`TrackScores` holds the per-window metrics of one track, writes and reads exactly the
JSON ``museval`` writes (``{"targets": [{"name", "frames": [{"time", "duration", "metrics"}]}]}``,
values quantised to 5 decimals, +inf stored as NaN), so results from either tool can be mixed.

Aggregation:
- SigSep / SiSEC 2018 (museval ``EvalStore``): median over a track's windows (NaN skipped),
  then median over tracks, per target and metric (:func:`aggregate`);
- MDX (Music Demixing Challenge): one SDR per target over the whole track without windows or
  filters (:func:`sliceq22.eval.bsseval.sdr_mdx`), averaged over tracks (:func:`aggregate_mdx`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch import Tensor

from sliceq22 import __version__
from sliceq22.eval.bsseval import _pad_or_truncate, bss_eval, sdr_mdx

METRICS = ("SDR", "SIR", "ISR", "SAR")  # museval's order in JSON frames


def _quantise(x: float) -> float:
    """museval ``TrackStore._q``: +-inf becomes NaN, finite values rounded to 5 decimals."""
    if math.isinf(x) or math.isnan(x):
        return math.nan
    return round(float(x), 5)


class TrackScores:
    """Per-window BSS Eval scores of one track, museval-JSON compatible.

    Args:
        track_name: the track's name (its folder name in a MUSDB layout).
        win, hop: window and hop in seconds (museval: 1.0 each), stored in every frame.
    """

    def __init__(self, track_name: str, win: float = 1.0, hop: float = 1.0):
        self.track_name = track_name
        self.win, self.hop = float(win), float(hop)
        self.targets: dict[str, dict[str, list[float]]] = {}
        self.mdx: dict[str, float] = {}

    def add_target(self, name: str, values: Mapping[str, Iterable[float]], mdx_sdr: float | None = None) -> None:
        """Add one target's per-window ``{"SDR": [...], "SIR": [...], "ISR": [...], "SAR": [...]}``."""
        missing = [m for m in METRICS if m not in values]
        if missing:
            raise ValueError(f"target {name!r} lacks metrics {missing}")
        lists = {m: [_quantise(v) for v in np.asarray(values[m], dtype=float).ravel()] for m in METRICS}
        if len({len(v) for v in lists.values()}) != 1:
            raise ValueError(f"target {name!r}: metrics have different numbers of windows")
        self.targets[name] = lists
        if mdx_sdr is not None:
            self.mdx[name] = float(mdx_sdr)

    def to_dict(self) -> dict:
        """The museval JSON document (plus ``mdx_sdr`` per target when computed)."""
        targets = []
        for name, vals in self.targets.items():
            frames = [
                {"time": i * self.hop, "duration": self.win, "metrics": {m: vals[m][i] for m in METRICS}}
                for i in range(len(vals["SDR"]))
            ]
            entry = {"name": name, "frames": frames}
            if name in self.mdx:
                entry["mdx_sdr"] = round(self.mdx[name], 5)
            targets.append(entry)
        return {"targets": targets, "museval_version": f"sliceq22-{__version__} (BSS Eval v4, museval-exact)"}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=True)

    def save(self, path: str, overwrite: bool = False) -> None:
        """Write the JSON to ``path`` (parents created); refuses to replace a file unless asked."""
        if os.path.exists(path) and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{path}.tmp"
        with open(tmp, "w") as fh:
            fh.write(self.to_json())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> "TrackScores":
        """Read a JSON written by museval or by :meth:`save`."""
        with open(path) as fh:
            doc = json.load(fh)
        if "targets" not in doc:
            raise ValueError(f"{path} is not a museval score file (no 'targets')")
        frames0 = next((t["frames"] for t in doc["targets"] if t["frames"]), [])
        hop = frames0[1]["time"] - frames0[0]["time"] if len(frames0) > 1 else 1.0
        win = frames0[0]["duration"] if frames0 else 1.0
        name = os.path.splitext(os.path.basename(path))[0]
        scores = cls(name, win=win, hop=hop)
        for t in doc["targets"]:
            vals = {m: [math.nan if f["metrics"][m] is None else f["metrics"][m] for f in t["frames"]] for m in METRICS}
            scores.add_target(t["name"], vals, t.get("mdx_sdr"))
        return scores

    def medians(self) -> dict[str, dict[str, float]]:
        """``{target: {metric: median over windows}}``, NaN windows skipped (museval)."""
        return {name: {m: _nanmedian(v[m]) for m in METRICS} for name, v in self.targets.items()}

    def __repr__(self) -> str:
        lines = []
        for name, med in self.medians().items():
            lines.append(name.ljust(16) + "==> " + "  ".join(f"{m}:{med[m]:>8.3f}" for m in ("SDR", "SIR", "ISR", "SAR")))
        return "\n".join(lines)


def _nanmedian(values: Iterable[float]) -> float:
    a = np.asarray(list(values), dtype=float)
    a = a[~np.isnan(a)]
    return float(np.median(a)) if a.size else math.nan


def evaluate_track(
    references: Mapping[str, Tensor | np.ndarray],
    estimates: Mapping[str, Tensor | np.ndarray],
    sample_rate: int,
    track_name: str = "track",
    win: float = 1.0,
    hop: float = 1.0,
    device: str | torch.device | None = None,
) -> TrackScores:
    """Score a dict of estimates as ``museval.eval_mus_track`` does.

    Targets are taken in the order of ``references`` wherever an estimate exists; when both
    ``vocals`` and ``accompaniment`` are estimated, the pair is scored as its own two-source
    scenario and ``accompaniment`` is left out of the main one (museval's rule). At least two
    targets are needed (BSS Eval's interference terms need an "other").

    Args:
        references, estimates: ``{target: (channels, samples)}`` audio (torch or numpy).
        sample_rate: samples per second (windows are ``win * sample_rate`` samples).
    Returns:
        The track's :class:`TrackScores`, with the MDX SDR of each target beside the windows.
    """
    unknown = sorted(set(estimates) - set(references))
    if unknown:
        raise ValueError(f"estimates for unknown targets {unknown}; references hold {sorted(references)}")
    names = [t for t in references if t in estimates]
    scores = TrackScores(track_name, win=win, hop=hop)
    pair = "vocals" in names and "accompaniment" in names
    main = [t for t in names if t != "accompaniment"] if pair else names
    if len(main) < 2 and not pair:
        raise ValueError(f"BSS Eval needs at least two estimated targets, got {names}")

    def run(group: list[str], keep: list[str]) -> None:
        ref = torch.stack([torch.as_tensor(references[t]).double().T for t in group])
        ests = []
        for t in group:  # checked per target, so a message can name it
            e = torch.as_tensor(estimates[t], device=ref.device).double()
            if e.dim() != 2 or e.shape[0] != ref.shape[-1]:
                raise ValueError(f"the {t} estimate has shape {tuple(e.shape)}; its reference is ({ref.shape[-1]}, samples)")
            if not torch.isfinite(e).all():
                raise ValueError(f"the {t} estimate contains NaN or infinite samples")
            ests.append(_pad_or_truncate(e.T, ref.shape[1]))  # lengths may differ per target
        est = torch.stack(ests)
        sdr, isr, sir, sar = bss_eval(ref, est, win=int(win * sample_rate), hop=int(hop * sample_rate), device=device)
        # as BSS Eval (museval's pad_or_truncate): a short estimate is zero-padded, not the
        # reference cut to it (which ignored a missing tail and scored half an estimate +17 dB)
        mdx = sdr_mdx(ref, _pad_or_truncate(est, ref.shape[1]))
        for i, t in enumerate(group):
            if t in keep:
                values = {"SDR": sdr[i].tolist(), "ISR": isr[i].tolist(), "SIR": sir[i].tolist(), "SAR": sar[i].tolist()}
                scores.add_target(t, values, float(mdx[i]))

    if len(main) >= 2:
        run(main, [t for t in main if not (pair and t == "vocals")])
    if pair:
        run(["vocals", "accompaniment"], ["vocals", "accompaniment"])
    return scores


def aggregate(tracks: Iterable[TrackScores], frames: str = "median", over_tracks: str = "median") -> dict[str, dict[str, float]]:
    """museval ``EvalStore.agg_frames_tracks_scores``: ``{target: {metric: value}}``.

    Args:
        frames: ``"median"`` or ``"mean"`` over each track's windows (NaN skipped).
        over_tracks: ``"median"`` or ``"mean"`` over tracks.
    """
    reducers = {"median": _nanmedian, "mean": lambda v: float(np.nanmean(list(v))) if list(v) else math.nan}
    if frames not in reducers or over_tracks not in reducers:
        raise ValueError("frames and over_tracks must be 'median' or 'mean'")
    per_track: dict[str, dict[str, list[float]]] = {}
    for tr in tracks:
        for name, vals in tr.targets.items():
            for m in METRICS:
                per_track.setdefault(name, {k: [] for k in METRICS})[m].append(reducers[frames](vals[m]))
    return {name: {m: reducers[over_tracks](v[m]) for m in METRICS} for name, v in per_track.items()}


def aggregate_mdx(tracks: Iterable[TrackScores]) -> dict[str, float]:
    """MDX: mean over tracks of each target's whole-track SDR, and their ``mean`` over targets
    (MDX's mean over tracks of the per-track mean when every track has every target; with
    targets left out of some tracks it weighs targets, not tracks, equally)."""
    per: dict[str, list[float]] = {}
    for tr in tracks:
        for name, v in tr.mdx.items():
            per.setdefault(name, []).append(v)
    out = {name: float(np.mean(v)) for name, v in per.items()}
    if out:
        out["mean"] = float(np.mean([out[k] for k in per]))
    return out


def format_table(results: Mapping[str, Mapping[str, Mapping[str, float]]], metric: str = "SDR") -> str:
    """Markdown table: one row per method, one column per target (median ``metric`` in dB)."""
    targets: list[str] = []
    for res in results.values():
        targets += [t for t in res if t not in targets]
    lines = ["| method | " + " | ".join(targets) + " |", "|---" * (len(targets) + 1) + "|"]
    for method, res in results.items():
        cells = [f"{res[t][metric]:.2f}" if t in res and not math.isnan(res[t][metric]) else "-" for t in targets]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
