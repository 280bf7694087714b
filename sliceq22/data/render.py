"""Render the embedded multitrack dataset in the MUSDB18-HQ layout with a General MIDI SoundFont.

    python -m sliceq22.data.render --root data/embedded --tracks 24 --seconds 30 --seed 0
    python -m sliceq22.data.render --kind bach10 --tracks 10       # Bach10-style stems
    python -m sliceq22.data.render --kind alignment --tracks 6     # piano/orchestra scenarios

writes ``<root>/{train,test}/<Artist - Title>/{mixture,drums,bass,other,vocals}.wav`` (44.1 kHz
stereo float32, ``mixture`` = sum of the stems to float32 precision, one common gain per song
so that neither the mixture nor a stem clips) and ``<root>/render.json``: what was rendered,
with which parameters, and the train/valid/test split.

Never rewrites a user's files: a root that holds a render with other parameters, or anything
that is not a sliceq22 render, is refused with an error; a render interrupted midway resumes.
The SoundFont is ``TimGM6mb.sf2`` (shipped in the PyPI package ``pretty_midi``); synthesis is
``tinysoundfont`` (install it with ``pip install --no-deps tinysoundfont``: its declared
``pyaudio`` dependency is for live playback only and needs PortAudio headers to build).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import shutil

import numpy as np
import soundfile as sf

from .corpus import bach_chorales
from .musdb import read_manifest
from .songs import STEMS, Part, Song, compose_chorale_song, compose_song

MANIFEST = "render.json"
FORMAT_VERSION = 2  # 2: every fifth track a chorale
ARTIST = "sliceq22"


def default_soundfont() -> str:
    """Path of the GM SoundFont shipped by ``pretty_midi`` (found without importing it)."""
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or spec.origin is None:
        raise ImportError("the embedded dataset needs the SoundFont of pretty_midi: pip install pretty_midi")
    path = os.path.join(os.path.dirname(spec.origin), "TimGM6mb.sf2")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"pretty_midi is installed but has no TimGM6mb.sf2 at {path}")
    return path


def _synth_module():
    try:
        import tinysoundfont
    except ImportError as err:  # pragma: no cover - set-up installs it
        raise ImportError(
            "rendering needs tinysoundfont: pip install --no-deps tinysoundfont "
            "(make run / make test install it)"
        ) from err
    return tinysoundfont


def render_part(part: Part, seconds: float, sample_rate: int, soundfont: bytes) -> np.ndarray:
    """Synthesise one part. Returns float32 ``(2, samples)``."""
    tsf = _synth_module()
    n = int(round(seconds * sample_rate))
    synth = tsf.Synth(gain=0.0, samplerate=sample_rate)
    sfid = synth.sfload(soundfont)
    chan = 9 if part.is_drum else 0
    synth.program_select(chan, sfid, 128 if part.is_drum else 0, part.program, is_drums=part.is_drum)
    synth.control_change(chan, 10, int(round(np.clip(part.pan, 0, 1) * 127)))  # pan
    events = []  # (sample, order, kind, pitch, velocity): note-offs before note-ons at a tie
    for note in part.notes:
        events.append((int(round(note.start * sample_rate)), 1, "on", note.pitch, note.velocity))
        events.append((int(round(note.end * sample_rate)), 0, "off", note.pitch, 0))
    events.sort()
    out = np.zeros(2 * n, dtype=np.float32)
    block = 256 if part.vibrato_cents else n
    pos = 0
    bend_per_cent = 8192 / 200.0  # default bend range: +-2 semitones

    def generate_until(stop: int) -> None:
        nonlocal pos
        while pos < stop:
            step = min(block - pos % block if block < n else stop - pos, stop - pos)
            if part.vibrato_cents:
                phase = 2 * np.pi * 5.5 * pos / sample_rate
                synth.pitchbend(chan, int(8192 + bend_per_cent * part.vibrato_cents * np.sin(phase)))
            out[2 * pos : 2 * (pos + step)] = np.frombuffer(synth.generate(step), dtype=np.float32)
            pos += step

    for sample, _, kind, pitch, velocity in events:
        generate_until(min(sample, n))
        if kind == "on":
            synth.noteon(chan, pitch, velocity)
        else:
            synth.noteoff(chan, pitch)
    generate_until(n)
    return out.reshape(n, 2).T.copy()


def active_rms(x: np.ndarray, sample_rate: int) -> float:
    """RMS over the 50 ms frames that are not silent (a stem that rests is not quieter)."""
    hop = max(1, sample_rate // 20)
    frames = x[:, : x.shape[1] // hop * hop].reshape(x.shape[0], -1, hop)
    power = (frames.astype(np.float64) ** 2).mean(axis=(0, 2))
    active = power[power > 1e-8 * max(power.max(), 1e-30)]
    return float(np.sqrt(active.mean())) if active.size else 0.0


def render_song(song: Song, sample_rate: int, soundfont: bytes, peak: float) -> dict[str, np.ndarray]:
    """All stems and the mixture of a song, float32 ``(2, samples)``, one gain for all.

    Each part is brought to a common active RMS, then to its mix level ``gain_db``; one common
    gain then puts the largest of the mixture's and the stems' peaks at ``peak``. The mixture
    is the float64 sum of the float32 stems, rounded once to float32.
    """
    stems = {}
    for part in song.parts:
        audio = render_part(part, song.seconds, sample_rate, soundfont)
        rms = active_rms(audio, sample_rate)
        level = 10 ** (part.gain_db / 20) / rms if rms > 0 else 0.0
        stems[part.stem] = audio * np.float32(level)
    mix = sum(s.astype(np.float64) for s in stems.values())
    loudest = max(np.abs(mix).max(), *(np.abs(s).max() for s in stems.values()), 1e-9)
    gain = peak / loudest
    stems = {k: (v * gain).astype(np.float32) for k, v in stems.items()}
    stems["mixture"] = sum(s.astype(np.float64) for s in stems.values()).astype(np.float32)
    return stems


def plan_split(n_tracks: int) -> tuple[list[int], list[int], list[int]]:
    """Indices of train, valid (a subset of train, as in MUSDB) and test tracks."""
    idx = list(range(n_tracks))
    test = [i for i in idx if n_tracks >= 2 and i % 4 == 3] or ([idx[-1]] if n_tracks >= 2 else [])
    train = [i for i in idx if i not in test]
    valid = [i for j, i in enumerate(train) if len(train) >= 2 and j % 6 == 1]
    return train, valid, test


def _track_name(song: Song, index: int) -> str:
    return f"{ARTIST} - {song.title} {index + 1:03d}"


def _params(tracks: int, seconds: float, seed: int, sample_rate: int, soundfont: bytes) -> dict:
    return {
        "format": FORMAT_VERSION,
        "tracks": int(tracks),
        "seconds": float(seconds),
        "seed": int(seed),
        "sample_rate": int(sample_rate),
        "soundfont_sha256": hashlib.sha256(soundfont).hexdigest(),
    }


def render_dataset(
    root: str,
    tracks: int = 24,
    seconds: float = 30.0,
    seed: int = 0,
    sample_rate: int = 44100,
    soundfont: str | None = None,
    progress: bool = True,
) -> dict:
    """Render (or resume, or reuse) the embedded dataset under ``root``.

    Returns:
        The manifest dict (also in ``<root>/render.json``).

    Raises:
        ValueError: ``root`` holds something else (another render, or foreign files).
    """
    check_render_args(tracks=tracks, seconds=seconds, sample_rate=sample_rate, seed=seed)
    sf_path = soundfont or default_soundfont()
    with open(sf_path, "rb") as fh:
        sf_bytes = fh.read()
    params = _params(tracks, seconds, seed, sample_rate, sf_bytes)
    manifest_path = os.path.join(root, MANIFEST)
    existing = claim_root(root, params)
    if existing is not None and existing.get("complete"):
        return existing

    rng = np.random.default_rng(seed)
    song_seeds = rng.integers(0, 2**31 - 1, size=tracks)
    peaks = rng.uniform(0.5, 0.9, size=tracks)
    # every fifth track is a four-part corpus piece (a Bach chorale) mapped to the four roles
    chorale_slots = [i for i in range(tracks) if i % 5 == 4]
    chorales = iter(bach_chorales(len(chorale_slots), seed)) if chorale_slots else iter(())
    songs = [
        compose_chorale_song(next(chorales), seconds, int(s)) if i in chorale_slots else compose_song(int(s), seconds)
        for i, s in enumerate(song_seeds)
    ]
    train, valid, test = plan_split(tracks)
    subset = {i: "train" for i in train} | {i: "test" for i in test}
    manifest = {
        "params": params,
        "complete": False,
        "soundfont": os.path.basename(sf_path),
        "tracks": [
            {
                "name": _track_name(song, i),
                "subset": subset[i],
                "valid": i in valid,
                "style": song.style,
                "bpm": round(song.bpm, 2),
                "meter": song.meter,
                "key": song.key,
                "programs": {p.stem: p.program for p in song.parts},
            }
            for i, song in enumerate(songs)
        ],
    }
    os.makedirs(root, exist_ok=True)
    _write_json(manifest_path, manifest)

    items = list(enumerate(songs))
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc=f"rendering {tracks} tracks into {root}", unit="track")
    for i, song in items:
        final = os.path.join(root, subset[i], _track_name(song, i))
        if all(os.path.isfile(os.path.join(final, f"{s}.wav")) for s in ("mixture",) + STEMS):
            continue  # rendered before an interruption
        write_track(final, render_song(song, sample_rate, sf_bytes, float(peaks[i])), sample_rate)
    manifest["complete"] = True
    _write_json(manifest_path, manifest)
    return manifest


MIN_SECONDS = 2.0
"""Shortest track: below it the composer leaves some songs without a vocal note (44 of 300 at
0.5 s, 17 at 1 s, none from 2 s), and a silent target has no SDR."""


def check_render_args(sample_rate, seconds=None, seed=0, **counts) -> None:
    """Refuse arguments that cannot render, before a root is claimed (a failed render would
    leave a manifest that blocks the retry with good arguments)."""
    problems = [f"{name} must be an integer >= 1, got {n!r}" for name, n in counts.items()
                if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1]
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or not 8000 <= sample_rate <= 192000:
        problems.append(f"sample_rate must be an integer from 8000 to 192000 Hz, got {sample_rate!r}")
    if seconds is not None and not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds >= MIN_SECONDS):
        problems.append(f"seconds must be >= {MIN_SECONDS:g} (shorter songs may have no vocals), got {seconds!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        problems.append(f"seed must be an integer >= 0, got {seed!r}")
    if problems:
        raise ValueError("; ".join(problems))


def mismatch_hint(root: str, sample_rate: int) -> str:
    """What to do when a config's render does not match ``root``'s: the data's own rate if that
    is what differs (data.render=null would then fail on the rate), else data.render=null."""
    try:
        with open(os.path.join(root, MANIFEST)) as fh:
            rate = (json.load(fh).get("params") or {}).get("sample_rate")
    except (OSError, ValueError):
        rate = None
    if rate is not None and int(rate) != int(sample_rate):
        return f"the tracks there are at {rate} Hz: pass sample_rate={rate}, or render into another data.root"
    return "to use the tracks already in data.root as they are, pass data.render=null"


def claim_root(root: str, params: dict) -> dict | None:
    """Check that ``root`` may receive a render with ``params``; return its manifest if any.

    A root may be new or empty, or hold a render of exactly these parameters (complete: reuse
    it; incomplete: resume it). Anything else is refused, so no user file is ever touched.

    Raises:
        ValueError: ``root`` holds another render or foreign files.
    """
    manifest = read_manifest(root)
    if manifest is not None:
        if manifest.get("params") != params:
            old = manifest.get("params") or {}
            differ = ", ".join(f"{k} {old.get(k)!r} there, {params.get(k)!r} asked" for k in sorted(set(old) | set(params))
                               if old.get(k) != params.get(k))
            raise ValueError(
                f"{root} already holds {'a' if manifest.get('complete') else 'an unfinished'} render made with other "
                f"parameters ({differ}): use another root, or delete that folder yourself to re-render"
            )
        return manifest
    if os.path.isdir(root) and os.listdir(root):
        raise ValueError(
            f"{root} is not empty and is not a sliceq22 render (no {MANIFEST}): refusing to write into it; "
            f"choose an empty or new folder"
        )
    return None


def write_track(folder: str, audio: dict[str, np.ndarray], sample_rate: int, extras: dict[str, str] | None = None) -> None:
    """Write ``{name: (channels, samples)}`` as float32 wavs into ``folder``, atomically.

    The files (and ``extras``, ``{file name: text}``: annotations that belong to the track) go
    to ``folder.partial`` first and the folder is renamed at the end, so an interruption never
    leaves a half-written track that looks complete.
    """
    tmp = folder + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for name, data in audio.items():
        sf.write(os.path.join(tmp, f"{name}.wav"), np.atleast_2d(data).T, sample_rate, subtype="FLOAT")
    for name, text in (extras or {}).items():
        with open(os.path.join(tmp, name), "w") as fh:
            fh.write(text)
    shutil.rmtree(folder, ignore_errors=True)  # only a half-written folder of our own
    os.replace(tmp, folder)


def _write_json(path: str, obj: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=2)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", default="musdb", choices=("musdb", "bach10", "alignment"),
                        help="musdb: the embedded dataset; bach10: chorale stems; alignment: piano/orchestra scenarios")
    parser.add_argument("--root", default=None, help="default: data/embedded, data/bach10 or data/alignment")
    parser.add_argument("--tracks", type=int, default=24, help="tracks, pieces or scenarios")
    parser.add_argument("--seconds", type=float, default=None, help="musdb only: seconds per track (default 30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-rate", type=int, default=None, help="default: 44100 (musdb, bach10), 22050 (alignment)")
    parser.add_argument("--soundfont", default=None, help="a GM .sf2 (default: pretty_midi's TimGM6mb.sf2)")
    args = parser.parse_args(argv)
    root = args.root or {"musdb": "data/embedded", "bach10": "data/bach10", "alignment": "data/alignment"}[args.kind]
    if args.kind != "musdb" and args.seconds is not None:
        parser.error(f"--seconds applies to --kind musdb only: {args.kind} pieces last as long as their scores")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    rate = args.sample_rate or (22050 if args.kind == "alignment" else 44100)
    from sliceq22.cli import user_errors

    with user_errors():
        if args.kind != "musdb":
            from .scenarios import render_alignment, render_bach10

            if args.kind == "bach10":
                render_bach10(root, args.tracks, args.seed, rate, args.soundfont)
            else:
                render_alignment(root, args.tracks, args.seed, rate, soundfont=args.soundfont)
            print(f"{root}: {args.tracks} {args.kind} items")
            return
        manifest = render_dataset(root, args.tracks, 30.0 if args.seconds is None else args.seconds, args.seed, rate, args.soundfont)
    args.root = root
    n = {s: sum(t["subset"] == s for t in manifest["tracks"]) for s in ("train", "test")}
    print(f"{args.root}: {n['train']} train ({sum(t['valid'] for t in manifest['tracks'])} valid), {n['test']} test tracks")


if __name__ == "__main__":
    main()
