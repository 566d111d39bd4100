"""LLM export of a Hugging Face causal LM as it is (a small random Llama with grouped-query
attention), through the CLI `pt2tflite export-llm`: LiteRT-LM's signatures and names, teacher-forced
logits over prefill + 32 decode steps against Hugging Face in float64, and greedy generation
identical to Hugging Face generate() with a static cache. About 40 s (one export)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import pt2tflite

PREFILL, CACHE, VOCAB = 8, 48, 128


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    hf = LlamaForCausalLM(cfg).eval()
    d = tmp_path_factory.mktemp("llama")
    hf.save_pretrained(d / "model")
    out = d / "llama.tflite"
    env = dict(os.environ, PT2TFLITE_PYTHON=sys.executable)
    r = subprocess.run([pt2tflite.native_cli(), "export-llm", str(d / "model"), "-o", str(out), "--prefill-lengths",
                        str(PREFILL), "--cache-length", str(CACHE)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return hf, pt2tflite.load(out)


def _runners(model, resolver=OpResolverType.AUTO):
    itp = Interpreter(model_content=model.tflite_bytes, experimental_op_resolver_type=resolver)
    prefill, decode = itp.get_signature_runner(f"prefill_{PREFILL}"), itp.get_signature_runner("decode")
    caches = {n: np.zeros(d["shape"], np.float32) for n, d in prefill.get_input_details().items()
              if n.startswith("kv_cache_")}
    return prefill, decode, caches


def test_litert_lm_contract(llama):
    _, model = llama
    sigs = model.signatures()
    assert set(sigs) == {f"prefill_{PREFILL}", "decode"}
    caches = [f"kv_cache_{kv}_{i}" for kv in "kv" for i in range(2)]
    for key, (inputs, outputs) in sigs.items():
        assert inputs[:2] == ["tokens", "input_pos"] and sorted(inputs[2:]) == caches
        assert outputs[0] == "logits" and sorted(outputs[1:]) == caches
    prefill, decode, _ = _runners(model)
    d = decode.get_input_details()
    assert d["tokens"]["dtype"] == np.int32 and list(d["tokens"]["shape"]) == [1, 1]
    assert d["input_pos"]["dtype"] == np.int32 and list(d["input_pos"]["shape"]) == [1]
    assert list(prefill.get_input_details()["tokens"]["shape"]) == [1, PREFILL]
    assert list(d["kv_cache_k_0"]["shape"]) == [1, 2, CACHE, 16]  # [1, K, S, H]: sequence on axis 2
    assert list(decode.get_output_details()["logits"]["shape"]) == [1, 1, VOCAB]
    assert model.op_histogram()["DYNAMIC_UPDATE_SLICE"] == 8  # K and V of 2 layers, in 2 signatures


def test_grouped_query_attention_does_not_repeat_kv(llama):
    """GQA (4 query heads, 2 K/V heads) as two BATCH_MATMULs per layer over the K/V heads: no BROADCAST_TO
    of the caches to the query heads (its builtin kernel was ~70 % of a decode step), no MUL over K."""
    _, model = llama
    hist = model.op_histogram()
    assert "BROADCAST_TO" not in hist, hist
    assert hist["BATCH_MATMUL"] == 2 * 2 * 2  # 2 per layer, 2 layers, 2 signatures


@pytest.mark.parametrize("resolver", [OpResolverType.AUTO, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES])
@torch.no_grad()
def test_teacher_forced_logits_match_hf(llama, resolver):
    hf, model = llama
    steps = 32
    seq = torch.randint(1, VOCAB, (1, PREFILL + steps))
    want = hf.double()(seq).logits[0].numpy()
    hf.float()
    prefill, decode, caches = _runners(model, resolver)
    out = prefill(tokens=seq[:, :PREFILL].numpy().astype(np.int32), input_pos=np.arange(PREFILL, dtype=np.int32), **caches)
    got = [out["logits"][0]]
    for p in range(PREFILL, PREFILL + steps):
        caches = {n: out[n] for n in caches}
        out = decode(tokens=seq[:, p:p + 1].numpy().astype(np.int32), input_pos=np.array([p], np.int32), **caches)
        got.append(out["logits"][0])
    got = np.concatenate(got)
    rel = np.abs(got - want).max(axis=-1) / np.abs(want).max(axis=-1)
    assert rel.max() < 1e-4, rel.max()


@torch.no_grad()
def test_greedy_generation_matches_hf_generate(llama):
    hf, model = llama
    prompt = torch.randint(1, VOCAB, (1, 5))
    want = hf.generate(prompt, max_new_tokens=32, do_sample=False, cache_implementation="static",
                       pad_token_id=0)[0, 5:].tolist()
    prefill, decode, caches = _runners(model)
    tokens = np.zeros((1, PREFILL), np.int32)  # padded like LiteRT-LM: token 0 at positions past the prompt
    tokens[0, :5] = prompt[0].numpy()
    out = prefill(tokens=tokens, input_pos=np.arange(PREFILL, dtype=np.int32), **caches)
    got = [int(out["logits"][0, 4].argmax())]
    for p in range(5, 5 + 31):
        caches = {n: out[n] for n in caches}
        out = decode(tokens=np.array([[got[-1]]], np.int32), input_pos=np.array([p], np.int32), **caches)
        got.append(int(out["logits"][0, 0].argmax()))
    assert got == want


@torch.no_grad()
def test_in_place_caches_in_compiled_model(llama):
    """LiteRT-LM's CPU contract: one TensorBuffer per cache, bound as the input and the output of the
    same name in every signature. A graph that read the old cache after writing it would drift here."""
    from ai_edge_litert.compiled_model import CompiledModel

    hf, model = llama
    steps = 12
    seq = torch.randint(1, VOCAB, (1, PREFILL + steps))
    want = hf(seq).logits[0].numpy()
    cm = CompiledModel.from_buffer(model.tflite_bytes)
    pre, dec = f"prefill_{PREFILL}", "decode"
    caches = {n: cm.create_input_buffer_by_name(pre, n) for n in model.signatures()[pre][0] if n.startswith("kv_cache_")}
    for buf in caches.values():
        buf.write(np.zeros(2 * CACHE * 16, np.float32))

    def run(key, tokens, positions):
        ins = {"tokens": cm.create_input_buffer_by_name(key, "tokens"),
               "input_pos": cm.create_input_buffer_by_name(key, "input_pos"), **caches}
        ins["tokens"].write(tokens.astype(np.int32))
        ins["input_pos"].write(positions.astype(np.int32))
        logits = cm.create_output_buffer_by_name(key, "logits")
        cm.run_by_name(key, ins, {"logits": logits, **caches})
        return logits.read(len(positions) * VOCAB, np.float32).reshape(len(positions), VOCAB)

    got = [run(pre, seq[0, :PREFILL].numpy(), np.arange(PREFILL))]
    for p in range(PREFILL, PREFILL + steps):
        got.append(run(dec, seq[0, p:p + 1].numpy(), np.array([p])))
    got = np.concatenate(got)
    rel = np.abs(got - want).max(axis=-1) / np.abs(want).max(axis=-1)
    assert rel.max() < 1e-4, rel.max()


@torch.no_grad()
def test_gqa_attention_matches_sdpa_and_is_restored():
    """The attention implementation export_llm switches to, against Hugging Face's sdpa in float64 (masked
    prefill rows and a decode row over a longer cache), and the model's setting is restored afterwards."""
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from pt2tflite.llm_attention import gqa_attention, gqa_attention_for

    torch.manual_seed(0)
    module = torch.nn.Module()
    module.num_key_value_groups, module.is_causal = 3, True
    for t, s in [(5, 12), (1, 12)]:
        q, k, v = torch.randn(1, 6, t, 8).double(), torch.randn(1, 2, s, 8).double(), torch.randn(1, 2, s, 8).double()
        start = 4
        mask = torch.arange(s)[None, :] <= (start + torch.arange(t))[:, None]
        want, _ = sdpa_attention_forward(module, q, k, v, mask[None, None], scaling=0.3)
        got, _ = gqa_attention(module, q, k, v, mask[None, None], scaling=0.3)
        assert got.shape == want.shape == (1, t, 6, 8)
        assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)
    hf = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=4, num_key_value_heads=2))
    before = hf.config._attn_implementation
    with gqa_attention_for(hf) as switched:
        assert switched and hf.config._attn_implementation == "pt2tflite_gqa"
    assert hf.config._attn_implementation == before


@torch.no_grad()
def test_prefill_without_logits_fills_the_caches():
    """prefill_logits=False (export_hf's default): prefill returns only the caches, and decoding after it
    matches Hugging Face (the last layer's K/V projections, which the caches need, survive). About 10 s."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from pt2tflite.llm import export_llm

    torch.manual_seed(0)
    hf = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2)).eval()
    model = export_llm(hf, prefill_lengths=(6,), cache_length=16, prefill_logits=False)
    assert sorted(model.signatures()["prefill_6"][1]) == [f"kv_cache_{kv}_{i}" for kv in "kv" for i in range(2)]
    seq = torch.randint(1, 64, (1, 10))
    want = hf.double()(seq).logits[0, 6:].numpy()
    hf.float()
    itp = Interpreter(model_content=model.tflite_bytes)
    prefill, decode = itp.get_signature_runner("prefill_6"), itp.get_signature_runner("decode")
    caches = {n: np.zeros(d["shape"], np.float32) for n, d in prefill.get_input_details().items() if n.startswith("kv_")}
    out = prefill(tokens=seq[:, :6].numpy().astype(np.int32), input_pos=np.arange(6, dtype=np.int32), **caches)
    got = []
    for p in range(6, 10):
        caches = {n: out[n] for n in caches}
        out = decode(tokens=seq[:, p:p + 1].numpy().astype(np.int32), input_pos=np.array([p], np.int32), **caches)
        got.append(out["logits"][0, 0])
    got = np.stack(got)
    assert np.abs(got - want).max() / np.abs(want).max() < 1e-4


def test_cli_rejects_a_missing_model_dir(tmp_path):
    env = dict(os.environ, PT2TFLITE_PYTHON=sys.executable)
    r = subprocess.run([pt2tflite.native_cli(), "export-llm", str(tmp_path / "nope"), "-o", str(tmp_path / "x.tflite")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "error" in r.stderr
    assert not (tmp_path / "x.tflite").exists()


def test_dynamo_keeps_parameters_uncloned_only_during_the_export():
    """The LLM export stops dynamo's export-mode clone of parameters (a transient copy of all weights) and
    nothing else: buffers (the caches) are still cloned, and the function is restored afterwards."""
    from torch._dynamo.variables import builder

    from pt2tflite.llm import _parameters_not_cloned_by_dynamo

    original = builder._clone_input
    p, b = torch.nn.Parameter(torch.randn(4)), torch.randn(4)
    with _parameters_not_cloned_by_dynamo():
        assert builder._clone_input(p, None) is p
        c = builder._clone_input(b, None)
        assert c is not b and torch.equal(c, b)
    assert builder._clone_input is original


@torch.no_grad()
def test_gqa_attention_soft_caps_like_gemma2_eager():
    """Gemma 2's attention logit soft-capping (softcap · tanh(scores / softcap), before the mask) in the
    export's attention, against Gemma 2's own eager attention in float64; the cap is small enough to
    change the answer (checked), so a dropped cap fails."""
    from transformers.models.gemma2.modeling_gemma2 import eager_attention_forward

    from pt2tflite.llm_attention import gqa_attention

    module = torch.nn.Module()
    module.num_key_value_groups, module.training, module.head_dim = 3, False, 8
    q, k, v = torch.randn(1, 6, 5, 8).double() * 2, torch.randn(1, 2, 12, 8).double() * 2, torch.randn(1, 2, 12, 8).double()
    allowed = torch.arange(12)[None, :] <= (4 + torch.arange(5))[:, None]
    mask = torch.zeros(5, 12, dtype=torch.float64).masked_fill(~allowed, torch.finfo(torch.float64).min)[None, None]
    want, _ = eager_attention_forward(module, q, k, v, mask, scaling=0.35, softcap=0.5)
    got, _ = gqa_attention(module, q, k, v, mask, scaling=0.35, softcap=0.5)
    assert torch.allclose(got, want, rtol=0, atol=1e-6)  # Gemma 2's eager softmax runs in float32
    uncapped, _ = eager_attention_forward(module, q, k, v, mask, scaling=0.35)
    assert (uncapped - want).abs().max() > 1e-2
