"""Every config composes, and every transform and experiment config builds its objects."""

from __future__ import annotations

import os

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

import sliceq22  # noqa: F401  (registers the config resolvers)

CONF = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conf")


def _names(group: str) -> list[str]:
    return sorted(f[:-5] for f in os.listdir(os.path.join(CONF, group)) if f.endswith(".yaml"))


@pytest.mark.parametrize("name", _names("transform"))
def test_transform_configs_build_and_invert(name):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("train", overrides=[f"transform={name}", "sample_rate=22050"])
    t = instantiate(cfg.transform)
    x = torch.randn(2, 22050, dtype=torch.float64)
    torch.testing.assert_close(t.inverse(t(x), x.shape[-1]), x)


@pytest.mark.parametrize("name", _names("experiment"))
def test_experiment_configs_compose(name):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={name}"], return_hydra_config=True)
    assert "_target_" in cfg.job
    # everything but the run directory resolves without a running Hydra app
    job = OmegaConf.to_container(cfg.job, resolve=False)
    assert job["_target_"].startswith("sliceq22.")


def test_unknown_config_key_is_rejected():
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        with pytest.raises(Exception, match="no_such_key"):
            compose("train", overrides=["transform.no_such_key=1"])


@pytest.mark.parametrize(("separator", "search"), [(s, None) for s in _names("separator")] + [("oracle", s) for s in _names("search")])
def test_evaluate_configs_compose_and_build(separator, search):
    overrides = [f"separator={separator}", "sample_rate=22050"] + ([f"search={search}"] if search else [])
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("evaluate", overrides=overrides, return_hydra_config=True)
    assert cfg.job._target_ == "sliceq22.eval.separation.run"
    assert cfg.separator._target_.startswith("sliceq22.")
    if separator in ("demix", "nmf"):  # built from a checkpoint / fitted on data: tested where they run
        return
    sep = instantiate(cfg.separator)
    assert sep.targets and sep.sample_rate == 22050
    if search:
        assert cfg.hydra.sweeper.params  # a multirun grid is defined
        # evaluate.yaml's own `seconds: null` came after the search and made it score whole tracks
        assert cfg.seconds == 10.0 and cfg.separator.method == "mpi"


def test_run_folder_is_shared_by_the_tasks_of_one_srun():
    from sliceq22 import run_stamp

    step = {"SLURM_JOB_ID": "4711", "SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "8"}
    assert run_stamp(step) == "slurm-4711.0"  # every rank of the step: one folder
    assert run_stamp({**step, "SLURM_STEP_ID": "1"}) == "slurm-4711.1"  # the next srun: another
    for single in ({}, {**step, "SLURM_STEP_NUM_TASKS": "1"}, {"SLURM_JOB_ID": "4711"}):
        stamp = run_stamp(single)  # one process (a laptop, one sbatch task): the local time + pid
        assert stamp[4] == "-" and stamp[10] == "_" and stamp[19:] == f"_{os.getpid()}", stamp
    cfg = OmegaConf.create({"dir": "outputs/demix/${run_stamp:}"})
    assert OmegaConf.to_container(cfg, resolve=True)["dir"].startswith("outputs/demix/")
    # what Hydra itself makes of train.yaml's run dir inside a 4-task srun step, end to end
    import subprocess
    import sys

    train = os.path.join(os.path.dirname(CONF), "train.py")
    env = {**os.environ, "SLURM_JOB_ID": "4711", "SLURM_STEP_ID": "2", "SLURM_STEP_NUM_TASKS": "4"}
    out = subprocess.run([sys.executable, train, "experiment=demix", "--cfg", "hydra", "--resolve"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "dir: outputs/demix/slurm-4711.2" in out.stdout


def test_slurm_example_overrides_compose():
    """The overrides in scripts/slurm_demix.sbatch name real config keys (kept in step with conf/)."""
    import re
    import shlex

    path = os.path.join(os.path.dirname(CONF), "scripts", "slurm_demix.sbatch")
    with open(path) as fh:
        text = fh.read()
    command = re.search(r"srun python train\.py((?:.*\\\n)*.*)", text).group(1).replace("\\\n", " ")
    overrides = [a.replace("$MUSDB_PATH", "/musdb") for a in shlex.split(command)]
    assert "trainer=ddp" in overrides and any(o.startswith("data.root=") for o in overrides)
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    assert cfg.trainer.strategy._target_ == "sliceq22.lit.run.ddp_strategy" and cfg.trainer.num_nodes == 2 and cfg.data.root == "/musdb"
    # experiment=demix's CPU sizes stay with the embedded data: data=musdb keeps musdb.yaml's
    # (they were overridden to 8 excerpts per track and 10 s validation excerpts)
    assert cfg.data.samples_per_track == 64 and cfg.data.valid_seconds is None
    assert cfg.data._target_.endswith("MusicDataModule") and cfg.model.model.hidden == 64


@pytest.mark.parametrize(("script", "groups"), [
    ("evaluate", ("separator", "transform", "data")),
    ("train", ("experiment", "data", "transform", "model", "trainer", "logger", "callbacks")),
])
def test_help_lists_the_groups_that_exist(script, groups):
    """train.py's and evaluate.py's --help name their config groups by hand (Hydra's list
    shows every group under conf/): they must not drift from conf/."""
    import yaml

    template = yaml.safe_load(open(os.path.join(CONF, f"{script}.yaml")))["hydra"]["help"]["template"]
    for group in groups:
        line = next(line for line in template.splitlines() if line.strip().startswith(f"{group}:"))
        listed = sorted(o.strip() for o in line.split(":", 1)[1].split(","))
        present = sorted(f[:-5] for f in os.listdir(os.path.join(CONF, group)) if f.endswith(".yaml"))
        assert listed == present, (group, listed, present)


@pytest.mark.parametrize(("overrides", "count"), [
    (["experiment=deoverlap"], 9_665),  # README: 9.7k parameters (make run)
    (["experiment=demix"], 87_752),  # README: 88k
    (["experiment=demix", "model=demix_per_target"], 90_120),  # README: 90k in all
])
def test_parameter_counts_the_readme_states(overrides, count):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    module = instantiate(cfg.model)
    assert sum(p.numel() for p in module.parameters()) == count


def test_a_mistyped_search_is_an_error():
    """`optional` made search=slicqt_grd run the default oracle silently, exit 0."""
    from hydra.errors import MissingConfigException

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        compose("evaluate")
        compose("evaluate", overrides=["search=slicqt_grid"])
        with pytest.raises(MissingConfigException):
            compose("evaluate", overrides=["search=slicqt_grd"])


@pytest.mark.parametrize("data", ["embedded", "embedded_demix", "musdb"])
def test_the_data_follows_the_top_level_sample_rate(data):
    """musdb.yaml hard-coded 44100: sample_rate=22050 built a 22.05 kHz model fed 44.1 kHz audio."""
    from sliceq22.lit.run import _check_rates

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("train", overrides=["experiment=demix", f"data={data}", "data.root=x", "sample_rate=22050"])
    model = OmegaConf.to_container(cfg.model, resolve=True)
    assert cfg.data.sample_rate == 22050 and model["model"]["transform"]["sample_rate"] == 22050
    _check_rates(model, OmegaConf.to_container(cfg.data, resolve=True))
    with pytest.raises(ValueError, match="transform runs at 22050 Hz but data.sample_rate=44100"):
        _check_rates(model, {"sample_rate": 44100})
