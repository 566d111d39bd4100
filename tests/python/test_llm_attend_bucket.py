"""export_llm(..., attend_bucket=B) / `export-llm --attend-bucket B`: `decode` attends over the first L
cache rows, L = input_pos rounded up to a multiple of B, with L read at run time (an `.item()` that
sizes SLICEs, so LiteRT re-plans only when L changes). Checked against Hugging Face in float64 over
positions that cross several buckets, on XNNPACK and on the builtin kernels, with every cache row
past L filled with NaN at each step: a decode that read them would return NaN. About 15 s."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter, OpResolverType

PREFILL, CACHE, BUCKET, STEPS, VOCAB = 4, 48, 8, 36, 64


@pytest.fixture(scope="module")
def exported():
    from transformers import LlamaConfig, LlamaForCausalLM

    from pt2tflite.llm import export_llm

    torch.manual_seed(0)
    hf = LlamaForCausalLM(LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2)).eval()
    return hf, export_llm(hf, prefill_lengths=(PREFILL,), cache_length=CACHE, attend_bucket=BUCKET)


@pytest.mark.parametrize("resolver", [OpResolverType.AUTO, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES])
@torch.no_grad()
def test_decode_reads_only_the_filled_buckets(exported, resolver):
    hf, model = exported
    assert set(model.signatures()) == {f"prefill_{PREFILL}", "decode"}
    seq = torch.randint(1, VOCAB, (1, PREFILL + STEPS))
    want = hf.double()(seq).logits[0].numpy()
    hf.float()
    itp = Interpreter(model_content=model.tflite_bytes, experimental_op_resolver_type=resolver)
    prefill, decode = itp.get_signature_runner(f"prefill_{PREFILL}"), itp.get_signature_runner("decode")
    caches = {k: np.zeros(d["shape"], np.float32) for k, d in prefill.get_input_details().items()
              if k.startswith("kv_cache_")}
    tokens = seq.numpy().astype(np.int32)
    out = prefill(tokens=tokens[:, :PREFILL], input_pos=np.arange(PREFILL, dtype=np.int32), **caches)
    got = []
    for p in range(PREFILL, PREFILL + STEPS):
        rows = min(CACHE, (p // BUCKET + 1) * BUCKET)
        state = {k: out[k].copy() for k in caches}
        for k in state:
            state[k][:, :, p:] = 0.0  # not written yet (the last step's NaN rows)
            state[k][:, :, rows:] = np.nan  # past the bucket: never read
        out = decode(tokens=tokens[:, p:p + 1], input_pos=np.array([p], np.int32), **state)
        got.append(out["logits"][0, 0])
    got = np.stack(got)
    assert np.isfinite(got).all()
    rel = np.abs(got - want[PREFILL:]).max(axis=-1) / np.abs(want[PREFILL:]).max(axis=-1)
    assert rel.max() < 1e-4, rel.max()


def test_attend_bucket_must_fit_the_cache():
    from transformers import LlamaConfig, LlamaForCausalLM

    from pt2tflite.llm import export_llm

    hf = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2))
    with pytest.raises(ValueError, match="attend bucket 0"):
        export_llm(hf, prefill_lengths=(4,), cache_length=16, attend_bucket=0)
