"""Convert-time evaluation (passes/evaluate_constants.cc): subgraphs of constants and static shapes
are computed once, in float64 rounded to each node's dtype, and checked on both LiteRT runtimes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import pt2tflite

from parity import Fn


def run_both(model: pt2tflite.Model, inputs) -> list[np.ndarray]:
    """The model's first output with XNNPACK (default) and with the builtin kernels only."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    outs = []
    for kw in ({}, {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}):
        itp = Interpreter(model_content=model.tflite_bytes, num_threads=1, **kw)
        itp.allocate_tensors()
        for d, x in zip(itp.get_input_details(), inputs):
            itp.set_tensor(d["index"], x.numpy().astype(d["dtype"]))
        itp.invoke()
        outs.append(itp.get_tensor(itp.get_output_details()[0]["index"]))
    return outs


def check_both(module, inputs, *, rel=1e-5, lacks=(), has=()):
    """Converts, runs on both runtimes, compares with eager in float64; returns the op histogram."""
    module = module.eval()
    model = pt2tflite.convert(module, inputs)
    with torch.no_grad():
        want = module(*inputs).double().numpy()
        want64 = module.double()(*[x.double() if x.is_floating_point() else x for x in inputs]).numpy()
    module.float()
    scale = max(float(np.abs(want64).max()), 1e-30)
    for got in run_both(model, inputs):
        assert got.shape == want.shape
        err = float(np.abs(got.astype(np.float64) - want64).max())
        # As close to float64 as PyTorch fp32 itself is, or within `rel` of the scale.
        assert err <= max(rel * scale, 3 * float(np.abs(want - want64).max())), (err, scale)
    hist = model.op_histogram()
    for op in lacks:
        assert op not in hist, (op, hist)
    for op in has:
        assert op in hist, (op, hist)
    return hist, model


class Rotary(nn.Module):
    """A Llama-style rotary block: inv_freq buffer, positions from arange, cos/sin tables."""

    def __init__(self, dim=16, base=10000.0):
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim)),
                             persistent=False)

    def forward(self, x):  # x [B, H, S, D]
        s = x.shape[2]
        pos = torch.arange(s, dtype=torch.int64)[None, :].float()
        freqs = (self.inv_freq[None, :, None].float().expand(1, -1, 1) @ pos[:, None, :]).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
        rotated = torch.cat((-x2, x1), dim=-1)
        return x * cos + rotated * sin


def test_rotary_tables_are_constants():
    hist, _ = check_both(Rotary(), (torch.randn(1, 2, 12, 16),), lacks=("SIN", "COS", "BATCH_MATMUL"))
    assert "MUL" in hist


def test_t5_relative_position_bucket_is_a_constant():
    from transformers.models.t5.modeling_t5 import T5Attention

    class Bias(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(32, 4)

        def forward(self, x):  # x [1, 4, S, S]
            q = torch.arange(x.shape[2], dtype=torch.long)[:, None]
            k = torch.arange(x.shape[3], dtype=torch.long)[None, :]
            bucket = T5Attention._relative_position_bucket(k - q, bidirectional=True, num_buckets=32, max_distance=128)
            return x + self.emb(bucket).permute(2, 0, 1).unsqueeze(0)

    check_both(Bias(), (torch.randn(1, 4, 40, 40),), lacks=("LOG", "MINIMUM", "GATHER", "CAST"))


def test_mask_indexed_by_several_index_tensors_is_a_constant():
    class Mask(nn.Module):
        def forward(self, x):
            s = x.shape[-1]
            rows = torch.arange(s)[:, None]
            cols = torch.arange(s)[None, :]
            table = torch.tril(torch.ones(s, s, dtype=torch.bool))
            allowed = table[rows, cols]  # index.Tensor with two index tensors
            return x.masked_fill(~allowed, float("-inf")).softmax(-1)

    check_both(Mask(), (torch.randn(2, 7, 7),), lacks=("GATHER_ND", "GATHER"))


def test_linear_bias_concatenated_from_parameters_folds():
    class QkvBias(nn.Module):  # timm BEiT / EVA
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(8, 24, bias=False)
            self.q_bias = nn.Parameter(torch.randn(8))
            self.register_buffer("k_bias", torch.zeros(8), persistent=False)
            self.v_bias = nn.Parameter(torch.randn(8))

        def forward(self, x):
            bias = torch.cat((self.q_bias, self.k_bias, self.v_bias))
            return nn.functional.linear(x, self.qkv.weight, bias)

    hist, _ = check_both(QkvBias(), (torch.randn(2, 5, 8),), lacks=("CONCATENATION",))
    assert hist == {"FULLY_CONNECTED": 1}, hist


def test_integer_and_float_chains_round_like_pytorch():
    def f(x):
        a = torch.arange(0, 1, 0.1)  # float arange: 10 elements
        i = (torch.arange(10) * 7) % 4 - torch.arange(10) // 3
        mix = a * i.float() + torch.exp(a).cumsum(0) / 3.0
        mix = torch.where(i > 0, mix, torch.full_like(mix, 0.25)).clamp(-1.0, 2.5)
        return x + mix + torch.flip(a, [0]).to(torch.int32).float()

    check_both(Fn(f), (torch.randn(3, 10),), lacks=("EXP", "CUMSUM", "FLOOR_MOD", "SELECT", "SELECT_V2"))


def test_a_broadcast_of_a_constant_stays_a_run_time_broadcast():
    c = torch.randn(1, 64, 64)

    def f(x):  # x [32, 64, 64]: the expanded constant would be 512 KiB, c is 16 KiB
        return x * c.expand(32, 64, 64) + torch.sin(c)

    _, model = check_both(Fn(f), (torch.randn(32, 64, 64),), lacks=("SIN",))
    assert len(model.tflite_bytes) < 64 * 1024, len(model.tflite_bytes)


def test_a_big_folded_result_is_not_stored():
    a, b = torch.randn(1024, 1), torch.randn(1, 1024)

    def f(x):  # a·b is 4 MiB, 512x its operands: computed at run time instead
        return x + (a * b)

    _, model = check_both(Fn(f), (torch.randn(1024, 1024),))
    assert len(model.tflite_bytes) < 64 * 1024, len(model.tflite_bytes)


def test_folded_ops_read_through_views_of_weights():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(6, 4))
            self.g = nn.Parameter(torch.rand(6) + 0.5)

        def forward(self, x):  # weight norm: g · w / ||w||, then a transposed read
            w = self.g[:, None] * self.w / (self.w * self.w).sum(1, keepdim=True).sqrt()
            return x @ w.t()

    hist, _ = check_both(Scaled(), (torch.randn(3, 4),))
    assert hist == {"FULLY_CONNECTED": 1}, hist


def test_an_empty_slice_drops_out_of_its_cat():
    def f(q):  # Phi-3's partial rotary when the rotary part is the whole head
        rot, rest = q[..., :8], q[..., 8:]
        return torch.cat([rot * 2.0, rest], dim=-1) + 1.0

    hist, _ = check_both(Fn(f), (torch.randn(1, 2, 5, 8),))
    assert "CONCATENATION" not in hist and "SLICE" not in hist, hist


def test_empty_values_computed_at_run_time_drop_out_with_their_cat():
    def f(x):  # nothing here is a constant: the empty chain must still never reach the lowering
        e = x[:, 0:0].clone() * 2 + 1
        return torch.cat([e, x, e], 1).relu()

    hist, _ = check_both(Fn(f), (torch.randn(2, 5),))
    assert hist == {"RELU": 1}, hist


def test_a_cat_onto_a_legacy_empty_1d_tensor():
    class Cache(nn.Module):  # Hugging Face's DynamicCache: its first K is cat onto torch.tensor([])
        def __init__(self):
            super().__init__()
            self.register_buffer("empty", torch.tensor([]), persistent=False)

        def forward(self, k):
            return torch.cat([self.empty.clone(), k], dim=-2) * 2

    hist, _ = check_both(Cache(), (torch.randn(1, 2, 3, 4),))
    assert "CONCATENATION" not in hist, hist


class MaskPositions(nn.Module):
    """DETR's sine position embedding of an all-ones pixel mask resized to the feature map."""

    def forward(self, feat):  # feat [1, C, h, w]
        mask = torch.ones(1, 32, 32)
        small = nn.functional.interpolate(mask[None], size=feat.shape[-2:]).to(torch.bool)[0]
        y = small.cumsum(1, dtype=torch.float32)
        x = small.cumsum(2, dtype=torch.float32)
        dim_t = 10000 ** (2 * (torch.arange(8, dtype=torch.int64).float() // 2) / 8)
        px = x[:, :, :, None] / dim_t
        py = y[:, :, :, None] / dim_t
        px = torch.stack((px[:, :, :, 0::2].sin(), px[:, :, :, 1::2].cos()), dim=4).flatten(3)
        py = torch.stack((py[:, :, :, 0::2].sin(), py[:, :, :, 1::2].cos()), dim=4).flatten(3)
        pos = torch.cat((py, px), dim=3).permute(0, 3, 1, 2)
        return feat + pos


def test_position_embedding_of_a_resized_constant_mask_is_a_constant():
    check_both(MaskPositions(), (torch.randn(1, 16, 5, 7),), lacks=("SIN", "COS", "CUMSUM", "RESIZE_NEAREST_NEIGHBOR"))


def test_a_repeat_that_adds_nothing_is_a_copy():
    class Queries(nn.Module):
        def __init__(self):
            super().__init__()
            self.query = nn.Embedding(10, 8)

        def forward(self, x):
            return x + self.query.weight.unsqueeze(0).repeat(x.shape[0], 1, 1)

    hist, _ = check_both(Queries(), (torch.randn(1, 10, 8),))
    assert hist == {"ADD": 1}, hist


_TABLE = torch.randn(4, 5, 6, 7)
_I = torch.tensor([[0, 3], [2, 1]])
_J = torch.tensor([4, 0])
_INDEXINGS = {  # numpy rules: adjacent index tensors stay in place, separated ones go first
    "adjacent": lambda t: t[:, _I, _J],
    "separated": lambda t: t[_I, :, _J],
    "leading_slice_and_negative": lambda t: t[:, :, _J - 6],
    "three": lambda t: t[_J % 4, _J, _I],
}


@pytest.mark.parametrize("case", list(_INDEXINGS))
def test_constant_advanced_indexing_matches_eager(case):
    want_shape = _INDEXINGS[case](_TABLE).shape

    def f(x):
        return x + _INDEXINGS[case](_TABLE)

    check_both(Fn(f), (torch.randn(*want_shape),), lacks=("GATHER", "GATHER_ND"))


def test_tiny_llama_has_no_rotary_or_mask_ops_left():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=50, max_position_embeddings=32, use_cache=False)
    lm = LlamaForCausalLM(cfg).eval()
    model = Fn(lambda ids: lm(ids, use_cache=False, return_dict=False)[0])
    ids = torch.randint(0, 50, (1, 6), generator=torch.Generator().manual_seed(0))
    hist, _ = check_both(model, (ids,), rel=1e-4, lacks=("SIN", "COS", "GATHER_ND", "CAST", "CUMSUM"))
