"""Grouped-query attention without repeating K/V, as a Hugging Face attention implementation.

Hugging Face's `sdpa` attention repeats each K/V head G = N / K times (`repeat_kv`) before
`scaled_dot_product_attention`, and the SDPA decomposition scales q and k by sqrt(scale) each. In a
.tflite that is, per layer and per step, a BROADCAST_TO of the whole K and V caches to N heads
(BROADCAST_TO has no XNNPACK kernel: the builtin reference kernel copies element by element) and a
MUL over the whole K cache. Measured on a 4-layer Llama with S = 1024 (bench/llm_bench.py), that was
~70 % of a decode step.

This implementation folds the G query heads of each K/V head into the rows of one matrix
product instead (q [B, N, T, H] is [B, K, G·T, H] with no data movement, since head n = k·G + g):

    scores = (q · scale) @ Kᵀ          [B, K, G·T, S]   one BATCH_MATMUL (adj_y), no copy of K
    probs  = softmax(scores + mask)    the mask [B, 1, T, S] broadcast over K and G
    out    = probs @ V                 [B, K, G·T, H] → [B, T, N, H]

It is the same arithmetic as SDPA in another order (each score is one dot product; only the scale is
applied to q alone), so it matches Hugging Face within float rounding. Gemma 2's attention logit
soft-capping, softcap · tanh(scores / softcap) before the mask, is applied as its eager attention
does. Anything it does not cover (attention sinks, position bias, dropout in training, no mask on a
causal step over a longer cache) goes to Hugging Face's own `sdpa` function unchanged.
"""

from __future__ import annotations

import contextlib

NAME = "pt2tflite_gqa"
# A keyword Hugging Face passes through to the attention function: attend over that many cache rows.
ATTEND_LENGTH = "pt2tflite_attend_length"


def gqa_attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None,
                  is_causal=None, **kwargs):
    """A transformers AttentionInterface function: query [B, N, T, H], key/value [B, K, S, H];
    returns ([B, T, N, H], None)."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    # export_llm's decode_{L} signatures (an int) and attend_bucket (a run-time 0-d tensor): attend over the
    # first L cache rows only (every position is below L, and the rows past it are masked anyway).
    attend = kwargs.pop(ATTEND_LENGTH, None)
    rows_at_run_time = isinstance(attend, torch.Tensor)
    if rows_at_run_time:  # decided at run time (export_llm's decode): a 0-d int tensor
        # Per layer, no more rows than this layer's cache has (a SLICE past its input fails at run time).
        rows = torch.clamp(attend, max=key.shape[2]).item()
        torch._check(rows >= 1)
        torch._check(rows <= key.shape[2])
        key, value = key[:, :, :rows], value[:, :, :rows]
        if attention_mask is not None:
            attention_mask = attention_mask[..., :rows]
    elif attend is not None and attend < key.shape[2]:
        key, value = key[:, :, :attend], value[:, :, :attend]
        if attention_mask is not None:
            attention_mask = attention_mask[..., :attend]
    b, n, t, h = query.shape
    kv_heads, s = key.shape[1], key.shape[2]
    softcap = kwargs.pop("softcap", None)
    unsupported = (kwargs.get("s_aux") is not None
                   or kwargs.get("sinks") is not None or kwargs.get("position_bias") is not None
                   or (dropout and module.training) or n % kv_heads or value.shape[2] != s
                   or (attention_mask is None and t > 1 and s > 1)
                   or (attention_mask is not None and tuple(attention_mask.shape[-2:]) != (t, s)))
    if unsupported:
        if softcap is not None:
            kwargs["softcap"] = softcap  # sdpa refuses it with its own message
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    scale = scaling if scaling is not None else h ** -0.5
    g = n // kv_heads
    q = (query * scale).reshape(b, kv_heads, g * t, h)
    # With a run-time row count, 3-D products on the squeezed batch: K reaches BATCH_MATMUL as adj_y.
    # (matmul's decomposition reshapes a transposed K, and the converter's transpose folding needs
    # static shapes, so that would copy K once more through a TRANSPOSE.)
    three_d = rows_at_run_time and b == 1
    if three_d:
        scores = torch.bmm(q.squeeze(0), key.squeeze(0).transpose(1, 2)).unsqueeze(0)  # [1, K, G·T, L]
    else:
        scores = torch.matmul(q, key.transpose(2, 3))  # [B, K, G·T, S]
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    if attention_mask is not None:
        mask = attention_mask  # [B or 1, 1, T, S]
        if mask.dtype == torch.bool:
            mask = torch.where(mask, scores.new_zeros(()), scores.new_full((), torch.finfo(scores.dtype).min))
        scores = (scores.reshape(b, kv_heads, g, t, s) + mask.unsqueeze(2)).reshape(b, kv_heads, g * t, s)
    probs = torch.softmax(scores, dim=-1)
    out = torch.bmm(probs.squeeze(0), value.squeeze(0)).unsqueeze(0) if three_d else torch.matmul(probs, value)
    return out.reshape(b, n, t, value.shape[-1]).transpose(1, 2).contiguous(), None


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, gqa_attention)
    # Hugging Face's sdpa mask (boolean [B, 1, T, S]); never skipped for "is_causal", because this
    # function has no is_causal path of its own.
    def mask(*args, **kwargs):
        kwargs["allow_is_causal_skip"] = False
        return sdpa_mask(*args, **kwargs)

    AttentionMaskInterface.register(NAME, mask)


@contextlib.contextmanager
def gqa_attention_for(hf_model):
    """Switches `hf_model` to this attention implementation for the duration of the block (and back).
    A model that does not go through the attention interface is left as it is."""
    _register()
    configs = [c for c in (hf_model.config, getattr(hf_model.config, "text_config", None)) if c is not None]
    before = [c._attn_implementation for c in configs]
    try:
        hf_model.set_attn_implementation(NAME)
        switched = True
    except (ValueError, ImportError, AttributeError, NotImplementedError):
        switched = False
    try:
        yield switched
    finally:
        if switched:
            try:
                hf_model.set_attn_implementation(before[0])
            except (ValueError, ImportError, AttributeError, NotImplementedError):
                for c, impl in zip(configs, before):
                    c._attn_implementation = impl
