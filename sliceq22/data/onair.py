"""OnAir Music Dataset adapter: raw multitrack stems -> the four MUSDB targets, MUSDB layout.

The OnAir Music project publishes each song as the raw stems of its session (``Kick.wav``,
``Snare.wav``, ``Bass DI.wav``, ``Gtr L.wav``, ``Lead Vox.wav``, ...). This adapter sums them
into ``drums``, ``bass``, ``other`` and ``vocals`` by a table of name patterns and writes
``<dst>/<subset>/<Artist - Title>/{mixture,drums,bass,other,vocals}.wav`` (float32;
``mixture`` = sum of the four), which every reader in sliceq22 understands.

    python -m sliceq22.data.onair SRC_SONGS_DIR DST_ROOT [--subset train] [--unknown error|other]

Raw stems are only read; an existing destination track is never overwritten.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import numpy as np
import soundfile as sf

from .audio import list_entries
from .musdb import SOURCES
from .render import write_track

STEM_EXTENSIONS = (".wav", ".flac", ".aif", ".aiff", ".ogg", ".mp3")

# first match wins; patterns are matched case-insensitively against the file name without
# extension. Instrument names come before the generic words "backing", "harmony" and "room"
# ("Backing Gtr" is a guitar, "Piano Room Mic" a piano), drum words before "bass" ("Bass Drum").
DEFAULT_TABLE: tuple[tuple[str, str], ...] = (
    (r"kick|snare|\bsn\b|hi.?hats?|\bhh\b|\bhats?\b|\btoms?\b|overhead|\boh\b|cymbal|crash|\bride\b|drum|perc|clap|shaker"
     r"|tamb|cowbell|conga|bongo", "drums"),
    (r"vox|vocal|voice|choir|singer|\bbvs?\b|adlib|lead ?v", "vocals"),
    (r"bass ?(clarinet|flute|trombone|sax|harmonica)", "other"),  # woodwinds and brass, not the bass
    (r"bass(?!oon)|\bsub\b|808", "bass"),
    (r"gtr|guitar|keys|piano|synth|pad|organ|string|brass|horn|sax|trumpet|violin|viola|cello|bassoon|flute|clarinet|oboe"
     r"|lead|arp|pluck|fx|sample", "other"),
    (r"backing|harmony|\bbgv", "vocals"),
    (r"room|\bamb", "drums"),
)


def normalise(name: str) -> str:
    """A stem's file name as words: lower case, ``_``/``-``/``.`` as spaces, digits apart from
    letters (``Tom_1``, ``Tom1`` and ``OH_L`` read as ``tom 1`` and ``oh l``, so the table's word
    boundaries match them: ``_`` and digits are word characters to a regex)."""
    stem = os.path.splitext(os.path.basename(name))[0].lower()
    stem = re.sub(r"[_\-.]+", " ", stem)
    return re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", stem)


def classify(name: str, table=DEFAULT_TABLE, unknown: str = "error") -> str | None:
    """Target of a raw stem by its file name (``None`` when ``unknown == "skip"`` and nothing matches)."""
    stem = normalise(name)
    for pattern, target in table:
        if re.search(pattern, stem):
            return target
    if unknown == "error":
        raise ValueError(f"no target for raw stem {name!r}; add a pattern to the table or pass unknown='other' (--unknown other)")
    return "other" if unknown == "other" else None


def check_song(song_dir: str, dst_root: str, subset: str = "train", table=DEFAULT_TABLE, unknown: str = "error") -> dict:
    """Everything :func:`convert_song` needs, checked without writing anything.

    Returns:
        ``{"dst", "rate", "frames", "stems": {file: target}}``.

    Raises:
        ValueError: no stems, an unreadable stem, stems of different sample rates or lengths,
            more than two channels, an unmatched stem (with ``unknown="error"``), or an
            existing destination track.
    """
    files = list_entries(song_dir, "file", STEM_EXTENSIONS)
    if not files:
        raise ValueError(f"no audio stems ({', '.join(STEM_EXTENSIONS)}) in {song_dir}")
    name = os.path.basename(os.path.normpath(song_dir))
    dst = os.path.join(dst_root, subset, name)
    if os.path.exists(dst):
        raise ValueError(f"{dst} exists already: refusing to overwrite it")
    infos = {}
    for f in files:
        try:
            infos[f] = sf.info(os.path.join(song_dir, f))
        except Exception as exc:  # soundfile's own error types
            raise ValueError(f"cannot read {os.path.join(song_dir, f)} as audio: {exc}") from exc
    rates = {i.samplerate for i in infos.values()}
    if len(rates) != 1:
        raise ValueError(f"stems of {song_dir} have different sample rates: {sorted(rates)}")
    lengths = {i.frames for i in infos.values()}
    if len(lengths) != 1:
        longest = max(infos, key=lambda f: infos[f].frames)
        shortest = min(infos, key=lambda f: infos[f].frames)
        raise ValueError(f"stems of {song_dir} differ in length: {longest} has {infos[longest].frames} frames, {shortest} {infos[shortest].frames}")
    wide = [f for f, i in infos.items() if i.channels > 2]
    if wide:
        raise ValueError(f"{os.path.join(song_dir, wide[0])} has {infos[wide[0]].channels} channels; expected mono or stereo stems")
    if unknown == "error":  # every unmatched stem of the song at once, with the song named
        unmatched = [f for f in files if classify(f, table, "skip") is None]
        if unmatched:
            raise ValueError(f"{song_dir}: no target for raw stem(s) {', '.join(unmatched)}; add a pattern to the table "
                             f"or pass --unknown other (or skip)")
    stems = {f: classify(f, table, unknown) for f in files}
    if all(t is None for t in stems.values()):  # would convert to an all-silent track
        raise ValueError(f"no stem of {song_dir} matches a target ({', '.join(sorted(stems))}): add patterns to the "
                         f"table or use --unknown other")
    (rate,), (frames,) = rates, lengths
    return {"dst": dst, "rate": rate, "frames": frames, "stems": {f: t for f, t in stems.items() if t is not None}}


def convert_song(song_dir: str, dst_root: str, subset: str = "train", table=DEFAULT_TABLE, unknown: str = "error") -> str:
    """Convert one song folder of raw stems. Returns the written track folder.

    Raises:
        ValueError: as :func:`check_song`; nothing is written then.
    """
    plan = check_song(song_dir, dst_root, subset, table, unknown)
    name = os.path.basename(plan["dst"])
    sums = {s: np.zeros((2, plan["frames"])) for s in SOURCES}
    for f, target in plan["stems"].items():
        data, _ = sf.read(os.path.join(song_dir, f), dtype="float64", always_2d=True)
        sums[target] += data.T if data.shape[1] == 2 else np.repeat(data.T, 2, axis=0)
    audio = {s: sums[s].astype(np.float32) for s in SOURCES}
    audio["mixture"] = sum(a.astype(np.float64) for a in audio.values()).astype(np.float32)
    if np.abs(audio["mixture"]).max() >= 1.0:
        print(f"warning: the mixture of {name} clips (peak {np.abs(audio['mixture']).max():.2f}); kept as float", file=sys.stderr)
    os.makedirs(os.path.dirname(plan["dst"]), exist_ok=True)
    write_track(plan["dst"], audio, plan["rate"])
    return plan["dst"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", help="a folder of song folders, each holding raw stems")
    parser.add_argument("dst", help="MUSDB-layout root to write into")
    parser.add_argument("--subset", default="train", choices=("train", "test"))
    parser.add_argument("--unknown", default="error", choices=("error", "other", "skip"))
    args = parser.parse_args(argv)
    if not os.path.isdir(args.src):
        sys.exit(f"error: {args.src} is not a folder of song folders")
    for folder in (args.dst, os.path.join(args.dst, args.subset)):
        if os.path.exists(folder) and not os.path.isdir(folder):
            sys.exit(f"error: {folder} is a file: DST_ROOT must be a folder (or not exist yet)")
    dst = os.path.realpath(args.dst)  # a DST_ROOT inside SRC is not a song
    songs = [s for s in list_entries(args.src, "dir")
             if os.path.commonpath([os.path.realpath(os.path.join(args.src, s)), dst]) != os.path.realpath(os.path.join(args.src, s))]
    if not songs:
        sys.exit(f"error: no song folders in {args.src}")
    problems = []  # every song is checked before any is written: a bad one late must not leave a half-converted root
    for song in songs:
        try:
            check_song(os.path.join(args.src, song), args.dst, args.subset, unknown=args.unknown)
        except ValueError as err:
            problems.append(str(err))
    if problems:
        sys.exit(f"error: nothing was written; {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    from sliceq22.cli import user_errors

    with user_errors():  # a full disk, a read-only DST_ROOT: one line naming the file
        for song in songs:
            print(convert_song(os.path.join(args.src, song), args.dst, args.subset, unknown=args.unknown))


if __name__ == "__main__":
    main()
