"""Evaluate de-overlap methods on held-out music for several sliCQT configurations.

    python -m sliceq22.eval.deoverlap --root data/embedded [--ckpt last.ckpt] \\
        [--transforms slicqt_bark slicqt_cqlog slicqt_vqlog] [--seconds 10] [--refine 1 3] [--out results.json]

For each transform (a config name from ``conf/transform/``, optionally with overrides of its
keys: ``slicqt_bark:fast_sizes=true``) and each test track (centred
excerpt, both channels): waveform SNR with the true slice phase of every analytic method and,
with ``--ckpt``, of the trained network, whose weights run on every configuration (only the
geometry changes; configurations other than the training one are marked ``unseen``). With
``--refine k [k ...]`` every method is also reported after ``k`` phase-consistency iterations
with the true phase (``<method>+k``, :func:`~sliceq22.models.deoverlap.refine_with_phase`).
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

import sliceq22  # noqa: F401  (config resolvers)
from sliceq22.cli import check_new_file, user_errors, write_json
from sliceq22.data.datasets import FixedExcerpts
from sliceq22.lit.deoverlap import snr_db
from sliceq22.models.deoverlap import METHODS, DeOverlapGeometry, analytic_deoverlap, refine_with_phase
from sliceq22.transforms import SliCQT

CONF = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "conf", "transform")


def load_transform(name: str, sample_rate: int = 44100):
    """Build a transform from ``conf/transform/<name>.yaml``.

    ``name`` may carry overrides of the config's own keys: ``slicqt_bark:fast_sizes=true`` or
    ``slicqt_bark:bins=128,fmin=60``.
    """
    name, _, overrides = name.partition(":")
    path = os.path.join(CONF, f"{name}.yaml")
    if not os.path.isfile(path):
        options = sorted(f[:-5] for f in os.listdir(CONF))
        raise ValueError(f"unknown transform config {name!r}; choose from {', '.join(options)}")
    cfg = OmegaConf.create({"sample_rate": sample_rate, "transform": OmegaConf.load(path)})
    if overrides:
        items = overrides.split(",")
        for item in items:
            key, eq, _ = item.partition("=")
            if not eq or key not in cfg.transform or key == "_target_":
                raise ValueError(f"bad override {item!r} for transform config {name!r}: use key=value with one of "
                                 f"{', '.join(k for k in cfg.transform if k != '_target_')}")
        cfg.transform = OmegaConf.merge(cfg.transform, OmegaConf.from_dotlist(items))
    try:
        t = instantiate(cfg.transform)
    except Exception as exc:  # Hydra wraps the transform's own ValueError, or a TypeError of a bad value
        cause = exc.__cause__ or exc
        raise ValueError(f"transform config {name!r}{' with ' + overrides if overrides else ''}: {cause}") from exc
    if not isinstance(t, SliCQT):
        raise ValueError(f"{name} is a {type(t).__name__}: the de-overlap needs a sliCQT (slicqt_* configs)")
    return t


def evaluate(
    root: str, transforms: list[str], ckpt: str | None = None, seconds: float = 10.0, subset: str = "test", refine=()
) -> dict:
    """SNR (dB, true phase) per transform and method, averaged over the tracks of ``subset``;
    for every ``k`` in ``refine`` (an int or a list) also after ``k`` phase-consistency
    iterations (``<method>+k``)."""
    refine = sorted({int(k) for k in ([refine] if isinstance(refine, int) else refine) if int(k) > 0})
    data = FixedExcerpts(root, subset, targets=("vocals",), seconds=seconds)
    module, trained_on = None, None
    if ckpt:
        from sliceq22.lit.infer import load_deoverlap

        module = load_deoverlap(ckpt)
        trained_on = module.transform
    results = {}
    for name in transforms:
        t = load_transform(name)
        geometry = DeOverlapGeometry(t)
        unseen = trained_on is not None and t.extra_repr() != trained_on.extra_repr()
        names = METHODS + (("network",) if module else ())
        scores = {m: [] for m in names}
        scores.update({f"{m}+{k}": [] for k in refine for m in names})
        for i in range(len(data)):
            x = data[i][0].float()
            L = x.shape[-1]
            with torch.no_grad():
                C = t(x)
                ola = t.overlap_add(C.abs())
                rotor = C.map(lambda b: torch.exp(1j * torch.angle(b)))
                for m in names:
                    if m == "network":
                        module.net.geometry = geometry
                        est = module.net(ola)
                    else:
                        est = analytic_deoverlap(geometry, ola, m)
                    scores[m].append(float(snr_db(x[None], t.inverse(est * rotor, L)[None])))
                    done = 0
                    for k in refine:  # continue from the previous count
                        est, done = refine_with_phase(t, est, rotor, L, k - done), k
                        scores[f"{m}+{k}"].append(float(snr_db(x[None], t.inverse(est * rotor, L)[None])))
        results[name] = {"unseen_by_network": unseen, "tracks": len(data), **{m: float(np.mean(v)) for m, v in scores.items()}}
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sliceq22.eval.deoverlap", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="data/embedded")
    parser.add_argument("--ckpt", default=None)
    parser.add_argument("--transforms", nargs="+", default=["slicqt_bark", "slicqt_cqlog", "slicqt_vqlog"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--subset", default="test")
    parser.add_argument("--refine", type=int, nargs="*", default=[1], help="phase-consistency iterations for the +k columns (none: no columns)")
    parser.add_argument("--out", default=None, help="write the results as JSON here (a new file)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    args = parser.parse_args(argv)
    if not args.seconds > 0:
        parser.error(f"--seconds must be > 0, got {args.seconds}")
    if any(k < 1 for k in args.refine):
        parser.error(f"--refine takes iteration counts >= 1, got {args.refine}")
    with user_errors():
        if args.out:
            check_new_file(args.out, args.overwrite)  # before minutes of work
        results = evaluate(args.root, args.transforms, args.ckpt, args.seconds, args.subset, args.refine)
    methods = [k for k in next(iter(results.values())) if k not in ("unseen_by_network", "tracks")]
    width = max(16, *(len(n) + 1 for n in results))
    print(f"{'transform':<{width}}" + "".join(f"{m:>11}" for m in methods) + "   (SNR dB, true phase)")
    for name, r in results.items():
        tag = " (unseen)" if r["unseen_by_network"] else ""
        print(f"{name:<{width}}" + "".join(f"{r[m]:>11.2f}" for m in methods) + tag)
    if args.out:
        write_json(args.out, {"root": args.root, "ckpt": args.ckpt, "seconds": args.seconds, "refine": args.refine,
                              "results": results}, indent=2)


if __name__ == "__main__":
    main()
