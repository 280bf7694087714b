"""Device names from configs: ``auto``, aliases, and clear errors for devices a machine lacks."""

from __future__ import annotations

import pytest
import torch

from sliceq22.device import resolve_device


def test_names_resolve_to_usable_devices():
    assert resolve_device(None) == resolve_device("cpu") == resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    with pytest.raises(ValueError, match="unsupported device 'meta'"):
        resolve_device("meta")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
@pytest.mark.parametrize("name", ["cuda", "gpu", "cuda:1"])
def test_a_missing_gpu_names_the_fix(name):
    with pytest.raises(ValueError, match="use device=cpu or device=auto"):
        resolve_device(name)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_alias_and_index_check():
    assert resolve_device("gpu") == torch.device("cuda")
    with pytest.raises(ValueError, match="visible"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_separate_takes_device_names(music3):
    import sliceq22
    from sliceq22.models.demix import SliCQDemixer
    from sliceq22.transforms import SliCQT

    model = SliCQDemixer(SliCQT(scale="bark", fmin=40.0, fmax=22050, bins=24, sample_rate=44100), hidden=4, dilations=(1,)).eval()
    out = sliceq22.separate(music3[:, :22050].float(), 44100, model, device="auto")
    assert set(out) == set(model.targets) and out["bass"].shape == (2, 22050)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device=cpu or device=auto"):
            sliceq22.separate(music3[:, :22050].float(), 44100, model, device="cuda")
