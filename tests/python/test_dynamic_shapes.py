"""Dynamic shapes: torch.export Dims become -1 in shape_signature, and the model gives PyTorch's
answer at several run-time sizes after resize_tensor_input + allocate_tensors, with XNNPACK and
with the builtin kernels alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from torch.export import Dim

import pt2tflite

RESOLVERS = [OpResolverType.AUTO, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES]


def run_at_sizes(model, module, make_input, sizes, resolver, rtol):
    itp = Interpreter(model_content=model.tflite_bytes, experimental_op_resolver_type=resolver)
    detail = itp.get_input_details()[0]
    for n in sizes:
        x = make_input(n)
        itp.resize_tensor_input(detail["index"], list(x.shape))
        itp.allocate_tensors()
        itp.set_tensor(detail["index"], x.numpy())
        itp.invoke()
        got = itp.get_tensor(itp.get_output_details()[0]["index"])
        with torch.no_grad():
            want = module(x).numpy()
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=rtol * np.abs(want).max())
    return detail


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_cnn_dynamic_batch(resolver):
    net = torchvision.models.resnet18(num_classes=10).eval()
    batch = Dim("batch", min=1, max=8)
    model = pt2tflite.convert(net, (torch.randn(2, 3, 32, 32),), dynamic_shapes=({0: batch},))
    detail = run_at_sizes(model, net, lambda n: torch.randn(n, 3, 32, 32), [1, 3, 5], resolver, 1e-5)
    assert list(detail["shape_signature"]) == [-1, 3, 32, 32]


class TokenMlp(torch.nn.Module):
    """Per-token layers and a head split with a dynamic sequence length."""

    def __init__(self):
        super().__init__()
        self.norm = torch.nn.LayerNorm(32)
        self.fc1 = torch.nn.Linear(32, 64)
        self.fc2 = torch.nn.Linear(64, 32)

    def forward(self, x):  # [1, S, 32]
        h = self.fc2(torch.nn.functional.gelu(self.fc1(self.norm(x))))
        heads = h.view(1, x.shape[1], 4, 8).softmax(-1)
        return heads.reshape(1, x.shape[1], 32) + x


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_dynamic_sequence_length(resolver):
    net = TokenMlp().eval()
    seq = Dim("seq", min=2, max=64)
    model = pt2tflite.convert(net, (torch.randn(1, 8, 32),), dynamic_shapes=({1: seq},))
    detail = run_at_sizes(model, net, lambda n: torch.randn(1, n, 32), [2, 7, 33], resolver, 1e-5)
    assert list(detail["shape_signature"]) == [1, -1, 32]


class Merge(torch.nn.Module):
    def forward(self, x):  # [B, S, 4] -> [B·S, 4]: one dynamic dim in the result, RESHAPE with -1
        return x.reshape(-1, 4).relu()


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_reshape_merging_two_dynamic_dims(resolver):
    b, s = Dim("b", min=2, max=8), Dim("s", min=2, max=8)
    model = pt2tflite.convert(Merge().eval(), (torch.randn(2, 3, 4),), dynamic_shapes=({0: b, 1: s},))
    itp = Interpreter(model_content=model.tflite_bytes, experimental_op_resolver_type=resolver)
    detail = itp.get_input_details()[0]
    for shape in [(2, 2, 4), (5, 3, 4), (3, 7, 4)]:
        x = torch.randn(shape)
        itp.resize_tensor_input(detail["index"], list(shape))
        itp.allocate_tensors()
        itp.set_tensor(detail["index"], x.numpy())
        itp.invoke()
        np.testing.assert_array_equal(itp.get_tensor(itp.get_output_details()[0]["index"]), Merge()(x).numpy())


def test_reshape_to_two_dynamic_dims_is_refused():
    class Split(torch.nn.Module):
        def forward(self, x):  # [B, S, 4] -> [B, S·2, 2]: two run-time sizes in the result
            return x.reshape(x.shape[0], -1, 2).relu()

    b, s = Dim("b", min=2, max=8), Dim("s", min=2, max=8)
    with pytest.raises(pt2tflite.ConversionError, match="a size computed from dynamic dims"):
        pt2tflite.convert(Split().eval(), (torch.randn(2, 3, 4),), dynamic_shapes=({0: b, 1: s},))


class SliceToLength(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("table", torch.arange(64.0))

    def forward(self, x):  # [1, S]: the slice end is S, known only at run time
        return x + self.table[: x.shape[1]]


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_slice_to_a_run_time_length(resolver):
    """A buffer sliced to the input's run-time length (a SLICE whose size is read with SHAPE)."""
    net = SliceToLength().eval()
    seq = Dim("seq", min=2, max=32)
    model = pt2tflite.convert(net, (torch.randn(1, 8),), dynamic_shapes=({1: seq},))
    assert {"SHAPE", "SLICE"} <= set(model.op_histogram())
    run_at_sizes(model, net, lambda n: torch.randn(1, n), [2, 9, 32], resolver, 1e-6)


class AttendToRunTimeLength(torch.nn.Module):
    """Attention over the first n rows of a cache, n computed from an input and read with `.item()`
    (export_llm's attend_bucket): the slices' size is a run-time value, not an input's dim."""

    def __init__(self):
        super().__init__()
        self.register_buffer("cache", torch.randn(1, 2, 16, 4))

    def forward(self, q, pos):
        n = torch.clamp((pos[0] // 4 + 1) * 4, max=16).item()
        torch._check(n >= 1)
        torch._check(n <= 16)
        k = self.cache[:, :, :n]
        return torch.softmax(q @ k.transpose(2, 3), dim=-1) @ k


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_item_sizes_slices_at_run_time(resolver):
    net = AttendToRunTimeLength().eval()
    q = torch.randn(1, 2, 3, 4)
    model = pt2tflite.convert(net, (q, torch.tensor([5], dtype=torch.int32)))
    assert "SLICE" in model.op_histogram()
    itp = Interpreter(model_content=model.tflite_bytes, experimental_op_resolver_type=resolver)
    run = itp.get_signature_runner()
    for p in (0, 3, 4, 9, 15, 1):  # n = 4, 4, 8, 12, 16, 4: LiteRT re-plans whenever n changes
        pos = torch.tensor([p], dtype=torch.int32)
        got = next(iter(run(q=q.numpy(), pos=pos.numpy()).values()))
        with torch.no_grad():
            want = net(q, pos).numpy()
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())


class OpsOnAnItemLengthSlice(torch.nn.Module):
    """x[:n] with n from `.item()`: its first dim is an unbacked symbol, which has no example size
    (the boundary's size rules see 1 for it). The ops after it must still convert."""

    def __init__(self, op):
        super().__init__()
        self.op = op
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x, n):
        k = n.item()
        torch._check(k >= 1)
        torch._check(k <= x.shape[0])
        y = x[:k]
        return {
            "linear": lambda: self.fc(y),
            "softmax": lambda: torch.softmax(y, 0),
            "flip": lambda: y + y.flip(0),
            "cat": lambda: torch.cat([y, y * 2], 0),
            "mean": lambda: y.mean(0, keepdim=True) - y,
            "matmul": lambda: y @ y.t(),
        }[self.op]()


@pytest.mark.parametrize("op", ["linear", "softmax", "flip", "cat", "mean", "matmul"])
def test_ops_on_an_item_length_slice(op):
    net = OpsOnAnItemLengthSlice(op).eval()
    x = torch.randn(8, 4)
    model = pt2tflite.convert(net, (x, torch.tensor(5)))
    for n in (5, 1, 8, 3):  # LiteRT re-plans whenever n changes
        got = model(x, torch.tensor(n))
        with torch.no_grad():
            want = net(x, torch.tensor(n)).numpy()
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_slice_to_a_derived_run_time_length_is_refused_clearly():
    class SliceToTwiceLength(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("table", torch.arange(64.0))

        def forward(self, x):  # [1, S]: the slice end is 2·S, not an input's size
            return self.table[: 2 * x.shape[1]].sum() + x

    seq = Dim("seq", min=2, max=32)
    with pytest.raises(pt2tflite.ConversionError, match="dynamic"):
        pt2tflite.convert(SliceToTwiceLength().eval(), (torch.randn(1, 8),), dynamic_shapes=({1: seq},))


class Bert(torch.nn.Module):
    """Hugging Face BertModel (random, 2 layers) on token ids of any length: its position ids are a
    slice of a buffer to the run-time length, its token types a gather from a buffer, its attention
    mask an arange over the length (and a gather from the padding mask), and SDPA reshapes
    [1, H, S, S] scores (two dynamic dims)."""

    def __init__(self):
        super().__init__()
        from transformers import BertConfig, BertModel

        cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=64)
        self.bert = BertModel(cfg, add_pooling_layer=False).eval()

    def forward(self, ids, mask=None):
        return self.bert(input_ids=ids, attention_mask=mask).last_hidden_state


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_bert_dynamic_sequence_length(resolver):
    net = Bert().eval()
    seq = Dim("seq", min=2, max=64)
    model = pt2tflite.convert(net, (torch.randint(0, 100, (1, 8)),), dynamic_shapes=({1: seq},))
    detail = run_at_sizes(model, net, lambda n: torch.randint(0, 100, (1, n)), [3, 17, 64], resolver, 1e-5)
    assert list(detail["shape_signature"]) == [1, -1]


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_bert_dynamic_sequence_length_with_padding_mask(resolver):
    """The attention_mask input too (the last two tokens are padding, so the mask matters)."""
    net = Bert().eval()
    seq = Dim("seq", min=2, max=64)
    sample = (torch.randint(0, 100, (1, 8)), torch.ones(1, 8, dtype=torch.long))
    model = pt2tflite.convert(net, sample, dynamic_shapes=({1: seq}, {1: seq}))
    itp = Interpreter(model_content=model.tflite_bytes, experimental_op_resolver_type=resolver)
    details = itp.get_input_details()
    assert [list(d["shape_signature"]) for d in details] == [[1, -1], [1, -1]]
    for n in [3, 17, 64]:
        ids, mask = torch.randint(0, 100, (1, n)), torch.ones(1, n, dtype=torch.long)
        mask[0, -2:] = 0
        for d, x in zip(details, (ids, mask)):
            itp.resize_tensor_input(d["index"], list(x.shape))
        itp.allocate_tensors()
        for d, x in zip(details, (ids, mask)):
            itp.set_tensor(d["index"], x.numpy())
        itp.invoke()
        got = itp.get_tensor(itp.get_output_details()[0]["index"])
        with torch.no_grad():
            want = net(ids, mask).numpy()
            unmasked = net(ids).numpy()
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())
        assert np.abs(unmasked - want).max() > 1e-3  # the padding changes the answer
