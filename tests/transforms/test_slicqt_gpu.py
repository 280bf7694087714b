"""The sliCQT on CUDA: same numbers as on the CPU. Skipped where no GPU is present."""

from __future__ import annotations

import pytest
import torch

from sliceq22.transforms import SliCQT

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


@pytest.mark.parametrize("dtype,tol_db", [(torch.float32, -120), (torch.float64, -290)])
def test_cuda_matches_cpu_and_reconstructs(music30, dtype, tol_db):
    t = SliCQT("bark", 32.9, 22050, 262, 44100, slice_len=18060, trans_len=4516)
    x = music30.to(dtype)
    cpu = t(x).rasterize()
    tc = t.to("cuda")
    C = tc(x.cuda())
    assert C.device.type == "cuda"
    torch.testing.assert_close(C.rasterize().cpu(), cpu, rtol=1e-4 if dtype == torch.float32 else 1e-10, atol=1e-4 if dtype == torch.float32 else 1e-10)
    y = tc.inverse(C, x.shape[-1])
    assert (20 * torch.log10((y.cpu() - x).norm() / x.norm())).item() <= tol_db


def test_cuda_gradients_and_bfloat16():
    t = SliCQT("bark", 32.9, 22050, 262, 44100).cuda()
    x = torch.randn(4, 2, 44100 * 6, device="cuda", requires_grad=True)
    loss = sum(s.sum() for s in t.overlap_add(t(x).abs()))
    loss.backward()
    assert torch.isfinite(x.grad).all()
    C = t(x.detach().bfloat16())
    assert C.dtype == torch.complex64
