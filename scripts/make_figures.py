"""Regenerate the README's figures from the project's own code and data.

    python scripts/make_figures.py [--out docs]   (default: the repository's docs/, wherever it runs from)

* ``slicqt_vs_stft.png``: the transform tour's figure (``python train.py`` draws the same).
* ``embedded_song.png``: one rendered song of the embedded dataset, mixture and four stems.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from sliceq22.data.audio import ensure_writable_folder  # noqa: E402
from sliceq22.data.musdb import SOURCES, find_tracks, read_stem  # noqa: E402
from sliceq22.data.render import render_dataset  # noqa: E402
from sliceq22.demo import transform_demo  # noqa: E402
from sliceq22.eval.plots import plot_mixture_and_stems  # noqa: E402
from sliceq22.transforms import STFT, SliCQT  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(ROOT, "docs"), help="folder for the figures (default: the repository's docs/)")
    args = parser.parse_args()
    try:  # a file or an unwritable folder: one line now, not a traceback after the rendering
        ensure_writable_folder(args.out, "--out")
    except ValueError as exc:
        parser.error(str(exc))
    t = SliCQT("bark", 32.9, 22050, 262, 44100)
    # the scratch folder lives in the output folder: os.replace cannot cross file systems
    # (TMPDIR=/dev/shm gave "Invalid cross-device link")
    with tempfile.TemporaryDirectory(dir=args.out, prefix=".make_figures-") as tmp:
        transform_demo(t, STFT(4096, 1024, sample_rate=44100), output_dir=tmp, seconds=10.0, seed=42)
        os.replace(os.path.join(tmp, "slicqt_vs_stft.png"), os.path.join(args.out, "slicqt_vs_stft.png"))
        root = os.path.join(tmp, "embedded")
        render_dataset(root, tracks=1, seconds=12.0, seed=5, progress=False)
        track = find_tracks(root, "train")[0]
        audio = {s: torch.from_numpy(read_stem(track, s)) for s in ("mixture",) + SOURCES}
        plot_mixture_and_stems(audio, t, title=f"embedded dataset: {track.name}", path=os.path.join(args.out, "embedded_song.png"))
    print(f"wrote {args.out}/slicqt_vs_stft.png and {args.out}/embedded_song.png")


if __name__ == "__main__":
    main()
