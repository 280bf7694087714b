"""Chorale-based material: Bach10-style instrument stems and piano/orchestra alignment scenarios.

Bach10-style (``render_bach10``): the four voices of a chorale on violin, clarinet, tenor
saxophone and bassoon (the instrumentation of the Bach10 data set), one performance per
piece with a drifting tempo; ``<root>/<NN - piece>/{mix,violin,clarinet,saxophone,bassoon}.wav``
and ``notes.json`` (every note's onset, offset and pitch per instrument). For NMF and ILRMA.

Alignment (``render_alignment``), the task of seed 000: ``<root>/sN/`` holds ``p.wav`` (the
pianist alone), ``o.wav`` (the orchestra alone) and ``po.wav`` (both together), three separate
performances of one chorale arrangement with independent, smoothly varying tempo maps, global
tempo factors in [0.8, 1.25] and lead-in silences. The piano plays the soprano (doubled an
octave up) and the bass; the orchestra plays all four voices on strings with a flute on the
soprano. Ground truth: ``p.beats``, ``o.beats``, ``po.beats`` (the time in seconds of every
score beat 0, 1, 2, ... in that recording, one per line) and ``scenario.info`` (JSON: piece,
tempi, factors, lead-ins, the orchestra's start and end in ``po``, gains). Audio is mono at
22.05 kHz, what the seed's chroma features read.

Balance: the GM SoundFont's piano sits ~27 dB under its strings; each stem is brought to a
common active loudness and the piano then sits ``piano_db`` (default -3 dB) against the
orchestra, as a concerto soloist does.
"""

from __future__ import annotations

import json
import os

import numpy as np

from .corpus import Score, TempoMap, bach_chorales
from .render import _write_json, active_rms, check_render_args, claim_root, default_soundfont, render_part, write_track
from .songs import Note, Part

BACH10 = {"soprano": ("violin", 40), "alto": ("clarinet", 71), "tenor": ("saxophone", 66), "bass": ("bassoon", 70)}


def _notes(voice: list, tempo: TempoMap, transpose: int = 0, legato: float = 0.97, velocity: int = 90) -> list[Note]:
    on = tempo.seconds([b for b, _, _ in voice])
    off = tempo.seconds([b + legato * d for b, d, _ in voice])
    return [Note(float(a), float(z), p + transpose, velocity) for a, z, (_, _, p) in zip(on, off, voice)]


def _render(parts: list[Part], seconds: float, sample_rate: int, soundfont: bytes) -> dict[str, np.ndarray]:
    """Render parts, each normalised to unit active RMS times ``10^(gain_db/20)``; mono float64."""
    out = {}
    for part in parts:
        audio = render_part(part, seconds, sample_rate, soundfont).astype(np.float64).mean(axis=0, keepdims=True)
        rms = active_rms(audio, sample_rate)
        out[part.stem] = audio * (10 ** (part.gain_db / 20) / rms if rms > 0 else 0.0)
    return out


def _peak_normalise(audio: dict[str, np.ndarray], peak: float, mix_name: str) -> dict[str, np.ndarray]:
    mix = sum(audio.values())
    loudest = max(np.abs(mix).max(), *(np.abs(a).max() for a in audio.values()), 1e-9)
    out = {k: (v * (peak / loudest)).astype(np.float32) for k, v in audio.items()}
    out[mix_name] = sum(v.astype(np.float64) for v in out.values()).astype(np.float32)
    return out


def _params(kind: str, n: int, seed: int, sample_rate: int, soundfont: bytes, **extra) -> dict:
    import hashlib

    return {"kind": kind, "n": int(n), "seed": int(seed), "sample_rate": int(sample_rate),
            "soundfont_sha256": hashlib.sha256(soundfont).hexdigest(), **extra}


def render_bach10(root: str, pieces: int = 10, seed: int = 0, sample_rate: int = 44100, soundfont: str | None = None) -> dict:
    """Render Bach10-style pieces (see the module docstring). Returns the manifest."""
    check_render_args(sample_rate, seed=seed, pieces=pieces)
    sf_bytes = open(soundfont or default_soundfont(), "rb").read()
    params = _params("bach10", pieces, seed, sample_rate, sf_bytes)
    existing = claim_root(root, params)
    if existing is not None and existing.get("complete"):
        return existing
    rng = np.random.default_rng(seed)
    scores = bach_chorales(pieces, seed)
    manifest = {"params": params, "complete": False, "pieces": []}
    os.makedirs(root, exist_ok=True)
    _write_json(os.path.join(root, "render.json"), manifest)  # claims the root: an interrupted render resumes
    for i, score in enumerate(scores):
        tempo = TempoMap(float(rng.uniform(60, 88)), lead_in=0.5, depth=0.05, seed=int(rng.integers(2**31)))
        seconds = float(tempo.seconds(score.beats)[0]) + 1.5
        parts, notes = [], {}
        for voice, (instrument, program) in BACH10.items():
            ns = _notes(score.voices[voice], tempo, velocity=int(rng.integers(80, 105)))
            parts.append(Part(instrument, program, False, ns, gain_db=float(rng.uniform(-3, 3))))
            notes[instrument] = [[n.start, n.end, n.pitch] for n in ns]
        name = f"{i + 1:02d} - {score.name}"
        manifest["pieces"].append({"name": name, "piece": score.name, "bpm": tempo.bpm, "seconds": seconds})
        folder = os.path.join(root, name)
        if not (os.path.isfile(os.path.join(folder, "mix.wav")) and os.path.isfile(os.path.join(folder, "notes.json"))):
            audio = _peak_normalise(_render(parts, seconds, sample_rate, sf_bytes), 0.8, "mix")
            write_track(folder, audio, sample_rate, {"notes.json": json.dumps(notes, indent=2)})
    manifest["complete"] = True
    _write_json(os.path.join(root, "render.json"), manifest)
    return manifest


def _piano(score: Score, tempo: TempoMap, gain_db: float) -> Part:
    """The soloist: the soprano doubled an octave up, and the bass."""
    notes = _notes(score.voices["soprano"], tempo, 12, 0.9, 96) + _notes(score.voices["soprano"], tempo, 0, 0.9, 88)
    notes += _notes(score.voices["bass"], tempo, 0, 0.9, 90)
    return Part("piano", 0, False, notes, gain_db=gain_db)


def _orchestra(score: Score, tempo: TempoMap) -> list[Part]:
    """All four voices on strings, cello and basses on the bass, a flute on the soprano."""
    strings = [Part(f"strings_{v}", 48, False, _notes(score.voices[v], tempo, 0, 1.0, 80), gain_db=-6.0) for v in ("soprano", "alto", "tenor")]
    cello = Part("cello", 42, False, _notes(score.voices["bass"], tempo, 0, 1.0, 85), gain_db=-6.0)
    basses = Part("contrabass", 43, False, _notes(score.voices["bass"], tempo, -12, 1.0, 80), gain_db=-9.0)
    flute = Part("flute", 73, False, _notes(score.voices["soprano"], tempo, 12, 0.95, 75), gain_db=-9.0)
    return strings + [cello, basses, flute]


def _beats_text(times: np.ndarray) -> str:
    """A ``.beats`` file's text: one time in seconds per line."""
    return "\n".join(f"{t:.6f}" for t in times) + "\n"


def render_alignment(
    root: str,
    scenarios: int = 6,
    seed: int = 0,
    sample_rate: int = 22050,
    piano_db: float = -3.0,
    stretch_range: tuple[float, float] = (0.8, 1.25),
    soundfont: str | None = None,
) -> dict:
    """Render piano/orchestra alignment scenarios (see the module docstring). Returns the manifest."""
    check_render_args(sample_rate, seed=seed, scenarios=scenarios)
    sf_bytes = open(soundfont or default_soundfont(), "rb").read()
    params = _params("alignment", scenarios, seed, sample_rate, sf_bytes, piano_db=piano_db, stretch_range=list(stretch_range))
    existing = claim_root(root, params)
    if existing is not None and existing.get("complete"):
        return existing
    rng = np.random.default_rng(seed)
    # several pieces, reused with different performances when scenarios outnumber them
    scores = bach_chorales(max(1, (scenarios + 1) // 2), seed)
    manifest = {"params": params, "complete": False, "scenarios": []}
    os.makedirs(root, exist_ok=True)
    _write_json(os.path.join(root, "render.json"), manifest)  # claims the root: an interrupted render resumes
    for i in range(scenarios):
        score: Score = scores[i % len(scores)]
        bpm = float(rng.uniform(56, 84))
        maps = {
            rec: TempoMap(bpm, float(rng.uniform(*stretch_range)), float(rng.uniform(0.5, 3.0)), 0.08, int(rng.integers(2**31)))
            for rec in ("p", "o", "po")
        }
        beats = np.arange(int(np.floor(score.beats)) + 1, dtype=np.float64)

        info = {
            "piece": score.name,
            "beats": len(beats),
            "nominal_bpm": bpm,
            "tempo_factor": {rec: m.stretch for rec, m in maps.items()},
            "lead_in_seconds": {rec: m.lead_in for rec, m in maps.items()},
            "orch_start_sec": float(maps["po"].seconds(0.0)[0]),
            "orch_end_sec": float(maps["po"].seconds(score.beats)[0]),
            "piano_db_vs_orchestra": piano_db,
            "sample_rate": sample_rate,
        }
        folder = os.path.join(root, f"s{i + 1}")
        files = [f"{rec}.wav" for rec in maps] + [f"{rec}.beats" for rec in maps] + ["scenario.info"]
        if not all(os.path.isfile(os.path.join(folder, f)) for f in files):  # else rendered before an interruption
            out = {}
            for rec, tempo in maps.items():
                seconds = float(tempo.seconds(score.beats)[0]) + 2.0
                parts = ([_piano(score, tempo, piano_db)] if "p" in rec else []) + (_orchestra(score, tempo) if "o" in rec else [])
                audio = _render(parts, seconds, sample_rate, sf_bytes)
                if "o" in rec:  # the orchestra as one stem at 0 dB active loudness
                    orch = sum(v for k, v in audio.items() if k != "piano")
                    audio = {k: v for k, v in audio.items() if k == "piano"}
                    audio["orchestra"] = orch / max(active_rms(orch, sample_rate), 1e-12)
                out[rec] = sum(audio.values())
            peak = max(np.abs(a).max() for a in out.values())
            extras = {f"{rec}.beats": _beats_text(tempo.seconds(beats)) for rec, tempo in maps.items()}
            extras["scenario.info"] = json.dumps(info, indent=2)
            write_track(folder, {rec: (a * (0.8 / peak)).astype(np.float32) for rec, a in out.items()}, sample_rate, extras)
        manifest["scenarios"].append({"name": f"s{i + 1}", **info})
    manifest["complete"] = True
    _write_json(os.path.join(root, "render.json"), manifest)
    return manifest


def read_beats(path: str, duration: float | None = None) -> np.ndarray:
    """Read a ``.beats`` file (one time in seconds per line).

    Raises:
        ValueError: naming the file: a line that is not a number, no beats, a time that is not
            finite, negative or (with ``duration``, the recording's length in seconds) past the
            recording's end, or times that decrease.
    """
    times = []
    with open(path) as fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                times.append(float(line))
            except ValueError:
                raise ValueError(f"{path}, line {i}: {line.strip()!r} is not a time in seconds") from None
    beats = np.array(times)
    if beats.size == 0:
        raise ValueError(f"{path} holds no beats")
    if not np.isfinite(beats).all() or beats.min() < 0:
        raise ValueError(f"{path}: beat times must be finite and >= 0")
    if np.any(np.diff(beats) < 0):
        raise ValueError(f"{path}: beat times decrease at line {int(np.argmax(np.diff(beats) < 0)) + 2}; sort them")
    if duration is not None and beats.max() > duration + 0.05:
        raise ValueError(f"{path}: a beat at {beats.max():.3f} s is past the end of its {duration:.3f} s recording")
    return beats


def read_scenario_info(folder: str) -> dict:
    """The ``scenario.info`` JSON of a scenario folder: piece, tempi, factors, lead-ins, gains."""

    with open(os.path.join(folder, "scenario.info")) as fh:
        return json.load(fh)
