"""Score a folder of estimates against a MUSDB-layout root (museval's ``eval_mus_dir``).

    python -m sliceq22.eval --root data/embedded --estimates outputs/my_method --out scores/my_method

Reads ``<estimates>/<subset>/<track>/<target>.wav`` (or ``<estimates>/<track>/<target>.wav``),
writes museval-format ``<out>/<subset>/<track>.json``, ``<out>/summary.json`` and
``<out>/summary.md``, and prints the SigSep table. Existing track JSONs are reused when the
same estimates wrote them (``<out>/provenance.json``); another run's scores are refused.
"""

from __future__ import annotations

import argparse
import logging

from sliceq22.cli import user_errors
from sliceq22.data.musdb import SOURCES
from sliceq22.eval.scores import format_table
from sliceq22.eval.separation import evaluate_estimates


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m sliceq22.eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="MUSDB18-HQ-layout folder with the references")
    p.add_argument("--estimates", required=True, help="folder of estimates")
    p.add_argument("--out", required=True, help="folder for the scores")
    p.add_argument("--subset", default="test", choices=("train", "valid", "test", "all"))
    p.add_argument("--targets", nargs="+", default=list(SOURCES))
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--overwrite", action="store_true", help="recompute tracks whose JSON exists")
    p.add_argument("--mono-to-stereo", action="store_true", help="accept mono reference stems (duplicated)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from sliceq22.device import resolve_device

    with user_errors():
        summary = evaluate_estimates(a.root, a.estimates, a.out, a.subset, a.targets, resolve_device(a.device), a.overwrite, a.mono_to_stereo)
    print(format_table({summary["method"]: summary["sigsep"]}))
    return summary


if __name__ == "__main__":
    main()
