"""Four-part scores from music21's corpus (Bach chorales) and performance tempo maps.

A :class:`Score` holds notes in *beats*; a :class:`TempoMap` turns beats into seconds for one
performance (global stretch, a smooth tempo wobble, a lead-in silence), so several renderings
of one score can differ in timing the way recordings of one piece do, while the time of every
score beat in every rendering is known exactly (the ground truth of the alignment task).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VOICES = ("soprano", "alto", "tenor", "bass")


@dataclass
class Score:
    """A four-part score in beats (a Bach chorale from music21's corpus): voice -> notes."""

    name: str
    beats: float  # length in beats (quarter notes)
    beats_per_bar: int
    voices: dict  # voice -> list of (onset_beats, duration_beats, midi_pitch)


def bach_chorales(n: int, seed: int = 0) -> list[Score]:
    """``n`` distinct four-part (SATB) Bach chorales from music21's offline corpus.

    The selection is a seeded permutation of the corpus, so it is the same on every machine
    with the same music21 corpus. Ties are merged into single notes.
    """
    try:
        from music21 import corpus
    except ImportError as err:  # pragma: no cover - a dependency
        raise ImportError("four-part scores need music21: pip install music21") from err
    paths = sorted(str(p) for p in corpus.getComposer("bach") if "bwv" in str(p))
    order = np.random.default_rng(seed).permutation(len(paths))
    scores = []
    for i in order:
        if len(scores) == n:
            break
        try:
            s = corpus.parse(paths[i])
        except Exception:  # a few corpus files do not parse; skip them
            continue
        names = [str(p.partName or "").lower() for p in s.parts]
        if len(s.parts) != 4 or names != list(VOICES):
            continue
        voices = {}
        for voice, part in zip(VOICES, s.parts):
            notes = [
                (float(nt.offset), float(nt.quarterLength), int(nt.pitch.midi))
                for nt in part.stripTies().flatten().notes
                if nt.isNote and nt.quarterLength > 0
            ]
            voices[voice] = notes
        if not all(voices.values()):
            continue
        ts = s.recurse().getElementsByClass("TimeSignature")
        bpb = int(ts[0].numerator) if ts else 4
        name = paths[i].replace("\\", "/").split("/")[-1].rsplit(".", 1)[0]
        scores.append(Score(name, float(s.duration.quarterLength), bpb, voices))
    if len(scores) < n:
        raise ValueError(f"music21's corpus offers only {len(scores)} usable SATB chorales, {n} requested")
    return scores


class TempoMap:
    """Beats to seconds for one performance.

    ``seconds(b) = lead_in + integral_0^b 60 / (bpm * stretch * (1 + depth * w(beta))) d beta``,
    with ``w`` a sum of two slow sinusoids (periods of 6-24 beats): the tempo drifts smoothly
    by up to ``depth``, never jumps.

    Args:
        bpm: nominal tempo of the score.
        stretch: global tempo factor of this performance (0.8 = slower, 1.25 = faster).
        lead_in: silence before beat 0, in seconds.
        depth: relative depth of the tempo drift.
        seed: phases and periods of the drift.
    """

    def __init__(self, bpm: float, stretch: float = 1.0, lead_in: float = 0.0, depth: float = 0.08, seed: int = 0):
        if bpm <= 0 or stretch <= 0 or lead_in < 0 or not 0 <= depth < 0.5:
            raise ValueError(f"invalid tempo map: bpm={bpm}, stretch={stretch}, lead_in={lead_in}, depth={depth}")
        rng = np.random.default_rng(seed)
        self.bpm, self.stretch, self.lead_in, self.depth = bpm, stretch, lead_in, depth
        self.periods = rng.uniform(6, 24, size=2)
        self.phases = rng.uniform(0, 2 * np.pi, size=2)

    def tempo(self, beats: np.ndarray) -> np.ndarray:
        """Instantaneous tempo in beats per minute."""
        b = np.asarray(beats, dtype=np.float64)
        w = sum(np.sin(2 * np.pi * b / p + ph) for p, ph in zip(self.periods, self.phases)) / 2
        return self.bpm * self.stretch * (1 + self.depth * w)

    def seconds(self, beats) -> np.ndarray:
        """Time in seconds of score positions ``beats`` (>= 0), by exact-enough quadrature."""
        b = np.atleast_1d(np.asarray(beats, dtype=np.float64))
        if (b < 0).any():
            raise ValueError("beats must be >= 0")
        grid = np.linspace(0, max(b.max(), 1e-9), max(2, int(np.ceil(b.max() * 64)) + 1))
        spb = 60.0 / self.tempo(grid)
        cum = np.concatenate(([0.0], np.cumsum((spb[1:] + spb[:-1]) / 2 * np.diff(grid))))
        return self.lead_in + np.interp(b, grid, cum)
