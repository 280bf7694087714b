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


@pytest.mark.parametrize(("n_fft", "hop"), [(2048, 512), (512, 128), (1000, 300), (511, 128), (1001, 250)])
def test_inverse_equals_torch_istft(n_fft, hop):
    """The written-out overlap-add inverse (block adds where the hop divides n_fft, exportable;
    fold otherwise) is torch.istft, any requested length, odd n_fft too."""
    t = STFT(n_fft, hop)
    assert t.exportable == (n_fft % hop == 0)
    x = torch.randn(2, 3, 20000, dtype=torch.float64)
    C = t(x)
    assert C.shape[-1] == t.num_frames(20000)  # was one too many for odd n_fft
    for length in (20000, 19000, 20500):
        ref = torch.istft(C.reshape(-1, *C.shape[-2:]), n_fft, hop, window=t.window, length=length).reshape(2, 3, length)
        y, n = t.inverse(C, length), min(length, 20000)
        torch.testing.assert_close(y[..., :n], ref[..., :n], rtol=0, atol=1e-12)
        # past the signal the frames' tails have envelopes down to 1e-11: round-off / envelope
        torch.testing.assert_close(y, ref, rtol=0, atol=1e-9)


def test_windows_that_cannot_invert_and_fractional_sizes():
    """Hann at hop = n_fft leaves zeros between frames (NOLA fails): inverse() says so instead of
    torch.istft's 'window overlap add min'; fractional sizes were a ZeroDivisionError."""
    t = STFT(512, 512)
    assert not t.invertible
    with pytest.raises(ValueError, match="cannot be inverted.*NOLA"):
        t.inverse(t(torch.randn(2, 5000)), 5000)
    with pytest.raises(ValueError, match="hop_length must be a whole number"):
        STFT(512, 0.5)
    with pytest.raises(ValueError, match="n_fft must be a whole number"):
        STFT(512.5)


def test_center_false_with_a_hop_that_does_not_divide_n_fft():
    """torch.istft raised for it (the Hann window's zero at the first sample)."""
    t = STFT(512, 100, center=False)
    x = torch.randn(2, 5000, dtype=torch.float64)
    y = t.inverse(t(x), 5000)
    covered = (t.num_frames(5000) - 1) * 100 + 512
    torch.testing.assert_close(y[:, 1:covered], x[:, 1:covered], rtol=0, atol=1e-10)


def test_short_signal_and_center_false():
    """center=True needs more than n_fft / 2 samples (reflect padding): a clear error, not
    torch's padding message. center=False inverts (torch.istft refuses the Hann window's zero
    at the first sample): exact wherever the window does not vanish, 0 where it does."""
    with pytest.raises(ValueError, match="too short for center=True"):
        STFT(512, 128)(torch.randn(2, 256))
    t = STFT(512, 128, center=False)
    x = torch.randn(2, 5000, dtype=torch.float64)
    y = t.inverse(t(x), 5000)
    covered = (t.num_frames(5000) - 1) * 128 + 512
    torch.testing.assert_close(y[:, 1:covered], x[:, 1:covered], rtol=0, atol=1e-10)
    assert (y[:, 0] == 0).all() and (y[:, covered:] == 0).all()


def test_module_cast_keeps_float64_window():
    t = STFT(512, 128).to(torch.bfloat16)
    assert t.window.dtype == torch.float64
    x = torch.randn(2, 3000, dtype=torch.float64)
    torch.testing.assert_close(t.inverse(t(x), 3000), x)
