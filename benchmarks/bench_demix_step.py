"""Demixing training speed: one optimiser step of ``experiment=demix``'s model, and its loss.

    python benchmarks/bench_demix_step.py [--device cpu|cuda] [--batch 4] [--seconds 3] [--repeats 7]

The model, loss and optimiser are built from the configs exactly as ``python train.py
experiment=demix`` builds them (Bark-262, default sizes; ``--override`` adds Hydra overrides,
e.g. ``model.model.hidden=64``); the batch is random audio of the training shape (the cost does
not depend on the content). Timed, median of ``--repeats``:

* ``step``: forward, loss, backward and optimiser step (what one training batch costs);
* ``loss``: the transform-domain combination loss alone, forward and backward, with
  ``sliceq22.lit.demix.combination_loss`` and with the formulation it replaced (all subsets at
  once as a tensordot with a subset matrix over the (re, im) view), on the same coefficients:
  the ratio is the speed-up the README quotes. The subsets are the module's own
  (``module.subsets``, from its ``combination`` option), so ``--override
  model.combination=3`` times the loss that model trains with.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import (  # noqa: E402
    check_out_dir, default_device, device_arg, faster, machine_info, positive_float, positive_int, timed, use_device, write_result)

CONF = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conf")


def tensordot_loss(est, true, mix_blocks, subsets):
    """The replaced formulation: every subset sum as a tensordot over the (re, im) views."""
    J = est[0].shape[1]
    A = torch.zeros(len(subsets), J)
    for i, s in enumerate(subsets):
        A[i, list(s)] = 1.0
    E = torch.cat([torch.view_as_real(e).flatten(3, -2) for e in est], dim=3)  # (B, J, ch, N, 2)
    with torch.no_grad():
        T = torch.cat([torch.view_as_real(t).flatten(3, -2) for t in true], dim=3)
        power = sum(b.abs().square().sum() for b in mix_blocks) / sum(b.numel() for b in mix_blocks)
        target = torch.tensordot(A.to(T), T, dims=([1], [1])).square().sum(-1).sqrt()
    mag = (torch.tensordot(A.to(E), E, dims=([1], [1])).square().sum(-1) + 1e-20).sqrt()
    return (mag - target).square().mean() / power


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", type=device_arg, default=default_device())
    p.add_argument("--batch", type=positive_int, default=4)
    p.add_argument("--seconds", type=positive_float, default=3.0)
    p.add_argument("--repeats", type=positive_int, default=7)
    p.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides, e.g. model.model.hidden=64")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    a = p.parse_args()
    check_out_dir(p, a.out)
    cuda = use_device(a.device)

    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    import sliceq22  # noqa: F401  (config resolvers)
    from sliceq22.lit.demix import combination_loss
    from sliceq22.models.demix import PerTargetDemixer

    try:  # a bad override is a usage error, before any timing
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            cfg = compose("train", overrides=["experiment=demix", *a.override])
        module = instantiate(cfg.model)
    except Exception as exc:  # Hydra's composition errors, or the module's ValueError wrapped by instantiate
        p.error(f"--override {' '.join(a.override)}: {exc.__cause__ or exc}")
    if isinstance(module.model, PerTargetDemixer):  # its loss is per target, each in its own domain
        p.error("the loss comparison needs the shared-transform demixer (model=demix), not a per-target one")
    module = module.to(a.device)
    module.log_dict = lambda *args, **kw: None  # no trainer attached
    optimizer = module.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    g = torch.Generator().manual_seed(0)
    n = int(a.seconds * module.model.sample_rate)
    targets = (0.1 * torch.randn(a.batch, len(module.targets), 2, n, generator=g)).to(a.device)
    batch = (targets.sum(1), targets)

    def step():
        optimizer.zero_grad(set_to_none=True)
        module._step(batch, "train").backward()
        optimizer.step()

    _, est, mix_blocks = module.model(batch[0], return_spec=True)
    est = [e.detach().requires_grad_() for e in est]
    true = [t.detach() for t in module.model.target_coefficients(targets)]
    mix_blocks = [m.detach() for m in mix_blocks]
    subsets = module.subsets  # what module._step's loss uses (its combination option)
    new = combination_loss(est, true, mix_blocks, subsets)
    old = tensordot_loss(est, true, mix_blocks, subsets)
    agree = float(((new - old).abs() / new.abs()).detach())
    ops = {
        "step": step,
        "loss_combination": lambda: combination_loss(est, true, mix_blocks, subsets).backward(),
        "loss_tensordot": lambda: tensordot_loss(est, true, mix_blocks, subsets).backward(),
    }
    times = {k: [] for k in ops}
    for _ in range(a.repeats):  # interleaved: a slow moment of a shared machine hits all of them
        for k, fn in ops.items():
            times[k].append(timed(fn, cuda))
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k:18s} {v * 1e3:9.1f} ms")
    ratio = med["loss_tensordot"] / med["loss_combination"]
    print(f"combination_loss is {faster(ratio, 2)} than the tensordot formulation on {len(subsets)} subsets (values agree to {agree:.1e})")
    write_result(a.out, f"demix_step_{'cuda' if cuda else 'cpu'}", {
        "benchmark": "demix_step",
        "config": {"experiment": "demix", "overrides": a.override, "batch": a.batch, "seconds": a.seconds,
                   "transform": cfg.transform.get("scale", cfg.transform._target_),
                   "parameters": sum(p.numel() for p in module.parameters()),
                   "combination": module.combination, "subsets": [list(s) for s in subsets]},
        "machine": machine_info(cuda),
        "median_seconds": med,
        "repeats": a.repeats,
        "loss_speedup": ratio,
        "loss_relative_difference": agree,
    })


if __name__ == "__main__":
    main()
