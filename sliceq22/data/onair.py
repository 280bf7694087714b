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

# first match wins; patterns are matched case-insensitively against the file name without extension
DEFAULT_TABLE: tuple[tuple[str, str], ...] = (
    (r"vox|vocal|voice|choir|bv\b|backing|harmony|adlib|lead ?v", "vocals"),
    (r"kick|snare|\bsn\b|hi.?hat|\bhh\b|\btom|overhead|\boh\b|cymbal|crash|ride|drum|room|perc|clap|shaker|tamb|cowbell|conga|bongo", "drums"),
    (r"bass|\bsub\b|808", "bass"),
    (r"gtr|guitar|keys|piano|synth|pad|organ|string|brass|horn|sax|trumpet|violin|cello|lead|arp|pluck|fx|sample", "other"),
)


def classify(name: str, table=DEFAULT_TABLE, unknown: str = "error") -> str | None:
    """Target of a raw stem by its file name (``None`` when ``unknown == "skip"`` and nothing matches)."""
    stem = os.path.splitext(os.path.basename(name))[0].lower()
    for pattern, target in table:
        if re.search(pattern, stem):
            return target
    if unknown == "error":
        raise ValueError(f"no target for raw stem {name!r}; add a pattern to the table or pass unknown='other'")
    return "other" if unknown == "other" else None


def convert_song(song_dir: str, dst_root: str, subset: str = "train", table=DEFAULT_TABLE, unknown: str = "error") -> str:
    """Convert one song folder of raw stems. Returns the written track folder.

    Raises:
        ValueError: no wavs, stems of different sample rates or lengths, an unmatched stem
            (with ``unknown="error"``), or an existing destination track.
    """
    files = list_entries(song_dir, "file", (".wav", ".flac"))
    if not files:
        raise ValueError(f"no wav/flac stems in {song_dir}")
    name = os.path.basename(os.path.normpath(song_dir))
    dst = os.path.join(dst_root, subset, name)
    if os.path.exists(dst):
        raise ValueError(f"{dst} exists already: refusing to overwrite it")
    infos = {f: sf.info(os.path.join(song_dir, f)) for f in files}
    rates = {i.samplerate for i in infos.values()}
    if len(rates) != 1:
        raise ValueError(f"stems of {song_dir} have different sample rates: {sorted(rates)}")
    lengths = {i.frames for i in infos.values()}
    if len(lengths) != 1:
        longest = max(infos, key=lambda f: infos[f].frames)
        shortest = min(infos, key=lambda f: infos[f].frames)
        raise ValueError(f"stems of {song_dir} differ in length: {longest} has {infos[longest].frames} frames, {shortest} {infos[shortest].frames}")
    (rate,), (frames,) = rates, lengths
    sums = {s: np.zeros((2, frames)) for s in SOURCES}
    for f in files:
        target = classify(f, table, unknown)
        if target is None:
            continue
        data, _ = sf.read(os.path.join(song_dir, f), dtype="float64", always_2d=True)
        if data.shape[1] > 2:
            raise ValueError(f"{f} has {data.shape[1]} channels; expected mono or stereo")
        sums[target] += data.T if data.shape[1] == 2 else np.repeat(data.T, 2, axis=0)
    audio = {s: sums[s].astype(np.float32) for s in SOURCES}
    audio["mixture"] = sum(a.astype(np.float64) for a in audio.values()).astype(np.float32)
    if np.abs(audio["mixture"]).max() >= 1.0:
        print(f"warning: the mixture of {name} clips (peak {np.abs(audio['mixture']).max():.2f}); kept as float", file=sys.stderr)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    write_track(dst, audio, rate)
    return dst


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", help="a folder of song folders, each holding raw stems")
    parser.add_argument("dst", help="MUSDB-layout root to write into")
    parser.add_argument("--subset", default="train", choices=("train", "test"))
    parser.add_argument("--unknown", default="error", choices=("error", "other", "skip"))
    args = parser.parse_args(argv)
    songs = list_entries(args.src, "dir")
    if not songs:
        sys.exit(f"error: no song folders in {args.src}")
    for song in songs:
        try:
            print(convert_song(os.path.join(args.src, song), args.dst, args.subset, unknown=args.unknown))
        except ValueError as err:
            sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
