"""Collect a Hydra multirun of ``evaluate.py`` into one table, a best-configuration report and
SiSEC-style boxplots.

    python -m sliceq22.eval.collect outputs/evaluate/multirun/<date> [--metric SDR]
        [--pivot transform separator.method]     # one rows x columns table per target

Reads every ``<job>/summary.json`` with its ``<job>/.hydra/overrides.yaml`` (the job's label),
writes ``<sweep>/collected.md``, ``<sweep>/collected.json`` and ``<sweep>/boxplot_<metric>.png``,
and prints the table sorted by the median over targets, with the best job per target.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os

import numpy as np
import yaml

from sliceq22.cli import user_errors
from sliceq22.eval.scores import format_table


def _job_order(job_dir: str):
    """Hydra's job folders 0, 1, ..., 10 in number order (a string sort puts 10 before 2)."""
    name = os.path.basename(job_dir)
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def load_sweep(sweep_dir: str) -> dict[str, dict]:
    """``{label: summary}`` for every finished job of a multirun.

    A job's label is its overrides that vary across the sweep (``key=value`` joined by spaces),
    so fixed settings given on the command line do not clutter the table.
    """
    found = []
    for path in sorted(glob.glob(os.path.join(sweep_dir, "*", "summary.json")), key=lambda p: _job_order(os.path.dirname(p))):
        job = os.path.dirname(path)
        overrides: list[str] = []
        ov = os.path.join(job, ".hydra", "overrides.yaml")
        if os.path.isfile(ov):
            with open(ov) as fh:
                overrides = yaml.safe_load(fh) or []
        with open(path) as fh:
            found.append((os.path.basename(job), dict(o.split("=", 1) for o in overrides if "=" in o), json.load(fh)))
    if not found:
        raise ValueError(f"no finished jobs (*/summary.json) under {sweep_dir}")
    keys = list(dict.fromkeys(k for _, ov, _ in found for k in ov))
    varying = [k for k in keys if len({ov.get(k) for _, ov, _ in found}) > 1] or keys
    jobs = {}
    for name, ov, summary in found:
        label = " ".join(f"{k}={ov[k]}" for k in varying if k in ov) or name
        jobs[label if label not in jobs else f"{label} ({name})"] = {**summary, "overrides": ov}
    return jobs


def unfinished_jobs(sweep_dir: str) -> dict[str, list[str]]:
    """``{job folder: overrides}`` for the jobs of a multirun that wrote no ``summary.json``
    (failed, e.g. an inadmissible sliCQT, or still running)."""
    out = {}
    for ov in sorted(glob.glob(os.path.join(sweep_dir, "*", ".hydra", "overrides.yaml")), key=lambda p: _job_order(os.path.dirname(os.path.dirname(p)))):
        job = os.path.dirname(os.path.dirname(ov))
        if not os.path.isfile(os.path.join(job, "summary.json")):
            with open(ov) as fh:
                out[os.path.basename(job)] = list(yaml.safe_load(fh) or [])
    return out


def _sorted_keys(keys) -> list[str]:
    """Override values in order of appearance, numerically sorted when all are numbers (null last)."""
    keys = list(dict.fromkeys(keys))

    def num(k):
        try:
            return float(k)
        except ValueError:
            return None

    nums = [num(k) for k in keys if k not in ("null", "None")]
    if nums and all(n is not None for n in nums):
        return sorted(keys, key=lambda k: (k in ("null", "None"), num(k) if k not in ("null", "None") else 0.0))
    return keys


def _median_over_targets(agg: dict, metric: str) -> float:
    vals = [v[metric] for v in agg.values() if not math.isnan(v[metric])]
    return float(np.median(vals)) if vals else math.nan


def collect(sweep_dir: str, metric: str = "SDR", plot: bool = True) -> dict:
    """Table (sorted by median ``metric`` over targets), best job per target, boxplots."""
    jobs = load_sweep(sweep_dir)
    def rank_key(k):  # best first; a job without a score (NaN: every track left out) last
        m = _median_over_targets(jobs[k]["sigsep"], metric)
        return (math.isnan(m), -m if not math.isnan(m) else 0.0)

    ranked = sorted(jobs, key=rank_key)
    table = {k: jobs[k]["sigsep"] for k in ranked}
    targets = list(next(iter(table.values())))

    def score(k, t):
        v = table[k].get(t, {}).get(metric, math.nan)
        return -math.inf if math.isnan(v) else v

    best = {t: max(ranked, key=lambda k, t=t: score(k, t)) for t in targets}
    result = {
        "metric": metric,
        "ranking": [{"job": k, "median_over_targets": _median_over_targets(table[k], metric),
                     **{t: table[k][t][metric] for t in table[k]}} for k in ranked],
        "best_overall": ranked[0],
        "best_per_target": {t: {"job": k, metric: table[k][t][metric]} for t, k in best.items()},
    }
    md = [f"# {len(jobs)} jobs from {sweep_dir}: median {metric} (dB) per target", "",
          format_table({k: {**table[k], "median": {metric: _median_over_targets(table[k], metric)}} for k in ranked}, metric),
          "", "best per target: " + "; ".join(f"{t}: {k} ({table[k][t][metric]:.2f})" for t, k in best.items())]
    failed = unfinished_jobs(sweep_dir)
    if failed:
        result["unfinished"] = failed
        md += ["", f"{len(failed)} jobs did not finish (no summary.json; their reason is in <job>/*.log): "
               + "; ".join(f"{name}: {' '.join(ov)}" for name, ov in failed.items())]
    with open(os.path.join(sweep_dir, "collected.md"), "w") as fh:
        fh.write("\n".join(md) + "\n")
    with open(os.path.join(sweep_dir, "collected.json"), "w") as fh:
        json.dump(result, fh, indent=2, allow_nan=True)
    if plot and metric == "SDR":
        from sliceq22.eval.plots import plot_score_boxes

        per_track = {k: {t: [tr[t] for tr in jobs[k]["per_track"].values() if t in tr] for t in targets} for k in ranked}
        plot_score_boxes(per_track, metric, path=os.path.join(sweep_dir, f"boxplot_{metric}.png"))
    result["markdown"] = "\n".join(md)
    return result


def pivot(sweep_dir: str, rows: str, cols: str, metric: str = "SDR") -> str:
    """One markdown table per target (and for the median over targets): ``rows`` x ``cols``,
    two overrides of the sweep (e.g. ``transform`` and ``separator.method``)."""
    jobs = load_sweep(sweep_dir)
    cells: dict[tuple[str, str], dict] = {}
    settings: dict[tuple[str, str], tuple] = {}
    repeated: dict[str, str] = {}  # job -> the earlier job with identical overrides (an Optuna re-sample)
    for label, summary in jobs.items():
        ov = summary["overrides"]
        if rows not in ov or cols not in ov:
            raise ValueError(f"job {label!r} lacks the override {rows!r} or {cols!r} (its overrides: {', '.join(ov) or 'none'})")
        key, full = (ov[rows], ov[cols]), tuple(sorted((k, str(v)) for k, v in ov.items()))
        if key in settings and settings[key][0] == full:
            repeated[label] = settings[key][1]
            continue
        settings.setdefault(key, (full, label))
        cells[key] = summary["sigsep"]
    if len(cells) + len(repeated) < len(jobs):
        others = sorted({k for s in jobs.values() for k in s["overrides"]
                         if k not in (rows, cols) and len({str(t["overrides"].get(k)) for t in jobs.values()}) > 1})
        raise ValueError(f"{len(jobs)} jobs but only {len(cells)} cells of {rows} x {cols}: the sweep also varies "
                         f"{', '.join(others) or 'another setting'}, so one cell would hide the other jobs; pivot on "
                         "two of the varying overrides that identify a job, or collect without --pivot")
    row_keys = _sorted_keys(r for r, _ in cells)
    col_keys = _sorted_keys(c for _, c in cells)
    targets = list(next(iter(cells.values())))
    out = []
    for target in targets + ["median over targets"]:
        out += [f"**{target}** (median {metric}, dB)", "", f"| {rows} | " + " | ".join(col_keys) + " |",
                "|---" * (len(col_keys) + 1) + "|"]
        for r in row_keys:
            vals = []
            for c in col_keys:
                agg = cells.get((r, c))
                v = (_median_over_targets(agg, metric) if target == "median over targets" else agg[target][metric]) if agg else math.nan
                vals.append("-" if math.isnan(v) else f"{v:.2f}")
            out.append(f"| {r} | " + " | ".join(vals) + " |")
        out.append("")
    if repeated:
        out.append("Jobs repeating an earlier job's overrides (a sampler's re-draw), shown once: "
                   + ", ".join(f"{job} (= {first})" for job, first in repeated.items()))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m sliceq22.eval.collect", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep_dir")
    p.add_argument("--metric", default="SDR", choices=("SDR", "SIR", "ISR", "SAR"))
    p.add_argument("--pivot", nargs=2, metavar=("ROWS", "COLS"), help="per-target tables, e.g. --pivot transform separator.method")
    a = p.parse_args(argv)
    with user_errors():
        table = pivot(a.sweep_dir, *a.pivot, metric=a.metric) if a.pivot else None  # a bad key fails before any file is written
        res = collect(a.sweep_dir, a.metric)
    print(res["markdown"])
    if table is not None:
        res["pivot"] = table
        with open(os.path.join(a.sweep_dir, "pivot.md"), "w") as fh:
            fh.write(table + "\n")
        print(table)
    return res


if __name__ == "__main__":
    main()
