"""Separation speed: seconds per minute of stereo audio through ``sliceq22.separate``.

    python benchmarks/bench_separate.py [--minutes 1] [--device cpu|cuda] [--transform slicqt_bark ...] [--repeats 3]

The default demixer of ``conf/model/demix.yaml`` on the chosen transform (weights do not change
the cost), 30 s chunks with 2 s cross-fades, as ``infer.py`` runs it. The transform is composed
as ``train.py transform=<name>`` composes it, so the STFT control (``stft``, ``stft_2048``, ...)
is timed as well as the sliCQTs. Reference figures
(xumx-sliCQ-V2's README): 2.1 s per MUSDB track (~4 min) on a GPU, 11-23 s on a CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import sliceq22  # noqa: E402
from benchmarks.common import (  # noqa: E402
    check_out_dir, default_device, device_arg, machine_info, positive_float, positive_int, use_device, write_result)
from sliceq22.models.demix import SliCQDemixer  # noqa: E402

CONF = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conf")


def _configured_demixer() -> dict:
    """The network settings of ``conf/model/demix.yaml`` (what ``experiment=demix`` trains)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(os.path.join(CONF, "model", "demix.yaml"))
    return {k: v for k, v in OmegaConf.to_container(cfg.model).items() if k not in ("_target_", "transform", "targets")}


def _transform(name: str):
    """``conf/transform/<name>.yaml`` composed as ``train.py transform=<name>`` composes it, with
    ``name:key=value,...`` overriding its keys (``slicqt_bark:fast_sizes=true``). Not
    ``sliceq22.eval.deoverlap.load_transform``: that one refuses the STFT, which the demixer takes.

    Raises:
        ValueError: an unknown config, key or value, in one line.
    """
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    base, _, overrides = name.partition(":")
    if not os.path.isfile(os.path.join(CONF, "transform", f"{base}.yaml")):
        options = sorted(f[:-5] for f in os.listdir(os.path.join(CONF, "transform")) if f.endswith(".yaml"))
        raise ValueError(f"unknown transform config {base!r}; choose from {', '.join(options)}")
    try:
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            cfg = compose("train", overrides=[f"transform={base}", *(f"transform.{o}" for o in overrides.split(",") if o)])
        return instantiate(cfg.transform)
    except Exception as exc:  # Hydra's composition error, or the transform's own error wrapped by instantiate
        raise ValueError(f"transform {name!r}: {str(exc.__cause__ or exc).splitlines()[0]}") from exc


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=positive_float, default=1.0)
    p.add_argument("--device", type=device_arg, default=default_device())
    p.add_argument("--transform", nargs="+", default=["slicqt_bark", "slicqt_bark:fast_sizes=true"],
                   help="transform configs (conf/transform/ names, sliCQTs or the STFT control, with key=value overrides after ':')")
    p.add_argument("--repeats", type=positive_int, default=3, help="timed runs per transform (median)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    a = p.parse_args()
    check_out_dir(p, a.out)
    cuda = use_device(a.device)
    transforms = {}
    for name in a.transform:  # all of them before any timing: a typo in the last one fails now
        try:
            transforms[name] = _transform(name)
        except ValueError as exc:
            p.error(str(exc))
    rows = []
    for name, transform in transforms.items():
        model = SliCQDemixer(transform, **_configured_demixer()).to(a.device).eval()
        sr = int(model.sample_rate)
        x = 0.1 * torch.randn(2, int(a.minutes * 60 * sr))
        sliceq22.separate(x[:, : 5 * sr], sr, model, device=a.device)  # warm-up
        times = []
        for _ in range(a.repeats):
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            sliceq22.separate(x, sr, model, device=a.device)
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        seconds = statistics.median(times)
        rows.append({"transform": name, "minutes": a.minutes, "seconds": seconds, "seconds_per_minute": seconds / a.minutes,
                     "repeats": a.repeats, "parameters": sum(p.numel() for p in model.parameters())})
        print(f"# separate(), {name}, {a.minutes:g} min stereo: {seconds:.2f} s = {rows[-1]['seconds_per_minute']:.2f} s "
              f"per minute of audio (median of {a.repeats})")
    machine = machine_info(cuda)
    print(f"# on {machine['device']}")
    write_result(a.out, f"separate_{'cuda' if cuda else 'cpu'}", {"benchmark": "separate", "machine": machine, "results": rows})


if __name__ == "__main__":
    main()
