"""The exact op histogram of whole torchvision models (random weights, 224x224 input), so that any
change in layout handling or fusion shows up here. Every op must also be taken by XNNPACK, both by
the real interpreter's partitioning and by `inspect`'s delegation report.

When a change improves a model, update its histogram here and say why in the commit message."""

import pytest
import torch
import torchvision

import pt2tflite
from parity import undelegated
from pt2tflite import _core

EXPECTED = {
    # One TRANSPOSE (the NCHW input); PAD only where SAME cannot express PyTorch's padding
    # (stride 2 on an even size); no RESHAPE before the classifier FC.
    "resnet18": {"ADD": 8, "CONV_2D": 20, "FULLY_CONNECTED": 1, "MAX_POOL_2D": 1, "MEAN": 1, "PAD": 5, "TRANSPOSE": 1},
    "mobilenet_v2": {"ADD": 10, "CONV_2D": 35, "DEPTHWISE_CONV_2D": 17, "FULLY_CONNECTED": 1, "MEAN": 1, "PAD": 5,
                     "TRANSPOSE": 1},
    "efficientnet_b0": {"ADD": 9, "CONV_2D": 65, "DEPTHWISE_CONV_2D": 16, "FULLY_CONNECTED": 1, "LOGISTIC": 65,
                        "MEAN": 17, "MUL": 65, "PAD": 5, "TRANSPOSE": 1},
    # Layer norm over channels in NHWC needs no TRANSPOSE; layer scale folds into the FC.
    "convnext_tiny": {"ADD": 64, "CONV_2D": 4, "DEPTHWISE_CONV_2D": 18, "FULLY_CONNECTED": 37, "GELU": 18, "MEAN": 47,
                      "MUL": 69, "RSQRT": 23, "SUB": 23, "TRANSPOSE": 1},
    # Per layer: one TRANSPOSE of the qkv projection into head-major order before it is sliced into
    # q, k, v (k read through adj_y), and one back before the output FC.
    "vit_b_16": {"ADD": 75, "BATCH_MATMUL": 24, "CONCATENATION": 1, "CONV_2D": 1, "FULLY_CONNECTED": 49, "GELU": 12,
                 "MEAN": 50, "MUL": 99, "RESHAPE": 87, "RSQRT": 25, "SLICE": 37, "SOFTMAX": 12, "SUB": 25,
                 "TRANSPOSE": 25},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_op_histogram(name):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    with torch.no_grad():  # trained layer norms are not the identity that init leaves (x*1+0 folds away)
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.normal_(1.0, 0.1)
                m.bias.normal_(0.0, 0.1)
    tfl = pt2tflite.convert(model, (torch.randn(1, 3, 224, 224),))
    assert tfl.op_histogram() == EXPECTED[name]
    assert undelegated(tfl) == {}
    report = _core.inspect(tfl.tflite_bytes)["xnnpack"]
    assert {op: v["refused"] for op, v in report.items() if v["refused"]} == {}
