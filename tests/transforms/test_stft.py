"""The STFT control: same interface as the sliCQT, perfect reconstruction, torch.stft values."""

from __future__ import annotations

import pytest
import torch

from sliceq22.transforms import STFT


@pytest.mark.parametrize("shape", [(9000,), (2, 9000), (3, 2, 9000)])
def test_roundtrip_and_shapes(shape):
    t = STFT(1024, 256, sample_rate=16000)
    x = torch.randn(shape, dtype=torch.float64)
    C = t(x)
    assert C.shape == shape[:-1] + (513, t.num_frames(shape[-1]))
    torch.testing.assert_close(t.inverse(C, shape[-1]), x)
    ref = torch.stft(x.reshape(-1, shape[-1]), 1024, 256, window=torch.hann_window(1024, dtype=torch.float64), return_complex=True)
    torch.testing.assert_close(C.reshape(ref.shape), ref)
    assert t.frequencies[-1] == 8000


def test_float32_and_errors():
    t = STFT(512, 128)
    x = torch.randn(2, 3000)
    assert (t.inverse(t(x), 3000) - x).abs().max() < 1e-5
    with pytest.raises(ValueError, match="hop_length"):
        STFT(512, 0)
    with pytest.raises(ValueError, match="window"):
        STFT(512, 128, window="kaiser")
    with pytest.raises(ValueError, match="complex"):
        t.inverse(t(x).abs(), 3000)
    with pytest.raises(ValueError, match="samples"):
        t(torch.zeros(2, 0))
