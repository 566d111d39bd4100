"""Whole torchvision models with random weights: LiteRT output matches PyTorch, layout is NHWC."""

import numpy as np
import pytest
import torch
import torchvision

import pt2tflite

MODELS = ["resnet18", "mobilenet_v2", "mobilenet_v3_small"]


@pytest.fixture(scope="module")
def converted():
    cache = {}

    def get(name):
        if name not in cache:
            torch.manual_seed(0)
            model = getattr(torchvision.models, name)(weights=None).eval()
            cache[name] = (model, pt2tflite.convert(model, (torch.randn(1, 3, 224, 224),)))
        return cache[name]

    return get


@pytest.mark.parametrize("name", MODELS)
def test_model_matches_pytorch(name, converted):
    model, tfl = converted(name)
    for seed in range(3):
        x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            ref = model(x).numpy()
        got = tfl(x)
        err = np.abs(got - ref).max()
        assert err <= 1e-4 * np.abs(ref).max(), f"{name}: max |diff| {err} vs max |ref| {np.abs(ref).max()}"
        assert got.argmax() == ref.argmax()


def test_resnet18_has_one_transpose_at_the_input(converted):
    _, tfl = converted("resnet18")
    from ai_edge_litert.interpreter import Interpreter

    itp = Interpreter(model_content=tfl.tflite_bytes)
    ops = itp._get_ops_details()
    transposes = [op for op in ops if op["op_name"] == "TRANSPOSE"]
    assert len(transposes) == 1
    model_input = itp.get_input_details()[0]["index"]
    assert transposes[0]["inputs"][0] == model_input


@pytest.mark.parametrize("name", MODELS)
def test_every_conv_is_nhwc_with_bias(name, converted):
    _, tfl = converted(name)
    from ai_edge_litert.interpreter import Interpreter

    itp = Interpreter(model_content=tfl.tflite_bytes)
    details = {t["index"]: t for t in itp.get_tensor_details()}
    for op in itp._get_ops_details():
        if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            assert len(op["inputs"]) == 3 and op["inputs"][2] >= 0, "conv without a bias is not delegated to XNNPACK"
            filt = details[op["inputs"][1]]["shape"]
            if op["op_name"] == "DEPTHWISE_CONV_2D":
                assert filt[0] == 1  # 1HWC


def test_conversion_is_deterministic():
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v3_small(weights=None).eval()
    x = torch.randn(1, 3, 64, 64)
    a = pt2tflite.convert(model, (x,)).tflite_bytes
    b = pt2tflite.convert(model, (x,)).tflite_bytes
    assert a == b
