"""Writes the fuzzers' seed corpus: tiny real torch.export archives (fuzz/seeds/*.pt2).

Each model is small (a few hundred weights) so the whole corpus stays well under 100 KB, yet
together they cover the archive features the reader checks: parameters and buffers (payloads
with strides), a channels-last (strided) weight, convolution/pooling/linear schemas, views,
permutes, slices, concatenation and reductions, and a run-time scalar (`.item()`, its symbol,
torch._check assertions and slices it sizes). Run: python fuzz/make_seeds.py
"""

from __future__ import annotations

import pathlib

import torch
from torch import nn

from pt2tflite.converter import archive_bytes, export_program

OUT = pathlib.Path(__file__).resolve().parent / "seeds"


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.dw = nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        y = nn.functional.max_pool2d(self.dw(y), 2)
        y = nn.functional.avg_pool2d(y, 2).mean(dim=(2, 3))
        return self.fc(y)


class ShapeOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("table", torch.arange(24, dtype=torch.float32).reshape(2, 3, 4).permute(0, 2, 1))

    def forward(self, x):
        y = x.permute(0, 2, 1) + self.table
        z = torch.cat([y[:, 1:3], y[:, :2] * 2.0], dim=1)
        return z.reshape(2, -1).softmax(dim=-1), z.sum(dim=1, keepdim=True)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 6)
        self.fc2 = nn.Linear(6, 2)
        self.ln = nn.LayerNorm(6)

    def forward(self, x):
        return self.fc2(nn.functional.gelu(self.ln(self.fc1(x)))).tanh()


class Upsample(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 1)
        self.w = nn.Parameter(torch.randn(1, 2, 4, 4).contiguous(memory_format=torch.channels_last))

    def forward(self, x):
        y = nn.functional.interpolate(self.conv(x), scale_factor=2, mode="bilinear")
        y = nn.functional.pad(y, (1, 0, 0, 1)) * 0.5
        return y[:, :, :4, :4] + self.w


class RuntimeLength(nn.Module):
    """Attention over the first n rows of a cache, n read from an input at run time (export_llm's
    attend_bucket)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("cache", torch.randn(1, 2, 16, 4))

    def forward(self, q, pos):
        n = torch.clamp((pos[0] // 4 + 1) * 4, max=16).item()
        torch._check(n >= 1)
        torch._check(n <= 16)
        k = self.cache[:, :, :n]
        return torch.softmax(q @ k.transpose(2, 3), dim=-1) @ k


def main():
    torch.manual_seed(0)
    OUT.mkdir(exist_ok=True)
    cases = {
        "convnet": (ConvNet(), (torch.randn(1, 3, 16, 16),)),
        "shape_ops": (ShapeOps(), (torch.randn(2, 3, 4),)),
        "mlp": (Mlp(), (torch.randn(2, 8),)),
        "upsample": (Upsample(), (torch.randn(1, 2, 2, 2),)),
        "runtime_length": (RuntimeLength(), (torch.randn(1, 2, 3, 4), torch.tensor([5], dtype=torch.int32))),
    }
    for name, (model, args) in cases.items():
        data = archive_bytes(export_program(model.eval(), args))
        (OUT / f"{name}.pt2").write_bytes(data)
        print(f"{name}.pt2: {len(data)} bytes")


if __name__ == "__main__":
    main()
