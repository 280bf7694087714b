"""Run alignment systems over scenarios and report error rates and time per scenario.

    python -m sliceq22.align --root data/alignment [--systems pairwise bridge mixture onset] \\
        [--hop 512] [--out outputs/align/<date>] [--json results.json]

Renders the embedded scenarios into ``--root`` first if it does not exist. The Hydra
equivalent is ``python train.py experiment=align``.
"""

from __future__ import annotations

import argparse
import os

from sliceq22.align.runner import format_table, run
from sliceq22.align.systems import SYSTEMS
from sliceq22.cli import check_new_file, user_errors, write_json


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default="data/alignment")
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    p.add_argument("--scenarios", type=int, default=6, help="how many to render if --root does not exist")
    p.add_argument("--seed", type=int, default=0, help="render seed if --root does not exist")
    p.add_argument("--hop", type=int, default=512)
    p.add_argument("--out", default=None)
    p.add_argument("--json", default=None, help="write the results as JSON here (a new file)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    a = p.parse_args(argv)
    with user_errors():
        if a.json:
            check_new_file(a.json, a.overwrite, "--json")  # before the work
        if not os.path.isdir(a.root):
            from sliceq22.data.scenarios import render_alignment

            print(f"{a.root} does not exist: rendering {a.scenarios} scenarios (seed {a.seed}) into it")
            render_alignment(a.root, scenarios=a.scenarios, seed=a.seed)
        results = run(a.root, a.systems, a.hop, a.out)
    print(format_table(results))
    if a.json:
        write_json(a.json, {"root": a.root, "hop": a.hop, "results": results}, indent=2)


if __name__ == "__main__":
    main()
