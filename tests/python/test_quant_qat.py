"""Quantization-aware training end to end: get_symmetric_quantization_config(is_qat=True) →
torchao prepare_qat_pt2e → a few SGD steps → move_exported_model_to_eval → convert_pt2e →
pt2tflite.convert, compared in LiteRT with the PT2E reference (convert_pt2e's module in PyTorch).

QAT differs from post-training quantization in what reaches the converter: batch norm trained
through fake-quantized weights and folded by convert_pt2e, and parameters learned by moving-average
fake-quantize modules rather than set by a histogram observer."""

import os
import sys

import numpy as np
import pytest
import torch
from torchao.quantization.pt2e import move_exported_model_to_eval
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_qat_pt2e

import pt2tflite
from pt2tflite.quantize import PT2EQuantizer, get_symmetric_quantization_config
from quant_parity import output_scale

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
from quant_eval import batched, build, crops, images, sqnr_db  # noqa: E402


def qat(model, batches, labels, per_channel, steps, lr=0.01):
    """prepare_qat_pt2e on `model` (exported in train mode), `steps` SGD steps on (batch, label)
    pairs, then the converted reference."""
    model.train()
    m = torch.export.export(model, (batches[0],)).module()
    m = prepare_qat_pt2e(m, PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=per_channel, is_qat=True)))
    opt = torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9)
    losses = []
    for step in range(steps):
        x, y = batches[step % len(batches)], labels[step % len(labels)]
        loss = torch.nn.functional.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    move_exported_model_to_eval(m)
    return convert_pt2e(m), losses


class ConvBnReluNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
            torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        )
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(16, 4)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


# `make test` runs the per-channel case; the per-tensor one and resnet18 are `slow` (make test-slow).
@pytest.mark.parametrize("per_channel", [pytest.param(False, marks=pytest.mark.slow), True],
                         ids=["per_tensor", "per_channel"])
def test_qat_small_model_within_one_lsb(per_channel):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(8, 3, 16, 16, generator=g) for _ in range(4)]
    # A learnable rule: the class is the quadrant of (mean red - mean blue, mean green).
    ys = [((x[:, 0].mean((1, 2)) > x[:, 2].mean((1, 2))).long() * 2 + (x[:, 1].mean((1, 2)) > 0).long()) for x in xs]
    reference, losses = qat(ConvBnReluNet(), xs, ys, per_channel, steps=16, lr=0.05)
    assert sum(losses[-4:]) < sum(losses[:4]), losses  # it trained (same 4 batches, first vs last pass)
    # No batch norm left in the reference: convert_pt2e folded it into the convolutions.
    assert not any("batch_norm" in str(n.target) for n in reference.graph.nodes)
    tfl = pt2tflite.convert(reference, (xs[0],))
    hist = tfl.op_histogram()
    assert hist.get("CONV_2D") == 2 and hist.get("QUANTIZE") == 1 and hist.get("DEQUANTIZE") == 1, hist
    step = output_scale(reference)
    diffs, agree = [], []
    for x in [torch.randn(8, 3, 16, 16, generator=g) for _ in range(4)]:
        with torch.no_grad():
            want = reference(x).numpy()
        got = tfl(x)
        diffs.append(np.abs(got - want) / step)
        agree.append(got.argmax(1) == want.argmax(1))
    diffs, agree = np.concatenate(diffs), np.concatenate(agree)
    # Each op is within 1 LSB of the reference on its own (test_quant_ops.py). In this chain a
    # 1-LSB difference in the pooled features moves each logit by sum_i |w_i| * s_pool / s_out,
    # which here can reach a second step (measured: max 2 LSB per-channel, 1 per-tensor); most
    # logits are exact.
    assert diffs.max() <= 2 + 1e-3, f"max |diff| {diffs.max():.2f} LSB"
    assert (diffs > 0.5).mean() <= 0.1, f"{(diffs > 0.5).mean():.1%} of the logits differ"
    assert agree.mean() >= 31 / 32, agree


@pytest.mark.slow
def test_qat_resnet18_agrees_with_the_reference():
    # The conditioned random resnet18 of tools/quant_eval.py (16-class probe head, natural-image
    # crops), fine-tuned with QAT on its own task for a few steps at 64x64.
    size, batch = 64, 16
    model = build("resnet18", size)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            # build() measured the statistics with momentum=None (a plain average over
            # num_batches_tracked), which torch.export cannot trace in train mode; fine-tune with
            # the usual running average.
            m.momentum = 0.1
    train, train_labels = crops(4 * batch, size, seed=3)
    reference, losses = qat(model, batched(train, batch), [torch.tensor(train_labels[i : i + batch])
                                                             for i in range(0, len(train), batch)],
                            per_channel=True, steps=4)
    tfl = pt2tflite.convert(reference, (torch.cat(images(batch, size, seed=7)),))
    hist = tfl.op_histogram()
    assert (hist.get("QUANTIZE"), hist.get("DEQUANTIZE"), hist.get("TRANSPOSE")) == (1, 1, 1), hist
    inputs, _ = crops(8 * batch, size, seed=2)
    with torch.no_grad():
        want = np.concatenate([reference(x).numpy() for x in batched(inputs, batch)])
    got = np.concatenate([tfl(x) for x in batched(inputs, batch)])
    agreement = float((got.argmax(1) == want.argmax(1)).mean())
    sqnr = sqnr_db(want, got)
    print(f"QAT resnet18: top-1 agreement {agreement:.3f} over {len(got)} crops, SQNR vs reference {sqnr:.1f} dB")
    assert agreement >= 0.98, agreement  # 128 crops: at most two near-ties may flip
    assert sqnr >= 25.0, sqnr  # as in test_quant_models.py
