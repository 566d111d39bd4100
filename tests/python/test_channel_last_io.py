"""pt2tflite.to_channel_last_io: NHWC inputs and outputs make a converted CNN TRANSPOSE-free."""

import numpy as np
import pytest
import torch
import torch.nn as nn
import torchvision

import pt2tflite


def nhwc(x):
    return x.permute(0, 2, 3, 1).contiguous()


def test_resnet18_takes_nhwc_and_has_no_transpose():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(1, 3, 64, 64)
    tfl = pt2tflite.convert(pt2tflite.to_channel_last_io(model, args=[0]).eval(), (nhwc(x),))
    assert "TRANSPOSE" not in tfl.op_histogram()
    with torch.no_grad():
        ref = model(x).numpy()
    np.testing.assert_allclose(tfl(nhwc(x)), ref, atol=1e-4, rtol=1e-4)


def test_conv_stack_returns_nhwc():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 3, stride=2)).eval()
    x = torch.randn(2, 3, 10, 10)
    wrapped = pt2tflite.to_channel_last_io(model, args=[0], outputs=[0]).eval()
    tfl = pt2tflite.convert(wrapped, (nhwc(x),))
    assert "TRANSPOSE" not in tfl.op_histogram()
    with torch.no_grad():
        ref = nhwc(model(x)).numpy()
    got = tfl(nhwc(x))
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=1e-5)


def test_unlisted_inputs_and_outputs_pass_through():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, img, bias):
            y = self.conv(img)
            return y, y.mean((2, 3)) + bias

    model = Two().eval()
    x, b = torch.randn(1, 3, 5, 5), torch.randn(1, 3)
    tfl = pt2tflite.convert(pt2tflite.to_channel_last_io(model, args=[0], outputs=[0]).eval(), (nhwc(x), b))
    got_img, got_vec = tfl(nhwc(x), b)
    with torch.no_grad():
        ref_img, ref_vec = model(x, b)
    np.testing.assert_allclose(got_img, nhwc(ref_img).numpy(), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(got_vec, ref_vec.numpy(), atol=1e-5, rtol=1e-5)


def test_rejects_a_low_rank_input():
    with pytest.raises(ValueError, match="rank >= 3"):
        pt2tflite.to_channel_last_io(nn.Identity(), args=[0])(torch.randn(2, 3))
