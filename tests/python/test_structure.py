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
    # Layer norm over channels in NHWC needs no TRANSPOSE; layer scale folds into the FC, and so do
    # the weight and bias of each block's layer norm (it feeds only the FC).
    "convnext_tiny": {"ADD": 45, "CONV_2D": 4, "DEPTHWISE_CONV_2D": 18, "FULLY_CONNECTED": 37, "GELU": 18, "MEAN": 47,
                      "MUL": 50, "RSQRT": 23, "SUB": 23, "TRANSPOSE": 1},
    # Per layer: one TRANSPOSE of the qkv projection into head-major order before it is sliced into
    # q, k, v (k read through adj_y), and one back before the output FC; every layer norm's weight
    # and bias fold into the FC after it (the last one through the class-token SLICE).
    "vit_b_16": {"ADD": 50, "BATCH_MATMUL": 24, "CONCATENATION": 1, "CONV_2D": 1, "FULLY_CONNECTED": 49, "GELU": 12,
                 "MEAN": 50, "MUL": 74, "RESHAPE": 87, "RSQRT": 25, "SLICE": 37, "SOFTMAX": 12, "SUB": 25,
                 # One more (26, not 25): a copy by guard_inplace_aliases; layer 0's residual ADD reads a RESHAPE of
                 # x + pos_embedding, which its layer norm also reads (LiteRT could write over it).
                 "TRANSPOSE": 26},
}


def trained_layer_norms(model):
    """Trained layer norms are not the identity that init leaves (x*1+0 folds away)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.normal_(1.0, 0.1)
                m.bias.normal_(0.0, 0.1)
    return model


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_op_histogram(name):
    torch.manual_seed(0)
    model = trained_layer_norms(getattr(torchvision.models, name)(weights=None).eval())
    tfl = pt2tflite.convert(model, (torch.randn(1, 3, 224, 224),))
    assert tfl.op_histogram() == EXPECTED[name]
    assert undelegated(tfl) == {}
    report = _core.inspect(tfl.tflite_bytes)["xnnpack"]
    assert {op: v["refused"] for op, v in report.items() if v["refused"]} == {}


# swin_t at 64x64 (small, for the CI budget): stages 1 and 2 pad to a multiple of the 7x7 window and
# shift it, so the graph has rolls, shifted-window masks and patch merging. The relative-position
# bias and the shifted-window mask are constants (no GATHER, compare or select); each roll is
# 2 SLICEs + a CONCATENATION per dim; each patch merging is RESHAPE + TRANSPOSE + RESHAPE (no
# STRIDED_SLICE). PAD and SLICE remain where the model pads the feature map to the window size and
# crops it back. TRANSPOSEs: the input, one per patch merging, and two per block (window partition
# with the head split, head merge with the window reverse). The layer norms before each MLP and
# each patch-merging reduction fold their weight and bias into that FC; the one before attention
# cannot (the feature map is padded in between).
SWIN_T_64 = {"ADD": 81, "BATCH_MATMUL": 24, "CONCATENATION": 8, "CONV_2D": 1, "FULLY_CONNECTED": 52, "GELU": 12,
             "MEAN": 59, "MUL": 84, "PAD": 12, "RESHAPE": 102, "RSQRT": 29, "SLICE": 76, "SOFTMAX": 12, "SUB": 29,
             "TRANSPOSE": 28}


def test_swin_t_needs_no_gather_select_or_strided_slice():
    import numpy as np

    torch.manual_seed(0)
    model = trained_layer_norms(torchvision.models.swin_t(weights=None).eval())
    x = torch.randn(1, 3, 64, 64)
    tfl = pt2tflite.convert(model, (x,))
    hist = tfl.op_histogram()
    assert not {"GATHER", "SELECT_V2", "EQUAL", "NOT_EQUAL", "STRIDED_SLICE"} & set(hist), hist
    assert hist == SWIN_T_64
    assert undelegated(tfl) == {}
    report = _core.inspect(tfl.tflite_bytes)["xnnpack"]
    assert {op: v["refused"] for op, v in report.items() if v["refused"]} == {}
    with torch.no_grad():
        ref = model(x).numpy()
    got = tfl(x)
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()
