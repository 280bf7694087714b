"""Reading folders in the MUSDB18-HQ layout: the real data set and the embedded one.

Layout: ``<root>/{train,test}/<Artist - Title>/{mixture,drums,bass,other,vocals}.wav``.

Design record:
    Audio is read with ``soundfile``, not through ``musdb``'s track objects. ``musdb`` decodes
    through ``stempeg``, whose import fails without the ``ffmpeg`` programs, and loads whole
    tracks; ``soundfile`` reads any excerpt of a wav by seeking, which is what random-excerpt
    training needs, and needs nothing outside pip. What ``musdb`` defines is kept: the train
    and test subsets and the validation tracks (read from musdb's own ``configs/mus.yaml``
    without importing the package); the embedded dataset carries its own validation flags in
    ``render.json``, and other data in this layout takes a ``valid.txt`` or a fixed every-sixth
    split (see :func:`_valid_names`). Every track is checked when it is found (header reads only), so that a
    missing stem or mismatched lengths fail at start-up with the file named, not mid-epoch.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import warnings
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from .audio import list_entries

log = logging.getLogger(__name__)

SOURCES = ("drums", "bass", "other", "vocals")
SUBSETS = ("train", "valid", "test")


@dataclass(frozen=True)
class Track:
    """One track: its folder, split membership, and the facts checked when it was found."""

    name: str
    path: str
    subset: str  # "train" or "test" (the folder it lives in)
    is_valid: bool  # in the validation split of train
    sample_rate: int
    frames: int
    channels: dict  # stem -> channel count

    def file(self, stem: str) -> str:
        return os.path.join(self.path, f"{stem}.wav")

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def musdb_validation_tracks() -> list[str]:
    """The validation track names defined by the ``musdb`` package (without importing it)."""
    spec = importlib.util.find_spec("musdb")
    if spec is None or spec.origin is None:
        raise ImportError("musdb is not installed: pip install musdb")
    import yaml

    with open(os.path.join(os.path.dirname(spec.origin), "configs", "mus.yaml")) as fh:
        return list(yaml.safe_load(fh)["validation_tracks"])


VALID_LIST = "valid.txt"


def read_manifest(root: str) -> dict | None:
    """``<root>/render.json`` of a render made by sliceq22, or ``None`` where there is none.

    Raises:
        ValueError: the file is not a JSON object (naming it).
    """
    path = os.path.join(root, "render.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as fh:
            manifest = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable render manifest ({exc}): render into another folder") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"{path} is not a render manifest (a JSON object): render into another folder")
    return manifest


def _check_render(root: str, manifest: dict) -> None:
    """An embedded render is read only when it is finished and every track it lists is there."""
    if "tracks" not in manifest:
        return
    if not manifest.get("complete"):
        raise ValueError(f"{root} holds an unfinished render (render.json: complete=false): run the same render "
                         f"again to finish it (it resumes) before reading it")
    missing = [t.get("name") for t in manifest["tracks"] if not os.path.isdir(os.path.join(root, str(t.get("subset")), str(t.get("name"))))]
    if missing:
        shown = ", ".join(map(str, missing[:4])) + (" ..." if len(missing) > 4 else "")
        raise ValueError(f"{root}/render.json lists {len(missing)} track(s) that are not on disk ({shown}): "
                         f"render into a new folder")


def _valid_names(root: str, train_names: list[str]) -> set[str]:
    """The validation tracks among ``train/``'s, by the first rule that applies:

    1. ``<root>/render.json`` (the embedded dataset's own flags);
    2. ``<root>/valid.txt``, one track name per line (your own choice for your own data; every
       name must be a folder under ``train/``);
    3. musdb's 14 validation tracks, when any of them is under ``train/`` (MUSDB18-HQ);
    4. otherwise (other data in the MUSDB layout) the same rule the embedded renders use:
       every sixth training track by sorted name, starting with the second.
    """
    manifest = read_manifest(root)
    if manifest is not None and "tracks" in manifest:  # the embedded dataset
        if os.path.isfile(os.path.join(root, VALID_LIST)):
            warnings.warn(f"{root} is an embedded render: its render.json decides the validation tracks and "
                          f"{VALID_LIST} there is ignored", stacklevel=3)
        return {t["name"] for t in manifest["tracks"] if t["valid"]}
    listed = os.path.join(root, VALID_LIST)
    if os.path.isfile(listed):
        with open(listed) as fh:
            names = {line.strip() for line in fh if line.strip() and not line.startswith("#")}
        unknown = sorted(names - set(train_names))
        if unknown:
            raise ValueError(f"{listed} names tracks that are not folders under {os.path.join(root, 'train')}: {unknown}")
        return names
    musdb_names = set(musdb_validation_tracks())
    if musdb_names & set(train_names):
        _say_split(root, "musdb's validation list", musdb_names & set(train_names), len(musdb_names))
        return musdb_names
    chosen = {n for j, n in enumerate(sorted(train_names)) if len(train_names) >= 2 and j % 6 == 1}
    _say_split(root, "every sixth track (no render.json, valid.txt or musdb validation track found)", chosen)
    return chosen


_SAID: set = set()


def _say_split(root: str, rule: str, names: set, listed: int | None = None) -> None:
    """Log once per root which rule chose the validation tracks: a partial MUSDB copy (or one
    whose validation tracks were moved) falls back to another rule without any other sign."""
    key = (os.path.abspath(root), rule, tuple(sorted(names)))
    if key in _SAID:
        return
    _SAID.add(key)
    found = f" ({len(names)} of its {listed} tracks found)" if listed is not None and len(names) < listed else ""
    log.info("%s: validation tracks by %s%s: %s", root, rule, found, ", ".join(sorted(names)) or "none")


def check_track(path: str, sample_rate: int, mono_to_stereo: bool = False) -> Track:
    """Check one track folder and describe it.

    Raises:
        ValueError: a missing, unreadable or empty stem, a sample rate other than ``sample_rate``,
            stems of unequal length, or a mono stem (unless ``mono_to_stereo``), naming the file.
    """
    frames, channels = None, {}
    for stem in ("mixture",) + SOURCES:
        f = os.path.join(path, f"{stem}.wav")
        if not os.path.isfile(f):
            raise ValueError(f"missing stem {stem}.wav in {path}")
        try:
            info = sf.info(f)
        except (RuntimeError, OSError) as exc:  # soundfile's LibsndfileError is a RuntimeError
            raise ValueError(f"cannot read {f} as audio: {exc}") from None
        if info.frames == 0:
            raise ValueError(f"{f} holds no audio")
        if info.samplerate != sample_rate:
            raise ValueError(f"{f} is sampled at {info.samplerate} Hz, expected {sample_rate} Hz: resample it")
        if info.channels == 1 and not mono_to_stereo:
            raise ValueError(f"{f} is mono where stereo is expected (data.mono_to_stereo=true in the configs, mono_to_stereo=True in Python, --mono-to-stereo for python -m sliceq22.eval, duplicates it)")
        if info.channels > 2:
            raise ValueError(f"{f} has {info.channels} channels, expected 1 or 2")
        if frames is not None and info.frames != frames:
            raise ValueError(f"stems of {path} differ in length: {stem}.wav has {info.frames} frames, mixture {frames}")
        frames = info.frames if frames is None else frames
        channels[stem] = info.channels
    subset = os.path.basename(os.path.dirname(os.path.normpath(path)))
    return Track(os.path.basename(os.path.normpath(path)), path, subset, False, sample_rate, frames, channels)


class _NoTracks(ValueError):
    """A subset without tracks (a ``ValueError``; ``subset="all"`` skips such subsets)."""


def find_tracks(root: str, subset: str = "train", sample_rate: int = 44100, mono_to_stereo: bool = False) -> list[Track]:
    """All checked tracks of a subset, sorted by name.

    Args:
        root: a MUSDB18-HQ-like folder (real or rendered).
        subset: ``train`` (without the validation tracks), ``valid``, ``test``, or ``all``
            (every track: e.g. a held-out render on which nothing was trained). Which training
            tracks validate: ``render.json``, ``valid.txt``, musdb's list, or every sixth
            (:func:`_valid_names`).
        sample_rate: the rate every stem must have.
        mono_to_stereo: accept mono stems (they are duplicated when read).

    Raises:
        ValueError: the root does not exist or is not MUSDB-like, the subset is empty, or a
            track is broken (see :func:`check_track`).
    """
    if subset not in SUBSETS + ("all",):
        raise ValueError(f"unknown subset {subset!r}; choose one of {', '.join(SUBSETS)} or all")
    if subset == "all":
        tracks = []
        for part in SUBSETS:
            try:
                tracks += find_tracks(root, part, sample_rate, mono_to_stereo)
            except _NoTracks:
                pass  # e.g. a root without validation tracks
        if not tracks:
            raise _NoTracks(f"no tracks under {root}")
        return tracks
    if not os.path.isdir(root):
        raise ValueError(f"data root {root} does not exist (render the embedded set or point data.root at MUSDB18-HQ)")
    if not any(os.path.isdir(os.path.join(root, s)) for s in ("train", "test")):
        raise ValueError(f"{root} is not MUSDB18-HQ-like: it has neither a train/ nor a test/ folder")
    manifest = read_manifest(root)
    if manifest is not None:
        _check_render(root, manifest)
    folder = os.path.join(root, "test" if subset == "test" else "train")
    entries = list_entries(folder, "dir") if os.path.isdir(folder) else []
    names = [d for d in entries if not d.endswith(".partial")]  # an interrupted render is no track
    valid = _valid_names(root, names) if subset != "test" else set()
    listed = bool(names)
    if subset == "train":
        names = [n for n in names if n not in valid]
    elif subset == "valid":
        names = [n for n in names if n in valid]
    if not names:
        hint = ""
        stems = [f for f in (os.listdir(folder) if os.path.isdir(folder) else []) if f.endswith(".stem.mp4")]
        if stems:
            hint = (f" ({folder} holds MUSDB18's .stem.mp4 files ({len(stems)}): sliceq22 reads the decoded wavs of "
                    "MUSDB18-HQ; decode these with musdb's `musdbconvert` or download the HQ release)")
        elif not os.path.isdir(folder):
            hint = f" (it has no {os.path.basename(folder)}/ folder)"
        elif subset == "valid":
            hint = (" (an embedded render has validation tracks from 3 tracks on: data.render.tracks=3 or more;"
                    f" for other data list them in {os.path.join(root, VALID_LIST)})")
        elif subset == "train" and listed:
            hint = " (every track under train/ is a validation track: validate on fewer)"
        raise _NoTracks(f"no {dict(valid='validation', train='training').get(subset, subset)} tracks under {root}{hint}")
    tracks = []
    for n in names:
        t = check_track(os.path.join(folder, n), sample_rate, mono_to_stereo)
        tracks.append(Track(t.name, t.path, t.subset, n in valid, t.sample_rate, t.frames, t.channels))
    return tracks


def read_stem(track: Track, stem: str, start: int = 0, frames: int | None = None) -> np.ndarray:
    """Read ``frames`` samples of a stem from ``start`` as float32 ``(2, frames)``."""
    stop = track.frames if frames is None else start + frames
    if not 0 <= start < stop <= track.frames:
        raise ValueError(f"excerpt [{start}, {stop}) outside {track.name} ({track.frames} frames)")
    data, _ = sf.read(track.file(stem), start=start, stop=stop, dtype="float32", always_2d=True)
    if not np.isfinite(data).all():  # would surface only as a NaN loss mid-epoch
        bad = int(np.flatnonzero(~np.isfinite(data).all(1))[0]) + start
        raise ValueError(f"{track.file(stem)} holds NaN or infinite samples (first at frame {bad})")
    if data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    return np.ascontiguousarray(data.T)
