"""export_llm(..., mask_input=True) / `export-llm --mask-input`: LiteRT-LM's optional `mask` input,
an additive float32 mask [1, 1, T, S], used by every layer in place of the causal mask built from
input_pos. Checked against Hugging Face in float64 given the same mask, with the causal mask and with
one that also hides a cache column, on XNNPACK and on the builtin kernels. About 15 s."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter, OpResolverType

PREFILL, CACHE, VOCAB, STEPS = 6, 24, 64, 10
NEG = -0.7 * float(np.finfo(np.float32).max)  # what LiteRT-LM writes for a closed entry


@pytest.fixture(scope="module")
def exported():
    from transformers import LlamaConfig, LlamaForCausalLM

    from pt2tflite.llm import export_llm

    torch.manual_seed(0)
    hf = LlamaForCausalLM(LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2)).eval()
    return hf, export_llm(hf, prefill_lengths=(PREFILL,), cache_length=CACHE, mask_input=True)


def allowed(rows: np.ndarray, cols: int, hidden: tuple[int, ...]) -> np.ndarray:
    """True where query row (a position) may attend to key column: causal, minus the `hidden` columns."""
    ok = np.arange(cols)[None, :] <= rows[:, None]
    ok[:, list(hidden)] = False
    ok[np.arange(len(rows)), rows] = True  # a token always sees itself (no fully masked row)
    return ok


def test_mask_is_an_input_of_every_signature(exported):
    _, model = exported
    itp = Interpreter(model_content=model.tflite_bytes)
    for key, t in [(f"prefill_{PREFILL}", PREFILL), ("decode", 1)]:
        inputs = model.signatures()[key][0]
        assert inputs[:3] == ["tokens", "input_pos", "mask"], inputs
        d = itp.get_signature_runner(key).get_input_details()["mask"]
        assert d["dtype"] == np.float32 and list(d["shape"]) == [1, 1, t, CACHE]


@pytest.mark.parametrize("hidden", [(), (2,)], ids=["causal", "causal-minus-column-2"])
@pytest.mark.parametrize("resolver", [OpResolverType.AUTO, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES])
@torch.no_grad()
def test_logits_follow_the_given_mask(exported, resolver, hidden):
    hf, model = exported
    n = PREFILL + STEPS
    seq = torch.randint(1, VOCAB, (1, n))
    full = allowed(np.arange(n), n, hidden)
    want = hf.double()(seq, attention_mask=torch.from_numpy(np.where(full, 0.0, NEG))[None, None]).logits[0].numpy()
    hf.float()
    itp = Interpreter(model_content=model.tflite_bytes, experimental_op_resolver_type=resolver)
    prefill, decode = itp.get_signature_runner(f"prefill_{PREFILL}"), itp.get_signature_runner("decode")
    caches = {k: np.zeros(d["shape"], np.float32) for k, d in prefill.get_input_details().items() if k.startswith("kv_")}

    def mask(rows):
        return np.where(allowed(rows, CACHE, hidden), 0.0, NEG).astype(np.float32)[None, None]

    tokens = seq.numpy().astype(np.int32)
    rows = np.arange(PREFILL)
    out = prefill(tokens=tokens[:, :PREFILL], input_pos=rows.astype(np.int32), mask=mask(rows), **caches)
    got = [out["logits"][0]]
    for p in range(PREFILL, n):
        out = decode(tokens=tokens[:, p:p + 1], input_pos=np.array([p], np.int32), mask=mask(np.array([p])),
                     **{k: out[k] for k in caches})
        got.append(out["logits"][0])
    got = np.concatenate(got)
    rel = np.abs(got - want).max(axis=-1) / np.abs(want).max(axis=-1)
    assert rel.max() < 1e-4, rel.max()
    if hidden:  # the hidden column really changed the answer (the mask is not ignored)
        causal = hf.double()(seq).logits[0].numpy()
        hf.float()
        assert np.abs(causal[3:] - want[3:]).max() > 1e-3


def test_mask_input_with_sliding_window_layers_is_refused():
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from pt2tflite.errors import ConversionError
    from pt2tflite.llm import export_llm

    hf = Gemma3ForCausalLM(Gemma3TextConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                            num_attention_heads=2, num_key_value_heads=1, head_dim=8, sliding_window=8,
                                            layer_types=["sliding_attention", "full_attention"]))
    with pytest.raises(ConversionError, match="sliding-window attention.*mask"):
        export_llm(hf, prefill_lengths=(4,), cache_length=16, mask_input=True)
