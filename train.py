"""Run an experiment: ``python train.py experiment=<name> [key=value ...]``.

Thin on purpose: Hydra composes ``conf/train.yaml`` with the chosen experiment, and the
experiment's ``job`` node builds and runs everything (see ``conf/experiment/``).
"""

import hydra

import sliceq22  # noqa: F401  (registers the resolvers the configs use)
from sliceq22.cli import run_job
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig):
    return run_job(cfg)


if __name__ == "__main__":
    main()
