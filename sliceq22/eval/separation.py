"""Evaluate separations the SigSep way: any separator over a MUSDB-layout subset, or a folder of
estimates written by any tool.

    python evaluate.py separator=oracle separator.method=mpi transform=slicqt_bark   # a method
    python -m sliceq22.eval --root ROOT --estimates DIR --out OUT                   # a folder

Both write ``<out>/<subset>/<track>.json`` in museval's format (one per track; an existing file
is kept and reused, so an interrupted run resumes), then ``<out>/summary.json`` (SigSep
median-of-medians, MDX mean SDR, per-track medians) and ``<out>/summary.md``. What produced
the scores (the separator's config, the data root, subset, excerpt length; or the estimates
folder) is kept in ``<out>/provenance.json``: scores are reused only by the same run, and a
folder holding another run's scores is refused (it would have reported them under the new
name).

Targets whose reference is digitally silent on a track cannot be scored by BSS Eval (museval
raises); they are left out of that track's scores and named in the log and in the summary's
``left_out`` (as are targets a folder of estimates has no file for).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
import soundfile as sf
import torch
from torch import Tensor

from sliceq22.data.musdb import SOURCES, Track, find_tracks, read_stem
from sliceq22.eval.scores import METRICS, TrackScores, aggregate, aggregate_mdx, evaluate_track, format_table
from sliceq22.separator import Separator

log = logging.getLogger(__name__)


EXCERPT_FILE = "excerpt.json"  # beside saved estimates of a centred excerpt: where they lie in the track


def excerpt_bounds(track: Track, seconds: float | None) -> tuple[int, int | None]:
    """``(start, frames)`` of the centred excerpt of ``seconds`` (``(0, None)``: the whole track)."""
    if seconds is None:
        return 0, None
    frames = min(track.frames, int(round(seconds * track.sample_rate)))
    return (track.frames - frames) // 2, frames


def load_references(track: Track, targets: Sequence[str], seconds: float | None = None,
                    excerpt: tuple[int, int | None] | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """Mixture and target images of a track as float32 ``(2, samples)``; ``accompaniment`` is the
    sum of the non-vocal sources. ``seconds`` takes a centred excerpt (None: the whole track);
    ``excerpt`` gives ``(start, frames)`` instead."""
    start, frames = excerpt if excerpt is not None else excerpt_bounds(track, seconds)
    stems = {s: torch.from_numpy(read_stem(track, s, start, frames)) for s in SOURCES}
    mix = torch.from_numpy(read_stem(track, "mixture", start, frames))
    refs = {}
    for t in targets:
        if t == "accompaniment":
            refs[t] = sum(stems[s] for s in SOURCES if s != "vocals")
        elif t in stems:
            refs[t] = stems[t]
        else:
            raise ValueError(f"unknown target {t!r}; MUSDB targets are {', '.join(SOURCES)} and accompaniment")
    return mix, refs


def _audible(refs: Mapping[str, Tensor], track: str) -> list[str]:
    keep = [t for t, r in refs.items() if bool((r.sum(0) != 0).any())]
    for t in refs:
        if t not in keep:
            log.warning("%s: reference %s is silent; it is left out of this track's scores", track, t)
    return keep


def _json_path(out_dir: str, track: Track) -> str:
    return os.path.join(out_dir, track.subset, f"{track.name}.json")


PROVENANCE = "provenance.json"


def claim_out_dir(out_dir: str, fingerprint: Mapping, subset: str, overwrite: bool = False) -> None:
    """Make ``out_dir`` the home of the run described by ``fingerprint`` (JSON-able).

    Raises:
        ValueError: ``out_dir`` holds track scores of another run (or of unknown origin) and
            ``overwrite`` is false.
    """
    fingerprint = json.loads(json.dumps(fingerprint, sort_keys=True, default=str))
    root = fingerprint.get("root")
    if root and os.path.realpath(out_dir) in (os.path.realpath(root), os.path.realpath(os.path.join(root, subset))):
        raise ValueError(f"the scores' folder {out_dir} is the data root {root}: choose another output folder")
    path = os.path.join(out_dir, PROVENANCE)
    # track scores lie in <out>/<track's folder>/ (train/ for MUSDB's valid split, train/ and test/
    # for "all"), not <out>/<subset>/: look in every folder but the saved estimates
    folders = [os.path.join(out_dir, d) for d in (os.listdir(out_dir) if os.path.isdir(out_dir) else []) if d != "estimates"]
    has_scores = any(os.path.isdir(d) and any(f.endswith(".json") for f in os.listdir(d)) for d in folders)
    if not overwrite:
        if os.path.exists(path):
            with open(path) as fh:
                old = json.load(fh)
            differ = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
            if differ and has_scores:
                raise ValueError(
                    f"{out_dir} holds scores of another run (it differs in {', '.join(differ)}): choose another "
                    f"output folder, or pass overwrite=true to recompute every track there"
                )
        elif has_scores:
            raise ValueError(
                f"{out_dir} holds track scores of unknown origin (no {PROVENANCE}): choose another output folder, "
                f"or pass overwrite=true to recompute every track there"
            )
    os.makedirs(out_dir, exist_ok=True)
    with open(path, "w") as fh:
        json.dump(fingerprint, fh, indent=2, sort_keys=True)


def summarise(out_dir: str, tracks: Sequence[TrackScores], method: str, extra: dict | None = None) -> dict:
    """Aggregate track scores, write ``summary.json`` / ``summary.md`` in ``out_dir``, return it."""
    agg = aggregate(tracks)
    summary = {
        "method": method,
        "tracks": len(tracks),
        "sigsep": agg,  # median over windows, then over tracks
        "mdx": aggregate_mdx(tracks),
        "per_track": {t.track_name: {name: m["SDR"] for name, m in t.medians().items()} for t in tracks},
        **(extra or {}),
    }
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=2, allow_nan=True)
    lines = [f"# {method}: {len(tracks)} tracks", "", "SigSep (median over windows, then over tracks), dB:", "",
             "| metric | " + " | ".join(agg) + " |", "|---" * (len(agg) + 1) + "|"]
    lines += [f"| {m} | " + " | ".join(f"{agg[t][m]:.2f}" for t in agg) + " |" for m in METRICS]
    if summary["mdx"]:
        lines += ["", "MDX SDR (whole track, mean over tracks), dB: "
                  + ", ".join(f"{k} {v:.2f}" for k, v in summary["mdx"].items())]
    with open(os.path.join(out_dir, "summary.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return summary


def evaluate_separator(
    separator: Separator,
    root: str,
    out_dir: str,
    subset: str = "test",
    seconds: float | None = None,
    device: str = "cpu",
    save_estimates: bool = False,
    overwrite: bool = False,
    name: str | None = None,
    max_tracks: int | None = None,
    config: Mapping | None = None,
    mono_to_stereo: bool = False,
) -> dict:
    """Separate every track of ``subset`` with ``separator`` and score it with BSS Eval v4.

    Args:
        separator: anything following :class:`sliceq22.separator.Separator`.
        root: MUSDB18-HQ-layout folder (real or the embedded render).
        out_dir: where the JSON scores (and, with ``save_estimates``, the estimates as
            ``<out>/estimates/<subset>/<track>/<target>.wav``) go.
        seconds: evaluate a centred excerpt of this length (None: whole tracks).
        overwrite: recompute tracks whose JSON exists (default: reuse them, if this same run
            wrote them; see :func:`claim_out_dir`).
        max_tracks: evaluate the first ``max_tracks`` tracks only (``None``: all).
        config: the separator's config, recorded as the scores' provenance (``evaluate.py``
            passes it; default: the method name).
        mono_to_stereo: accept mono stems in ``root`` (duplicated to stereo).
    Returns:
        The summary (see :func:`summarise`).
    """
    from sliceq22.options import check_flag, check_number

    check_number("seconds", seconds, above=0, optional=True, hint=": an excerpt length; null for whole tracks")
    check_number("max_tracks", max_tracks, at_least=1, integer=True, optional=True, hint=": null for every track")
    check_flag("overwrite", overwrite)  # overwrite=no is the truthy string 'no'
    check_flag("save_estimates", save_estimates)
    tracks = find_tracks(root, subset, int(separator.sample_rate), mono_to_stereo)[:max_tracks]
    if hasattr(separator, "to"):
        separator = separator.to(device)
    method = name or type(separator).__name__
    fingerprint = {"separator": config if config is not None else method, "root": os.path.abspath(root), "subset": subset,
                   "seconds": seconds, "targets": list(separator.targets), "files": _file_stamps(config)}
    claim_out_dir(out_dir, fingerprint, subset, overwrite)
    scores, reused = [], 0
    for track in tracks:
        path = _json_path(out_dir, track)
        est_folder = os.path.join(out_dir, "estimates", track.subset, track.name)
        have_estimates = all(os.path.isfile(os.path.join(est_folder, f"{t}.wav")) for t in separator.targets)
        if os.path.exists(path) and not overwrite and (have_estimates or not save_estimates):
            scores.append(TrackScores.load(path))
            reused += 1
            continue
        mix, refs = load_references(track, separator.targets, seconds)
        keep = _audible(refs, track.name)
        refs_dev = {t: r.to(device) for t, r in refs.items()}
        with torch.no_grad():
            est = separator.separate(mix.to(device), references=refs_dev if separator.needs_references else None)
        bad = [t for t in separator.targets if t not in est or est[t].shape != mix.shape]
        if bad:
            raise ValueError(f"{method} returned no estimate shaped like the mixture {tuple(mix.shape)} for {bad}")
        track_scores = _score(track, {t: refs[t] for t in keep}, {t: est[t] for t in keep}, device)
        if save_estimates:  # before the scores: a track is finished when its scores exist
            from sliceq22.data.audio import save_audio

            for t, y in est.items():  # this run's own folder (claim_out_dir): a rerun completes it
                save_audio(os.path.join(est_folder, f"{t}.wav"), y.cpu(), track.sample_rate, overwrite=True)
            start, frames = excerpt_bounds(track, seconds)
            sidecar = os.path.join(est_folder, EXCERPT_FILE)
            if frames is not None and frames < track.frames:  # scored later against the same samples
                with open(sidecar, "w") as fh:
                    json.dump({"start": start, "frames": frames, "track_frames": track.frames}, fh)
            elif os.path.exists(sidecar):
                os.remove(sidecar)  # whole-track estimates replaced an excerpt's (overwrite=true)
        track_scores.save(path, overwrite=True)  # absent, or stale (overwrite=true / estimates asked for)
        log.info("%s\n%s", track.name, track_scores)
        scores.append(track_scores)
    if reused:
        log.info("reused the scores of %d track(s) this run wrote before in %s (overwrite=true recomputes them)", reused, out_dir)
    summary = summarise(out_dir, scores, method, {"seconds": seconds, "subset": subset, "left_out": _left_out(scores, separator.targets)})
    log.info("%s on %d %s tracks:\n%s", method, len(scores), subset, format_table({method: summary["sigsep"]}))
    return summary


def _score(track: Track, refs: Mapping[str, Tensor], est: Mapping[str, Tensor], device) -> TrackScores:
    names = list(refs)
    if len(names) < 2 and not {"vocals", "accompaniment"} <= set(names):
        # e.g. vocals/accompaniment on an instrumental: BSS Eval needs an interfering source
        log.warning("%s: fewer than two audible targets (%s): BSS Eval is undefined; the track is left out", track.name,
                    ", ".join(names) or "none")
        return TrackScores(track.name)
    try:
        return evaluate_track(refs, est, track.sample_rate, track.name, device=device)
    except ValueError as exc:  # BSS Eval's message knows indices, not tracks and targets
        raise ValueError(f"{track.name} (targets {', '.join(refs)}): {exc}") from exc


def _file_stamps(config) -> dict[str, list[int]]:
    """``{path: [size, mtime_ns]}`` of every existing file a config names (a checkpoint), so that
    scores of a checkpoint overwritten in place are not taken for the new one's."""
    found = {}

    def walk(node):
        if isinstance(node, Mapping):
            for v in node.values():
                walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)
        elif isinstance(node, (str, os.PathLike)) and os.path.isfile(node):
            st = os.stat(node)
            found[os.path.abspath(node)] = [st.st_size, st.st_mtime_ns]

    walk(config)
    return found


def _stamps(paths: Mapping[str, str]) -> dict[str, list[int]]:
    """``{name: [size, mtime_ns]}`` of files."""
    return {k: [st.st_size, st.st_mtime_ns] for k, st in ((k, os.stat(p)) for k, p in paths.items())}


def _left_out(scores: Sequence[TrackScores], targets: Sequence[str]) -> dict[str, list[str]]:
    """Per track, the targets without scores (a silent reference, or no estimate file)."""
    out = {}
    for t in scores:
        missing = [name for name in targets if name not in t.medians()]
        if missing:
            out[t.track_name] = missing
    return out


def _read_excerpt(folder: str, track: Track) -> tuple[int, int | None] | None:
    """The ``(start, frames)`` an estimates folder says it covers (``evaluate.py save_estimates=true
    seconds=N`` writes the centred excerpt), or None: the whole track."""
    path = os.path.join(folder, EXCERPT_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as fh:
            doc = json.load(fh)
        start, frames, total = int(doc["start"]), int(doc["frames"]), int(doc["track_frames"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not an excerpt record ({exc}): remove it to score the estimates from the track's start") from exc
    if total != track.frames or start < 0 or frames < 1 or start + frames > track.frames:
        raise ValueError(f"{path} places the estimates at samples {start}..{start + frames} of a {total}-sample track, "
                         f"but {track.name} has {track.frames} samples: these estimates belong to another version of the track")
    return start, frames


def _read_estimate(path: str, track: Track) -> Tensor:
    info = sf.info(path)
    if info.frames == 0:
        raise ValueError(f"{path} holds no audio")
    if info.samplerate != track.sample_rate:
        raise ValueError(f"{path} is sampled at {info.samplerate} Hz, the references at {track.sample_rate} Hz")
    data, _ = sf.read(path, dtype="float64", always_2d=True)
    if data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    if data.shape[1] != 2:
        raise ValueError(f"{path} has {data.shape[1]} channels; expected mono or stereo estimates")
    if not np.isfinite(data).all():
        raise ValueError(f"{path} contains NaN or infinite samples")
    return torch.from_numpy(data.T.copy())


def evaluate_estimates(
    root: str,
    estimates_dir: str,
    out_dir: str,
    subset: str = "test",
    targets: Sequence[str] = SOURCES,
    device: str = "cpu",
    overwrite: bool = False,
    mono_to_stereo: bool = False,
) -> dict:
    """Score a folder of estimates against a MUSDB-layout root, as ``museval.eval_mus_dir``.

    Estimates are read from ``<estimates>/<subset>/<track>/<target>.wav`` (museval's layout) or
    ``<estimates>/<track>/<target>.wav`` (``infer.py``'s); an ``excerpt.json`` beside them (written
    by ``save_estimates`` with ``seconds``) scores them against the same excerpt of the references;
    tracks without estimates are skipped,
    targets without a file are left out (and logged); a wrong sample rate or a broken file is
    an error.
    """
    from sliceq22.data.datasets import TARGETS

    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise ValueError(f"unknown targets {unknown}; choose from {', '.join(TARGETS)}")
    tracks = find_tracks(root, subset, mono_to_stereo=mono_to_stereo)
    fingerprint = {"estimates": os.path.abspath(estimates_dir), "root": os.path.abspath(root), "subset": subset,
                   "targets": list(targets)}
    claim_out_dir(out_dir, fingerprint, subset, overwrite)
    scores, reused = [], 0
    for track in tracks:
        folder = next((d for d in (os.path.join(estimates_dir, track.subset, track.name), os.path.join(estimates_dir, track.name))
                       if os.path.isdir(d)), None)
        if folder is None:
            continue
        path = _json_path(out_dir, track)
        present = [t for t in targets if os.path.isfile(os.path.join(folder, f"{t}.wav"))]
        # the estimate files' sizes and times beside the scores: changed or added files are scored again
        files = {t: os.path.join(folder, f"{t}.wav") for t in present}
        if os.path.isfile(os.path.join(folder, EXCERPT_FILE)):
            files[EXCERPT_FILE] = os.path.join(folder, EXCERPT_FILE)
        stamps = _stamps(files)
        stamp_path = path[: -len(".json")] + ".estimates"
        fresh = False
        if os.path.exists(path) and not overwrite and os.path.exists(stamp_path):
            with open(stamp_path) as fh:
                fresh = json.load(fh) == stamps
        if fresh:
            scores.append(TrackScores.load(path))
            reused += 1
            continue
        if len(present) < len(targets):
            log.warning("%s: no estimate for %s in %s: left out of this track's scores", track.name,
                        ", ".join(t for t in targets if t not in present), folder)
        excerpt = _read_excerpt(folder, track)
        _, refs = load_references(track, present, excerpt=excerpt)
        keep = _audible(refs, track.name)
        est = {t: _read_estimate(os.path.join(folder, f"{t}.wav"), track) for t in keep}
        n = next(iter(refs.values())).shape[-1] if refs else 0
        short = [f"{t} ({e.shape[-1]})" for t, e in est.items() if e.shape[-1] != n]
        if short:
            log.warning("%s: estimates of another length than the reference's %d samples: %s; scored as BSS Eval does "
                        "(zero-padded or cut at the end, from the track's first sample)", track.name, n, ", ".join(short))
        track_scores = _score(track, {t: refs[t] for t in keep}, est, device)
        track_scores.save(path, overwrite=True)  # this run's own (claim_out_dir checked): stale, or new
        with open(stamp_path, "w") as fh:
            json.dump(stamps, fh)
        scores.append(track_scores)
    if reused:
        log.info("reused the scores of %d track(s) whose estimate files have not changed since", reused)
    if not scores:
        raise ValueError(f"no estimates for any {subset} track of {root} under {estimates_dir} "
                         f"(expected {estimates_dir}/{subset}/<track>/<target>.wav)")
    return summarise(out_dir, scores, os.path.basename(os.path.normpath(estimates_dir)),
                     {"subset": subset, "left_out": _left_out(scores, targets)})


def median_sdr(summary: Mapping) -> float:
    """Median SDR over targets of a summary's SigSep scores (the parameter search's objective)."""
    vals = [v["SDR"] for v in summary["sigsep"].values() if not math.isnan(v["SDR"])]
    return float(np.median(vals)) if vals else math.nan


def run(
    separator,
    data,
    out_dir: str,
    subset: str = "test",
    seconds: float | None = None,
    device: str = "cpu",
    name: str | None = None,
    save_estimates: bool = False,
    overwrite: bool = False,
    max_tracks: int | None = None,
) -> float:
    """The job behind ``evaluate.py``: render the data if it is the embedded set, build the
    separator from its config, evaluate, and return the median SDR over targets (the value a
    Hydra sweeper such as Optuna maximises).

    Args:
        separator: config of a :class:`~sliceq22.separator.Separator` (``conf/separator/``).
        data: the data config (``conf/data/``): its ``root``, and ``render`` for the embedded set.
    """
    from hydra.utils import instantiate

    from sliceq22.device import resolve_device

    device = resolve_device(device)
    if data.get("render"):
        from sliceq22.data.render import mismatch_hint, render_dataset

        try:
            render_dataset(data.root, sample_rate=int(data.sample_rate), progress=False, **data.render)
        except ValueError as exc:
            raise ValueError(f"{exc} ({mismatch_hint(data.root, int(data.sample_rate))})") from exc
    from omegaconf import OmegaConf

    sep = instantiate(separator)
    config = OmegaConf.to_container(separator, resolve=True) if OmegaConf.is_config(separator) else dict(separator)
    config.pop("device", None)  # where it ran does not change the scores
    if name and isinstance(config.get("method"), str):  # oracle -> oracle:mpi in tables
        name = f"{name}:{config['method']}"
    summary = evaluate_separator(sep, data.root, out_dir, subset, seconds, device, save_estimates, overwrite, name, max_tracks,
                                 config=config, mono_to_stereo=bool(data.get("mono_to_stereo", False)))
    return median_sdr(summary)
