"""Whole models quantized with PT2E, per-tensor and per-channel: torchvision resnet18 and
mobilenet_v2, timm efficientnet_lite0 and mobilenetv4_conv_small, with random weights conditioned
as tools/quant_eval.py's docstring explains (measured batch-norm statistics, ReLUs mostly active,
low-pass depthwise filters, a fitted 16-class linear probe) on natural-image crops.

Each converted model must be int8 from the input TRANSPOSE to the classifier, agree with the PT2E
reference (convert_pt2e's module run in PyTorch) on the top-1 class of >= 99% of 200 crops, stay
close to it (SQNR int8 vs reference), and lose no accuracy beyond the reference's own (SQNR vs
fp32). 96x96 inputs and 20-input batches keep the run short; tools/quant_eval.py is the 224x224
version with latencies."""

import os
import sys

import pytest
import torch

import pt2tflite

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
from quant_eval import MODELS, accuracy, batched, build, crops, images, quantize  # noqa: E402

SIZE = 96
INPUTS = 200
BATCH = 20
CALIBRATION = 20

# Each block of these models on its own matches the reference within 1 LSB; through ~20 blocks
# the 1-LSB differences add up to ~30-34 dB SQNR against the reference (measured 30.4-34.2 dB).
# 25 dB leaves room for other seeds and library versions; a semantic error in any one op (wrong
# zero point, clamp, rounding mode, bias scale) costs far more than that.
MIN_SQNR_VS_REFERENCE_DB = 25.0
# LiteRT's SQNR against fp32 may not be worse than the reference's own by more than this.
MAX_SQNR_LOSS_DB = 0.5


@pytest.fixture(scope="module")
def evaluated():
    cache = {}

    def get(name, per_channel):
        if name not in cache:
            cache[name] = build(name, SIZE)
        key = (name, per_channel)
        if key not in cache:
            model = cache[name]
            reference = quantize(model, SIZE, per_channel, CALIBRATION, batch=BATCH)
            tfl = pt2tflite.convert(reference, (torch.cat(images(BATCH, SIZE, seed=7)),))
            inputs, labels = crops(INPUTS, SIZE, seed=2)
            cache[key] = (tfl, accuracy(model, reference, tfl, batched(inputs, BATCH), labels))
        return cache[key]

    return get


# `make test` runs resnet18 and efficientnet_lite0 (the talk's int8 model); the other two are
# `slow` (make test-slow).
IN_MAKE_TEST = ("resnet18", "efficientnet_lite0")


@pytest.mark.parametrize("per_channel", [False, True], ids=["per_tensor", "per_channel"])
@pytest.mark.parametrize("name", [m if m in IN_MAKE_TEST else pytest.param(m, marks=pytest.mark.slow) for m in MODELS])
def test_model_is_int8_and_agrees_with_the_reference(name, per_channel, evaluated):
    tfl, acc = evaluated(name, per_channel)
    print(name, "per-channel" if per_channel else "per-tensor", acc)
    hist = tfl.op_histogram()
    assert (hist.get("QUANTIZE"), hist.get("DEQUANTIZE"), hist.get("TRANSPOSE")) == (1, 1, 1), hist
    assert acc["inputs"] >= 200
    # The fp32 model really classifies (so top-1 agreement is not agreement on a constant class).
    assert acc["distinct_classes"] == 16 and acc["fp32_label_accuracy"] >= 0.8, acc
    assert acc["top1_agreement"] >= 0.99, acc
    assert acc["sqnr_vs_reference_db"] >= MIN_SQNR_VS_REFERENCE_DB, acc
    assert acc["sqnr_int8_db"] >= acc["sqnr_reference_db"] - MAX_SQNR_LOSS_DB, acc
