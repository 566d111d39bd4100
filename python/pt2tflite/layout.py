"""pt2tflite.to_channel_last_io: a wrapper that makes a model take and return channels-last tensors.

The converter stores activations NHWC whatever PyTorch's order; the only TRANSPOSEs left in a CNN
are at its NCHW inputs and outputs. Wrapping the module so that those tensors are NHWC at the
boundary turns the permutes into layout changes that cost nothing, so the converted CNN has no
TRANSPOSE at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # torch is an optional dependency of the package; annotations only
    import torch


def _to_channel_first(x):
    """[N, *spatial, C] → [N, C, *spatial]."""
    rank = x.dim()
    return x.permute(0, rank - 1, *range(1, rank - 1))


def _to_channel_last(x):
    """[N, C, *spatial] → [N, *spatial, C]."""
    rank = x.dim()
    return x.permute(0, *range(2, rank), 1)


def to_channel_last_io(
    module: torch.nn.Module, args: Sequence[int] = (), outputs: Sequence[int] = ()
) -> torch.nn.Module:
    """Wraps `module` so that positional inputs `args` are given channels-last ([N, H, W, C]) and
    outputs `outputs` are returned channels-last; the others pass through unchanged. Convert the
    wrapper with sample inputs in the new layout:

        nhwc = pt2tflite.to_channel_last_io(model, args=[0]).eval()
        tfl = pt2tflite.convert(nhwc, (x.permute(0, 2, 3, 1),))
    """
    import torch

    class ChannelLastIO(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.module = module
            self.args = set(args)
            self.outputs = set(outputs)

        def forward(self, *inputs):
            for i in self.args:
                if i >= len(inputs) or inputs[i].dim() < 3:
                    raise ValueError(f"to_channel_last_io: input {i} must be a tensor of rank >= 3")
            inputs = [_to_channel_first(x) if i in self.args else x for i, x in enumerate(inputs)]
            result = self.module(*inputs)
            if not self.outputs:
                return result
            single = isinstance(result, torch.Tensor)
            results = [result] if single else list(result)
            for i in self.outputs:
                if i >= len(results) or results[i].dim() < 3:
                    raise ValueError(f"to_channel_last_io: output {i} must be a tensor of rank >= 3")
            results = [_to_channel_last(y) if i in self.outputs else y for i, y in enumerate(results)]
            if single:
                return results[0]
            return tuple(results) if isinstance(result, tuple) else results

    return ChannelLastIO().train(module.training)
