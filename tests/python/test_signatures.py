"""Several signatures in one .tflite file: each runs in LiteRT (XNNPACK and builtin kernels) and
matches PyTorch; weights the signatures share are stored once."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import pt2tflite


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(16, 32)
        self.fc2 = torch.nn.Linear(32, 8)

    def forward(self, x):
        return {"y": self.fc2(torch.relu(self.fc1(x)))}


class Gated(torch.nn.Module):
    """Reuses Mlp's layers with a second input and two outputs."""

    def __init__(self, mlp):
        super().__init__()
        self.mlp = mlp

    def forward(self, x, gate):
        h = self.mlp.fc1(x)
        return h * gate, self.mlp.fc2(torch.relu(h))


def _two_signature_model():
    mlp = Mlp().eval()
    gated = Gated(mlp).eval()
    x4, x1, gate = torch.randn(4, 16), torch.randn(1, 16), torch.randn(1, 32)
    model = pt2tflite.signature("batch4", mlp, (x4,)).signature("gated", gated, (x1, gate)).convert()
    return model, mlp, gated, (x4,), (x1, gate)


def _close(got, want):
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_every_signature_matches_pytorch():
    model, mlp, gated, a, b = _two_signature_model()
    assert model.signatures() == {"batch4": (["x"], ["y"]), "gated": (["x", "gate"], ["output_0", "output_1"])}
    _close(model(*a, signature_name="batch4"), mlp(*a)["y"])
    got = model(signature_name="gated", gate=b[1], x=b[0])  # by name, in any order
    want = gated(*b)
    _close(got[0], want[0])
    _close(got[1], want[1])


@pytest.mark.parametrize("resolver", [OpResolverType.AUTO, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES])
def test_litert_signature_runners(resolver):
    model, mlp, gated, a, b = _two_signature_model()
    itp = Interpreter(model_content=model.tflite_bytes, experimental_op_resolver_type=resolver)
    assert set(itp.get_signature_list()) == {"batch4", "gated"}
    _close(itp.get_signature_runner("batch4")(x=a[0].numpy())["y"], mlp(*a)["y"])
    out = itp.get_signature_runner("gated")(x=b[0].numpy(), gate=b[1].numpy())
    want = gated(*b)
    _close(out["output_0"], want[0])
    _close(out["output_1"], want[1])


def test_shared_weights_are_stored_once():
    model, *_ = _two_signature_model()
    info = pt2tflite._core.inspect(model.tflite_bytes)
    weight_bytes = 4 * (16 * 32 + 32 + 32 * 8 + 8)
    assert info["constant_bytes"] == weight_bytes
    assert info["signatures"] == ["batch4", "gated"]


def test_signature_errors():
    mlp = Mlp().eval()
    x = torch.randn(1, 16)
    with pytest.raises(ValueError, match="already defined"):
        pt2tflite.signature("a", mlp, (x,)).signature("a", mlp, (x,))
    model = pt2tflite.signature("a", mlp, (x,)).signature("b", mlp, (x,)).convert()
    with pytest.raises(TypeError, match="several signatures"):
        model(x)
    with pytest.raises(KeyError, match="no signature 'c'"):
        model(x, signature_name="c")
    with pytest.raises(TypeError, match="no input 'z'"):
        model(signature_name="a", z=x)
    with pytest.raises(TypeError, match="missing inputs"):
        model(signature_name="a")


def test_export_streams_the_same_file_and_leaves_nothing_on_error(tmp_path):
    """Signatures.export writes the file convert() returns (the same bytes: convert() goes through it), and
    a failing conversion leaves no file behind."""
    mlp = Mlp().eval()
    x4 = torch.randn(4, 16)
    sigs = pt2tflite.signature("batch4", mlp, (x4,)).signature("batch1", mlp, (x4[:1],))
    out = tmp_path / "m.tflite"
    size = sigs.export(out)
    assert out.stat().st_size == size
    assert out.read_bytes() == sigs.convert().tflite_bytes

    class Bad(torch.nn.Module):
        def forward(self, x):
            return torch.linalg.svd(x).S  # no lowering

    bad = tmp_path / "bad.tflite"
    with pytest.raises(pt2tflite.ConversionError):
        pt2tflite.signature("a", mlp, (x4,)).signature("b", Bad().eval(), (torch.randn(3, 3),)).export(bad)
    assert not bad.exists()
