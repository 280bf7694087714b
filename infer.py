"""Run a trained model on audio files: ``python infer.py ckpt=... input=song.wav [output=stems/]``
(a demixing checkpoint writes ``<output>/<song>/<target>.wav``; a de-overlap one ``output=`` a file).

Thin on purpose: Hydra composes ``conf/infer.yaml`` and its ``job`` node does the work.
"""

import hydra
from omegaconf import DictConfig

import sliceq22  # noqa: F401  (registers the resolvers the configs use)
from sliceq22.cli import run_job


@hydra.main(version_base="1.3", config_path="conf", config_name="infer")
def main(cfg: DictConfig):
    return run_job(cfg)


if __name__ == "__main__":
    import sys

    if any(a in ("-m", "--multirun") for a in sys.argv[1:]):  # Hydra would write multirun/ folders into the cwd
        sys.exit("error: infer.py takes no -m sweep (it writes nothing but its outputs): run it once per setting")
    main()
