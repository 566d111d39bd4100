"""export_llm(..., decode_lengths=(L,)) / `export-llm --decode-lengths L`: extra `decode_{L}` signatures
on the same caches whose attention reads only the first L cache rows. Checked against Hugging Face in
float64 while input_pos < L, with every cache row past L filled with NaN: `decode_{L}` never reads
them (its logits stay exact), where `decode`, which attends over the whole cache, turns NaN. About 15 s."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter, OpResolverType

PREFILL, CACHE, L, VOCAB = 4, 48, 16, 64


@pytest.fixture(scope="module")
def exported():
    from transformers import LlamaConfig, LlamaForCausalLM

    from pt2tflite.llm import export_llm

    torch.manual_seed(0)
    hf = LlamaForCausalLM(LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2)).eval()
    return hf, export_llm(hf, prefill_lengths=(PREFILL,), cache_length=CACHE, decode_lengths=(L,))


@pytest.mark.parametrize("resolver", [OpResolverType.AUTO, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES])
@torch.no_grad()
def test_decode_reads_only_the_first_rows(exported, resolver):
    hf, model = exported
    assert set(model.signatures()) == {f"prefill_{PREFILL}", "decode", f"decode_{L}"}
    seq = torch.randint(1, VOCAB, (1, L))
    want = hf.double()(seq).logits[0].numpy()
    hf.float()
    itp = Interpreter(model_content=model.tflite_bytes, experimental_op_resolver_type=resolver)
    prefill = itp.get_signature_runner(f"prefill_{PREFILL}")
    short, full = itp.get_signature_runner(f"decode_{L}"), itp.get_signature_runner("decode")
    caches = {k: np.zeros(d["shape"], np.float32) for k, d in prefill.get_input_details().items()
              if k.startswith("kv_cache_")}
    tokens = seq.numpy().astype(np.int32)
    out = prefill(tokens=tokens[:, :PREFILL], input_pos=np.arange(PREFILL, dtype=np.int32), **caches)
    for k in caches:
        out[k][:, :, L:] = np.nan  # rows past L (the prefill attends over all of them): never read by decode_L
    got = []
    for p in range(PREFILL, L):
        state = {k: out[k] for k in caches}
        poisoned = full(tokens=tokens[:, p:p + 1], input_pos=np.array([p], np.int32), **state)["logits"]
        assert np.isnan(poisoned).all()  # the whole-cache decode does read the NaN rows
        out = short(tokens=tokens[:, p:p + 1], input_pos=np.array([p], np.int32), **state)
        got.append(out["logits"][0, 0])
    got = np.stack(got)
    rel = np.abs(got - want[PREFILL:]).max(axis=-1) / np.abs(want[PREFILL:]).max(axis=-1)
    assert rel.max() < 1e-4, rel.max()


def test_decode_length_must_be_shorter_than_the_cache():
    from transformers import LlamaConfig, LlamaForCausalLM

    from pt2tflite.llm import export_llm

    hf = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2))
    with pytest.raises(ValueError, match="decode length 16"):
        export_llm(hf, prefill_lengths=(4,), cache_length=16, decode_lengths=(16,))
