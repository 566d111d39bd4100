"""Structure of PT2E int8 models after conversion: native int8 ops with int8 weights quantized
along the dim TFLite expects, int32 biases of scale s_in·s_w, no layout TRANSPOSE but the one at
the input; graphs from the standard XNNPACK-style quantizer, dynamic quantization and int8
model I/O."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.ao.quantization.fx import _decomposed  # noqa: F401  (registers quantized_decomposed ops)

import pt2tflite
from quant_parity import check_int8, like, quantize

X = (torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)),)


class SmallNet(torch.nn.Module):
    """Stem conv, a depthwise-separable residual block, pooling and a classifier."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.dw = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = torch.nn.Conv2d(8, 8, 1)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        y = F.relu(self.stem(x))
        y = F.max_pool2d(y, 2)
        y = y + self.pw(F.relu6(self.dw(y)))
        return self.fc(F.adaptive_avg_pool2d(y, 1).flatten(1))


def ops_with_tensors(model):
    """[(op name, [input tensor details or None], [output tensor details])] from LiteRT."""
    from ai_edge_litert.interpreter import Interpreter

    itp = Interpreter(model_content=model.tflite_bytes)
    details = {d["index"]: d for d in itp.get_tensor_details()}
    return [
        (op["op_name"], [details.get(i) for i in op["inputs"]], [details[i] for i in op["outputs"]])
        for op in itp._get_ops_details()
    ]


@pytest.mark.parametrize("per_channel", [False, True])
def test_weights_biases_and_layout(per_channel):
    ref = quantize(SmallNet(), X, per_channel=per_channel)
    model = pt2tflite.convert(ref, X)
    hist = model.op_histogram()
    assert hist.get("TRANSPOSE") == 1, hist  # NCHW input → NHWC, in int8
    assert hist.get("QUANTIZE") == 1 and hist.get("DEQUANTIZE") == 1, hist
    weighted = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}
    seen = set()
    for op, ins, outs in ops_with_tensors(model):
        if op in ("QUANTIZE", "DEQUANTIZE"):
            continue
        assert ins[0]["dtype"] == np.int8 and outs[0]["dtype"] == np.int8, f"{op} is not int8"
        if op not in weighted:
            continue
        seen.add(op)
        x, w, b = ins[0], ins[1], ins[2]
        wq, bq = w["quantization_parameters"], b["quantization_parameters"]
        channels = w["shape"][weighted[op]]
        assert w["dtype"] == np.int8 and b["dtype"] == np.int32
        assert len(wq["scales"]) == (channels if per_channel else 1)
        assert wq["quantized_dimension"] == (weighted[op] if per_channel else 0)
        assert not wq["zero_points"].any() and not bq["zero_points"].any()
        assert bq["quantized_dimension"] == 0
        s_in = x["quantization_parameters"]["scales"][0]
        np.testing.assert_allclose(bq["scales"], s_in * wq["scales"], rtol=1e-6)
    assert seen == set(weighted)


def test_graph_from_xnnpack_quantizer_converts():
    from torchao.testing.pt2e._xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    # Layers add their own 1 LSB each; three quantized layers deep, 3 LSB at most.
    hist, _, _ = check_int8(SmallNet(), X, quantizer=quantizer, lsb=3)
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "ADD", "MEAN", "FULLY_CONNECTED"):
        assert op in hist, hist


def test_quantized_io():
    ref = quantize(SmallNet(), X)
    float_io = pt2tflite.convert(ref, X)
    int8_io = pt2tflite.convert(ref, X, quantized_io=True)
    assert "QUANTIZE" not in int8_io.op_histogram() and "DEQUANTIZE" not in int8_io.op_histogram()
    from ai_edge_litert.interpreter import Interpreter

    itp = Interpreter(model_content=int8_io.tflite_bytes)
    (inp,), (out,) = itp.get_input_details(), itp.get_output_details()
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    (s_in, z_in), (s_out, z_out) = inp["quantization"], out["quantization"]
    x = like(X, 5)[0].numpy()
    q = np.clip(np.round(x / s_in) + z_in, -128, 127).astype(np.int8)
    got = (int8_io(q).astype(np.float32) - z_out) * s_out
    np.testing.assert_allclose(got, float_io(x), rtol=0, atol=1e-6)


def test_dynamic_linear_is_hybrid_fully_connected():
    m = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    x = (torch.randn(4, 32),)
    ref = quantize(m, x, dynamic=True)
    model = pt2tflite.convert(ref, x)
    hist = model.op_histogram()
    assert hist == {"FULLY_CONNECTED": 2}, hist  # the ReLU is fused
    for op, ins, outs in ops_with_tensors(model):
        assert ins[0]["dtype"] == np.float32 and ins[1]["dtype"] == np.int8
    # The kernel quantizes its input per row at run time, the reference per tensor: close, not equal.
    for batch in (x, like(x, 1)):
        want = ref(*batch).detach().numpy()
        np.testing.assert_allclose(model(*batch), want, atol=0.02 * np.abs(want).max())


def test_weights_of_float_ops_are_dequantized_once():
    # Only the weight of this conv is quantized (a dequantized constant feeding a float conv).
    class WeightOnly(torch.nn.Module):
        def __init__(self):
            super().__init__()
            w = torch.randn(4, 3, 3, 3)
            self.scale = w.abs().amax(dim=(1, 2, 3)) / 127
            self.register_buffer("q", torch.round(w / self.scale[:, None, None, None]).to(torch.int8))

        def forward(self, x):
            w = torch.ops.quantized_decomposed.dequantize_per_channel(
                self.q, self.scale, torch.zeros(4, dtype=torch.int64), 0, -127, 127, torch.int8
            )
            return F.conv2d(x, w)

    m = WeightOnly().eval()
    model = pt2tflite.convert(m, X)
    assert model.op_histogram().get("DEQUANTIZE") == 1
    with torch.no_grad():
        np.testing.assert_allclose(model(*X), m(*X).numpy(), atol=1e-4)


def test_module_name_config_none_keeps_that_module_float():
    from pt2tflite.quantize import PT2EQuantizer, get_symmetric_quantization_config

    quantizer = PT2EQuantizer().set_global(get_symmetric_quantization_config()).set_module_name("fc", None)
    ref = quantize(SmallNet(), X, quantizer=quantizer)
    model = pt2tflite.convert(ref, X)
    fc = [ins for op, ins, _ in ops_with_tensors(model) if op == "FULLY_CONNECTED"]
    assert len(fc) == 1 and fc[0][0]["dtype"] == np.float32 and fc[0][1]["dtype"] == np.float32
    for op, ins, _ in ops_with_tensors(model):
        if op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            assert ins[0]["dtype"] == np.int8
