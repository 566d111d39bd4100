"""Issue 12's LLM families through `pt2tflite export-llm`, each a small random Hugging Face model
(tests/python/llm_families.py has the configs and the checks): teacher-forced logits of prefill + 64
decode steps within 1e-4 relative of Hugging Face in float64 on XNNPACK and on the builtin kernels,
and greedy generation of 32 tokens identical to Hugging Face generate() with a static cache.

Gemma 3 (sliding-window layers, qk-norm, scaled embeddings, logit soft-capping), the family furthest
from Llama, runs in `make test` (about 30 s); the whole matrix is marked slow and runs with
`make test-llm-families` (about 4 min)."""

from __future__ import annotations

import pytest

import llm_families as families

DEFAULT = "gemma3"


@pytest.mark.parametrize("family", [f if f == DEFAULT else pytest.param(f, marks=pytest.mark.slow)
                                    for f in families.FAMILIES])
def test_family_matches_hugging_face(family, tmp_path):
    # The default run calls export_llm in process (a second Python start-up is ~10 s); the matrix goes
    # through the CLI from save_pretrained, as users do.
    r = families.check(family, tmp_path if family != DEFAULT else None)
    assert r.rel_xnnpack < 1e-4, r
    assert r.rel_builtin < 1e-4, r
    assert r.rel_whole_sequence is None or r.rel_whole_sequence < 1e-4, r
    assert r.greedy_match and r.greedy_builtin_match, r


def test_dynamic_rope_is_refused_with_the_reason():
    """Dynamic NTK RoPE keeps frequencies computed from the longest position seen across calls: refused
    up front (the incumbent refuses it too), before any export."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from pt2tflite.errors import ConversionError
    from pt2tflite.llm import export_llm

    cfg = LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                      rope_parameters={"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0})
    with pytest.raises(ConversionError, match="rope_type 'dynamic'.*not supported"):
        export_llm(LlamaForCausalLM(cfg).to(torch.float32), prefill_lengths=(4,), cache_length=16)
