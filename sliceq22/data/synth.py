"""A tiny additive-synthesis band: deterministic music-like test signals with no dependencies.

Used by tests, benchmarks and the transform demo wherever a real recording is not at hand:
it has what a time-frequency transform should be judged on (kick and snare transients,
hi-hat noise, a bass line, sustained chords, a vibrato lead, stereo panning), and it is
the same on every machine for a given seed. The SoundFont-rendered dataset of
``sliceq22.data`` is the realistic material; this is the always-available fallback.
"""

from __future__ import annotations

import numpy as np

from .musdb import SOURCES as STEMS

# I-vi-IV-V in a few keys, as MIDI notes of the chord roots
_PROGRESSION = (0, 9, 5, 7)
_MINOR = {9}


def _midi_hz(n: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(n) - 69.0) / 12.0)


def _env(n: int, sr: float, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / sr
    return np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)


def _tone(freq: float, n: int, sr: float, harmonics: int, rolloff: float, phase: float, vibrato: float = 0.0) -> np.ndarray:
    t = np.arange(n) / sr
    inst = freq * (1.0 + vibrato * np.sin(2 * np.pi * 5.5 * t))
    ph = 2 * np.pi * np.cumsum(inst) / sr + phase
    out = np.zeros(n)
    for h in range(1, harmonics + 1):
        if h * freq >= sr / 2:
            break
        out += np.sin(h * ph) / h**rolloff
    return out


def synth_stems(seconds: float, sample_rate: int = 44100, seed: int = 0) -> dict[str, np.ndarray]:
    """Render the four stems of a short procedural song.

    Not normalised: stems may exceed full scale (peaks ~1.3-1.5), so scale them before
    writing integer PCM. :func:`synth_mixture` is their sum scaled to a 0.9 peak: to pair it
    with stems as references, scale the stems by the same factor. The drum pattern's random
    draws depend on the length, so two lengths of one seed differ from the start.

    Args:
        seconds: duration.
        sample_rate: Hz.
        seed: everything (tempo, key, patterns, panning) follows from it.

    Returns:
        ``{"drums", "bass", "other", "vocals"}`` -> float64 arrays of shape ``(2, samples)``.
    """
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    rng = np.random.default_rng(seed)
    sr = float(sample_rate)
    n = int(round(seconds * sr))
    bpm = rng.uniform(80, 150)
    beat = int(sr * 60.0 / bpm)
    key = 36 + int(rng.integers(0, 12))
    stems = {k: np.zeros((2, n)) for k in STEMS}
    pans = {"drums": 0.5, "bass": 0.5, "other": rng.uniform(0.2, 0.4), "vocals": rng.uniform(0.55, 0.7)}

    def add(stem: str, start: int, sig: np.ndarray, pan: float | None = None) -> None:
        if start >= n:
            return
        sig = sig[: n - start]
        p = pans[stem] if pan is None else pan
        stems[stem][0, start : start + len(sig)] += np.cos(p * np.pi / 2) * sig
        stems[stem][1, start : start + len(sig)] += np.sin(p * np.pi / 2) * sig

    # drums: kick on 1 and 3, snare on 2 and 4, hi-hats on eighths
    for b in range(0, n // beat + 1):
        t0 = b * beat
        if b % 2 == 0:
            m = int(0.35 * sr)
            t = np.arange(m) / sr
            kick = np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 9)
            add("drums", t0, 0.9 * kick)
        else:
            m = int(0.25 * sr)
            snare = rng.standard_normal(m) * _env(m, sr, 0.001, 0.06) + 0.4 * _tone(190, m, sr, 1, 1, 0) * _env(m, sr, 0.001, 0.08)
            add("drums", t0, 0.5 * snare, pan=0.45)
        for half in (0, beat // 2):
            m = int(0.05 * sr)
            hat = np.diff(rng.standard_normal(m + 1)) * _env(m, sr, 0.0005, 0.015)
            add("drums", t0 + half, 0.12 * hat, pan=0.65)

    # harmony: one chord per bar of four beats
    bar = 4 * beat
    for i, start in enumerate(range(0, n, bar)):
        root = key + _PROGRESSION[i % len(_PROGRESSION)]
        third = 3 if _PROGRESSION[i % len(_PROGRESSION)] in _MINOR else 4
        for q in range(4):  # bass: root and fifth, one note per beat
            note = root - 12 + (7 if q % 2 else 0)
            m = beat
            add("bass", start + q * beat, 0.35 * _tone(_midi_hz(note), m, sr, 8, 1.2, 0.0) * _env(m, sr, 0.005, 0.4))
        for off in (12, 12 + third, 19):  # sustained triad, an octave up
            m = bar
            sig = _tone(_midi_hz(root + off), m, sr, 6, 1.8, rng.uniform(0, 2 * np.pi)) * _env(m, sr, 0.05, 2.0)
            add("other", start, 0.12 * sig)
        for q in range(8):  # lead: a pentatonic line on eighth notes with vibrato
            if rng.random() < 0.2:
                continue
            note = root + 24 + int(rng.choice([0, 2, 4, 7, 9, 12]))
            m = beat // 2
            sig = _tone(_midi_hz(note), m, sr, 10, 1.0, 0.0, vibrato=0.006) * _env(m, sr, 0.02, 0.5)
            add("vocals", start + q * (beat // 2), 0.15 * sig)
    return stems


def synth_mixture(seconds: float, sample_rate: int = 44100, seed: int = 0) -> np.ndarray:
    """The sum of :func:`synth_stems`, peak-normalised to 0.9. Shape ``(2, samples)``."""
    mix = sum(synth_stems(seconds, sample_rate, seed).values())
    return mix * (0.9 / max(np.abs(mix).max(), 1e-12))
