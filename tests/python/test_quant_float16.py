"""float16_weights: convolution and linear weights stored as FLOAT16 constants behind a DEQUANTIZE
(half the size), outputs within float16 rounding of fp32."""

import numpy as np
import torch

import pt2tflite
from pt2tflite import _core
from quant_parity import tensors


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.dw = torch.nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.fc = torch.nn.Linear(16, 256)

    def forward(self, x):
        y = self.dw(torch.relu(self.conv(x)))
        return self.fc(y.mean(dim=(2, 3)))


def test_float16_weights():
    m = Net().eval()
    x = (torch.randn(1, 3, 12, 12),)
    fp32 = pt2tflite.convert(m, x)
    fp16 = pt2tflite.convert(m, x, float16_weights=True)
    assert fp16.op_histogram()["DEQUANTIZE"] == 3
    half = [d for d in tensors(fp16).values() if d["dtype"] == np.float16]
    assert len(half) == 3
    # Weights halve; biases stay float32.
    assert _core.inspect(fp16.tflite_bytes)["constant_bytes"] < 0.6 * _core.inspect(fp32.tflite_bytes)["constant_bytes"]
    with torch.no_grad():
        want = m(*x).numpy()
    np.testing.assert_allclose(fp16(*x), want, atol=2e-3 * np.abs(want).max() + 1e-4)


def test_weight_beyond_float16_range_stays_float32():
    # 1e5 is inf in float16: that weight must keep float32 (its output would be inf), the other
    # still halves.
    m = Net().eval()
    with torch.no_grad():
        m.fc.weight[3, 5] = 1e5
    x = (torch.randn(1, 3, 12, 12),)
    fp16 = pt2tflite.convert(m, x, float16_weights=True)
    assert fp16.op_histogram()["DEQUANTIZE"] == 2
    with torch.no_grad():
        want = m(*x).numpy()
    got = fp16(*x)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, atol=2e-3 * np.abs(want).max() + 1e-4)
