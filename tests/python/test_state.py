"""Model state (KV caches): a mutated buffer becomes a same-named input and output, its block write
a DYNAMIC_UPDATE_SLICE; prefill + decode signatures run in LiteRT and match PyTorch step by step.
Mutations that the in-place runtime contract cannot honour are refused with a clear error."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import pt2tflite


class CachedAttention(torch.nn.Module):
    """One attention head group over a registered-buffer KV cache updated with index_copy_."""

    def __init__(self, cache_len=16, heads=2, head_dim=8):
        super().__init__()
        self.heads, self.head_dim, dim = heads, head_dim, heads * head_dim
        self.q, self.k, self.v = (torch.nn.Linear(dim, dim) for _ in range(3))
        self.register_buffer("k_cache", torch.zeros(1, heads, cache_len, head_dim))
        self.register_buffer("v_cache", torch.zeros(1, heads, cache_len, head_dim))

    def split(self, t):
        return t.view(1, t.shape[1], self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x, input_pos):
        steps = x.shape[1]
        q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
        rows = torch.arange(steps) + input_pos[0]
        self.k_cache.index_copy_(2, rows, k)
        self.v_cache.index_copy_(2, rows, v)
        mask = torch.arange(self.k_cache.shape[2])[None, :] <= rows[:, None]
        o = torch.nn.functional.scaled_dot_product_attention(q, self.k_cache, self.v_cache, attn_mask=mask)
        return o.transpose(1, 2).reshape(1, steps, self.heads * self.head_dim)


def _prefill_decode(module):
    return (pt2tflite.signature("prefill_4", copy.deepcopy(module), (torch.randn(1, 4, 16), torch.arange(4)))
            .signature("decode", copy.deepcopy(module), (torch.randn(1, 1, 16), torch.tensor([4])))
            .convert())


@pytest.mark.parametrize("resolver", [OpResolverType.AUTO, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES])
@torch.no_grad()
def test_kv_cache_prefill_then_decode(resolver):
    ref = CachedAttention().eval()
    model = _prefill_decode(ref)
    names = model.signatures()
    assert names["decode"] == (["x", "input_pos", "k_cache", "v_cache"], ["output_0", "k_cache", "v_cache"])
    assert model.op_histogram()["DYNAMIC_UPDATE_SLICE"] == 4
    itp = Interpreter(model_content=model.tflite_bytes, experimental_op_resolver_type=resolver)
    caches = {"k_cache": np.zeros((1, 2, 16, 8), np.float32), "v_cache": np.zeros((1, 2, 16, 8), np.float32)}
    steps = [("prefill_4", torch.randn(1, 4, 16), torch.arange(4))]
    steps += [("decode", torch.randn(1, 1, 16), torch.tensor([p])) for p in range(4, 12)]
    for key, x, pos in steps:
        out = itp.get_signature_runner(key)(x=x.numpy(), input_pos=pos.numpy(), **caches)
        want = ref(x, pos).numpy()
        np.testing.assert_allclose(out["output_0"], want, rtol=0, atol=1e-5 * np.abs(want).max())
        np.testing.assert_allclose(out["k_cache"], ref.k_cache.numpy(), rtol=0, atol=1e-5)
        caches = {"k_cache": out["k_cache"], "v_cache": out["v_cache"]}


class ReadsOldCache(CachedAttention):
    def forward(self, x, input_pos):
        old = self.k_cache.sum()
        return super().forward(x, input_pos) + old


class ScattersAtPositions(CachedAttention):
    def forward(self, x, input_pos):
        self.k_cache.index_copy_(2, input_pos, self.split(self.k(x)))  # positions not provably consecutive
        return self.k_cache.sum(2)


class ScalesCache(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("acc", torch.zeros(4))

    def forward(self, x):
        self.acc.mul_(0.5).add_(x)
        return self.acc * 2


class OverwrittenEachCall(torch.nn.Module):
    """A buffer set from the inputs before any read (Hugging Face's cumulative_length): folded away."""

    def __init__(self):
        super().__init__()
        self.register_buffer("offset", torch.zeros(1, dtype=torch.long))

    def forward(self, x, pos):
        self.offset.copy_(pos[0])
        return x + self.offset.float()


def test_old_cache_read_after_write_is_refused():
    with pytest.raises(pt2tflite.ConversionError, match="read here besides the block write"):
        pt2tflite.convert(ReadsOldCache().eval(), (torch.randn(1, 4, 16), torch.arange(4)))


def test_scatter_to_arbitrary_rows_is_refused():
    with pytest.raises(pt2tflite.ConversionError, match="not provably consecutive"):
        pt2tflite.convert(ScattersAtPositions().eval(), (torch.randn(1, 4, 16), torch.arange(4)))


def test_other_mutation_is_refused():
    with pytest.raises(pt2tflite.ConversionError, match="buffer 'acc' is mutated in a way other than a block write"):
        pt2tflite.convert(ScalesCache().eval(), (torch.randn(4),))


def test_buffer_overwritten_from_inputs_is_folded_away():
    module = OverwrittenEachCall().eval()
    x, pos = torch.randn(3), torch.tensor([5, 6])
    model = pt2tflite.convert(module, (x, pos))
    assert model.signatures()["serving_default"] == (["x", "pos"], ["output_0"])
    np.testing.assert_allclose(model(x, pos), module(x, pos).numpy(), rtol=1e-6)
