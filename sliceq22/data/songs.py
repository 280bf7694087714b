"""Procedural songs in four parts (drums, bass, other, vocals), as General MIDI note lists.

Every song follows from one seed: a style (tempo range, meter, groove, patches), a key and
mode, a chord progression, a section plan (intro without vocals, verses, a chorus with a
busier accompaniment, breaks), per-part patterns and a mix (levels, panning). The result is
symbolic; ``sliceq22.data.render`` turns it into audio with a SoundFont.

Design record:
    The embedded dataset must be worth separating: drum hits on the GM kit (kick, snare,
    hats, toms, crashes), bass lines that move with the harmony, sustained and arpeggiated
    accompaniment on pianos/organs/guitars/strings/pads, and a lead on voice-like patches
    (choir aahs, voice oohs, synth voice) with vibrato and phrasing rests, because a vocal
    model learns nothing from a lead that never stops. Parts overlap in frequency on purpose
    (bass vs kick, lead vs accompaniment).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .musdb import SOURCES

STEMS = SOURCES  # the four MUSDB stems, defined once in .musdb


@dataclass
class Note:
    """One note of a part, in seconds."""

    start: float  # seconds
    end: float  # seconds
    pitch: int  # MIDI key
    velocity: int  # 1..127


@dataclass
class Part:
    """One instrument of a song: its stem (drums/bass/other/vocals), GM program, notes and mix settings."""

    stem: str
    program: int  # GM program (0-based); drums use the kit of bank 128
    is_drum: bool
    notes: list[Note] = field(default_factory=list)
    pan: float = 0.5  # 0 = left, 1 = right
    gain_db: float = 0.0
    vibrato_cents: float = 0.0


@dataclass
class Song:
    """A generated song: its style, tempo, meter, key, length and parts."""

    title: str
    style: str
    bpm: float
    meter: int
    key: str
    seconds: float
    parts: list[Part]


# scale steps of the modes
_MODES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
_PROGRESSIONS = {
    "major": ((0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 4, 3), (1, 4, 0, 5)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 5, 3, 4)),
}
_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")

# GM drum keys
KICK, SNARE, RIM, CLOSED_HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE, LOW_TOM, MID_TOM, HIGH_TOM = (
    36, 38, 37, 42, 44, 46, 49, 51, 45, 47, 50,
)

STYLES = {
    "rock": dict(bpm=(96, 140), meter=4, swing=0.0, bass=(33, 34), other=(29, 30, 0, 27), vocals=(52, 53, 85)),
    "funk": dict(bpm=(88, 112), meter=4, swing=0.0, bass=(36, 37, 38), other=(7, 4, 26), vocals=(53, 54, 85)),
    "ballad": dict(bpm=(60, 82), meter=4, swing=0.0, bass=(32, 33), other=(0, 1, 48, 49), vocals=(52, 53)),
    "waltz": dict(bpm=(120, 168), meter=3, swing=0.0, bass=(32, 43), other=(0, 21, 48), vocals=(52, 53, 54)),
    "shuffle": dict(bpm=(80, 118), meter=4, swing=1 / 3, bass=(32, 33), other=(16, 17, 4), vocals=(53, 85)),
    "electro": dict(bpm=(116, 132), meter=4, swing=0.0, bass=(38, 39), other=(81, 89, 90, 88), vocals=(54, 85, 52)),
}


def _chord(root_pc: int, degree: int, mode: str) -> list[int]:
    """Triad (pitch classes relative to C, unwrapped) on a scale degree."""
    steps = _MODES[mode]
    return [root_pc + steps[(degree + i) % 7] + 12 * ((degree + i) // 7) for i in (0, 2, 4)]


def _swing(t_beats: float, swing: float) -> float:
    """Delay off-beat eighths by ``swing`` of a beat (1/3: triplet shuffle)."""
    frac = t_beats % 1.0
    return t_beats + swing * 0.5 if abs(frac - 0.5) < 1e-9 else t_beats


def compose_song(seed: int, seconds: float, style: str | None = None) -> Song:
    """Compose one song.

    Args:
        seed: everything follows from it.
        seconds: length of the song (the last notes are cut at the end).
        style: one of :data:`STYLES`, or None to draw one.

    Returns:
        The :class:`Song`.
    """
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    rng = np.random.default_rng(seed)
    style = style or str(rng.choice(sorted(STYLES)))
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {', '.join(sorted(STYLES))}")
    st = STYLES[style]
    bpm = float(rng.uniform(*st["bpm"]))
    beat = 60.0 / bpm
    meter = st["meter"]
    swing = st["swing"]
    mode = "minor" if rng.random() < 0.4 else "major"
    tonic = int(rng.integers(0, 12))
    progression = _PROGRESSIONS[mode][int(rng.integers(len(_PROGRESSIONS[mode])))]
    bars = int(np.ceil(seconds / (beat * meter))) + 1
    # sections: 0 intro (no vocals), 1 verse, 2 chorus (busier), 3 break (sparse drums)
    intro = min(2, bars // 6)  # a short song starts singing at once
    plan = []
    for b in range(bars):
        if b < intro:
            plan.append(0)
        else:
            block = ((b - intro) // 4) % 4
            plan.append((1, 2, 1, 3)[block])

    def t(bar: int, beat_pos: float) -> float:
        return (bar * meter + _swing(beat_pos, swing)) * beat

    drums = Part("drums", 0, True, pan=0.5, gain_db=float(rng.uniform(-3, 3)))
    bass = Part("bass", int(rng.choice(st["bass"])), False, pan=0.5, gain_db=float(rng.uniform(-4, 2)))
    other = Part("other", int(rng.choice(st["other"])), False, pan=float(rng.uniform(0.2, 0.8)), gain_db=float(rng.uniform(-6, 0)))
    vocals = Part(
        "vocals", int(rng.choice(st["vocals"])), False, pan=float(rng.uniform(0.4, 0.6)),
        gain_db=float(rng.uniform(-2, 4)), vibrato_cents=float(rng.uniform(15, 35)),
    )
    sub = 4 if style == "funk" else 2  # hi-hat subdivision per beat
    kick_extra = rng.random(8) < 0.35

    for bar in range(bars):
        section = plan[bar]
        degree = progression[bar % len(progression)]
        chord = _chord(tonic, degree, mode)
        root = chord[0] % 12
        # ---- drums
        hits = []
        if style == "electro":
            hits += [(b, KICK, 118) for b in range(meter)]
            hits += [(b + 0.5, OPEN_HAT, 70) for b in range(meter)]
            hits += [(b, SNARE, 100) for b in (1, 3)] if section != 3 else []
        elif style == "waltz":
            hits += [(0, KICK, 112), (1, CLOSED_HAT, 70), (2, CLOSED_HAT, 66)]
            hits += [(1, RIM, 60)] if section == 2 else []
        else:
            hits += [(0, KICK, 115), (meter // 2, KICK, 105)]
            hits += [(b + 0.5, KICK, 90) for b in range(meter) if kick_extra[(bar + b) % 8] and section != 3]
            hits += [(b, SNARE, 105) for b in range(1, meter, 2)] if section != 3 else [(meter - 1, SNARE, 80)]
            hat = RIDE if section == 2 and style == "rock" else CLOSED_HAT
            hits += [(b + i / sub, hat, 62 + 18 * (i == 0)) for b in range(meter) for i in range(sub) if section != 3]
        if section == 2 and bar % 4 == 0 or (bar > 0 and plan[bar - 1] != section):
            hits.append((0, CRASH, 100))
        if section == 1 and bar % 4 == 3 and style not in ("electro", "waltz"):
            hits += [(meter - 1, HIGH_TOM, 95), (meter - 0.5, MID_TOM, 95), (meter - 0.25, LOW_TOM, 100)]
        for pos, key, vel in hits:
            start = t(bar, pos)
            vel = int(np.clip(vel + rng.integers(-8, 9), 1, 127))
            drums.notes.append(Note(start, start + 0.2, key, vel))
        # ---- bass in octave 2: style patterns (walking quarters, offbeat roots, ...); the default
        # plays eighth-note roots (kept as rendered: changing it would change every embedded render)
        base = 36 + root
        if style == "funk":
            pattern = [(0, 0, 0.4), (0.75, 12, 0.2), (1.5, 0, 0.2), (2, 7, 0.4), (2.75, 10, 0.2), (3.5, 12, 0.3)]
        elif style == "ballad":
            pattern = [(0, 0, 2.0), (2, 7, 2.0)]
        elif style == "waltz":
            pattern = [(0, 0, 1.0)]
        elif style == "shuffle":  # walking quarters
            pattern = [(b, (0, 4 if mode == "major" else 3, 7, 9)[b], 0.9) for b in range(4)]
        elif style == "electro":
            pattern = [(b + 0.5, 0, 0.4) for b in range(meter)]
        else:
            pattern = [(b / 2, 0, 0.45) for b in range(2 * meter)]
        for pos, interval, dur in pattern:
            start = t(bar, pos)
            bass.notes.append(Note(start, start + dur * beat, base + interval, int(rng.integers(90, 115))))
        # ---- other: chords, arpeggios in the chorus
        voicing = [60 + (p - 60) % 12 if p < 60 else p for p in (48 + c for c in chord)]
        voicing = sorted(set(voicing))
        if section == 2 or style in ("ballad", "waltz"):
            steps = meter * 2
            for i in range(steps):
                pitch = voicing[i % len(voicing)] + 12 * (i // len(voicing) % 2)
                start = t(bar, i / 2)
                other.notes.append(Note(start, start + 0.9 * beat, pitch, int(rng.integers(60, 90))))
        if section != 3 or style == "ballad":
            hits_at = (0,) if style in ("ballad", "waltz") else ((0, 1.5, 2.5) if style == "funk" else (0, meter / 2))
            for pos in hits_at:
                start = t(bar, pos)
                dur = meter * beat if style in ("ballad", "waltz") else (0.4 if style == "funk" else 1.8) * beat
                for p in voicing:
                    other.notes.append(Note(start, start + dur, p, int(rng.integers(55, 85))))
        # ---- vocals: phrases in verse and chorus, chord tones on strong beats, rests
        if section in (1, 2) and not (bar % 4 == 3 and rng.random() < 0.6):
            scale = [tonic + s for s in _MODES[mode]]
            lead_pcs = [60 + (p % 12) for p in scale]
            pos = 0.0
            pitch = 60 + chord[0] % 12 + (12 if section == 2 else 0)
            while pos < meter - 0.25:
                dur = float(rng.choice((0.5, 1.0, 1.0, 1.5, 2.0))) if section == 1 else float(rng.choice((0.5, 0.5, 1.0)))
                dur = min(dur, meter - pos)
                if rng.random() < 0.15:
                    pos += dur
                    continue
                if pos % 1 == 0:  # strong beats: a chord tone near the last pitch
                    cands = [60 + (c % 12) + o for c in chord for o in (-12, 0, 12)]
                else:  # passing tones: a scale step
                    cands = [p + o for p in lead_pcs for o in (-12, 0, 12)]
                cands = [c for c in cands if 55 <= c <= 81]
                # near the last pitch, rarely the same one: a line that moves by steps and leaps
                pitch = min(cands, key=lambda c: abs(c - pitch) + 5 * (c == pitch) + rng.random() * 4)
                start = t(bar, pos)
                vocals.notes.append(Note(start, start + 0.95 * dur * beat, int(pitch), int(rng.integers(80, 110))))
                pos += dur

    for part in (drums, bass, other, vocals):
        part.notes = [
            Note(n.start, min(n.end, seconds), n.pitch, n.velocity) for n in part.notes if n.start < seconds - 0.05
        ]
    key = f"{_NAMES[tonic]} {mode}"
    title = f"{style.capitalize()} in {key}"
    return Song(title, style, bpm, meter, key, float(seconds), [drums, bass, other, vocals])


def compose_chorale_song(score, seconds: float, seed: int) -> Song:
    """A four-part corpus piece mapped to the four roles, repeated to fill ``seconds``.

    Soprano -> vocals (choir or voice), alto and tenor -> other (strings, organ or brass),
    bass -> bass (acoustic bass, cello or contrabass section), and a soft drum part (ride or
    brushes on the beats, kick on the downbeat) so that every stem sounds.

    Args:
        score: a :class:`sliceq22.data.corpus.Score`.
        seconds: song length.
        seed: tempo and instrumentation.
    """
    from .corpus import TempoMap

    rng = np.random.default_rng(seed)
    tempo = TempoMap(float(rng.uniform(66, 96)), depth=0.04, seed=int(rng.integers(2**31)))
    total_beats = float(score.beats)
    repeats = 1
    while tempo.seconds(total_beats * repeats)[0] < seconds:
        repeats += 1

    def notes(voice: str, transpose: int = 0, velocity: int = 90) -> list[Note]:
        out = []
        for r in range(repeats):
            for onset, dur, pitch in score.voices[voice]:
                a, z = tempo.seconds([onset + r * total_beats, onset + r * total_beats + 0.97 * dur])
                if a < seconds - 0.05:
                    out.append(Note(float(a), float(min(z, seconds)), pitch + transpose, int(velocity + rng.integers(-8, 9))))
        return out

    vocals = Part("vocals", int(rng.choice((52, 53))), False, notes("soprano", 0, 95), 0.5, float(rng.uniform(-1, 3)), float(rng.uniform(10, 25)))
    other_program = int(rng.choice((48, 19, 61)))
    other = Part("other", other_program, False, notes("alto") + notes("tenor"), float(rng.uniform(0.3, 0.7)), float(rng.uniform(-4, 0)))
    bass = Part("bass", int(rng.choice((32, 42, 43))), False, notes("bass", -12 if rng.random() < 0.5 else 0), 0.5, float(rng.uniform(-3, 1)))
    drums = Part("drums", 0, True, [], 0.5, float(rng.uniform(-8, -3)))
    hat = int(rng.choice((RIDE, PEDAL_HAT)))
    for b in range(int(total_beats * repeats)):
        t0 = float(tempo.seconds(b)[0])
        if t0 >= seconds - 0.05:
            break
        drums.notes.append(Note(t0, min(t0 + 0.2, seconds), hat, int(rng.integers(50, 70))))
        if b % score.beats_per_bar == 0:
            drums.notes.append(Note(t0, min(t0 + 0.2, seconds), KICK, int(rng.integers(70, 90))))
    return Song(f"Chorale {score.name}", "chorale", tempo.bpm, score.beats_per_bar, "as written", float(seconds), [drums, bass, other, vocals])
