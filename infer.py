"""Run a trained model on audio files: ``python infer.py ckpt=... input=in.wav [output=out.wav]``.

Thin on purpose: Hydra composes ``conf/infer.yaml`` and its ``job`` node does the work.
"""

import hydra
from omegaconf import DictConfig

import sliceq22  # noqa: F401  (registers the resolvers the configs use)


@hydra.main(version_base="1.3", config_path="conf", config_name="infer")
def main(cfg: DictConfig):
    return hydra.utils.instantiate(cfg.job)


if __name__ == "__main__":
    main()
