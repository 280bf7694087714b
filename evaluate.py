"""Evaluate a separation method with BSS Eval v4: ``python evaluate.py separator=<name> [key=value ...]``.

Thin on purpose: Hydra composes ``conf/evaluate.yaml``; its ``job`` node builds the separator
(``conf/separator/``) and scores it on the data's test tracks. Sweeps are Hydra multiruns:
``python evaluate.py -m separator.method=irm1,mpi transform=stft,slicqt_bark`` (see the README),
collected with ``python -m sliceq22.eval.collect <sweep dir>``.
"""

import hydra
from omegaconf import DictConfig

import sliceq22  # noqa: F401  (registers the resolvers the configs use)
from sliceq22.cli import run_job


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig):
    return run_job(cfg)


if __name__ == "__main__":
    main()
