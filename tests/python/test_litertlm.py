"""`pt2tflite export-llm MODEL_DIR -o model.litertlm` runs unchanged in Google's LiteRT-LM engine
(`litert-lm-api` from PyPI): a tiny random Llama (grouped-query attention) with a BPE tokenizer
trained here with `tokenizers` (no hub). The bundle's sections and metadata, the engine's
tokenizer, greedy generation identical to Hugging Face generate(), text scoring against our own
signature runner's log-softmax, and the engine's benchmark. About 30 s (one export)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import zlib

import numpy as np
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter

import pt2tflite

litert_lm = pytest.importorskip("litert_lm", reason="litert-lm-api (PyPI) has no wheel for this platform")
builder = pytest.importorskip("litert_lm_builder.litertlm_builder", reason="pip install litert-lm-builder")

PREFILL, CACHE = 8, 64
BOS, EOS = 1, 2
# The engine hands the template each message's content as a list of parts
# ([{"type": "text", "text": ...}]); Hugging Face as a string. A template must take both.
CHAT_TEMPLATE = ("{% for m in messages %}<s>{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}"
                 "{% else %}{% for part in m['content'] %}{{ part['text'] }}{% endfor %}{% endif %}</s>\n{% endfor %}"
                 "{% if add_generation_prompt %}<s>assistant\n{% endif %}")
# Prompts of 1 to 13 tokens: no prefill at all, one padded prefill_8 chunk, a full chunk plus a padded one.
PROMPTS = ["a", "the model runs", "a small model runs on the phone and the cache grows"]


def _training_text() -> str:
    """A few KB of ASCII: every token then decodes to whole characters, so texts compare exactly."""
    words = ("the a model cache token runs on phone small large fast slow prefill decode signature "
             "weights layer head key value and of to in is it grows writes reads").split()
    rng = random.Random(0)
    return "\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(4, 12))) + "." for _ in range(400))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return _make_bundle(tmp_path_factory.mktemp("litertlm"))


def _make_bundle(d, export_args=()):
    """A tokenizer trained here, a random Llama and their .litertlm from `pt2tflite export-llm`: (hf model,
    hf tokenizer, bundle path, unpacked bundle directory)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([_training_text()], trainers.BpeTrainer(vocab_size=160, special_tokens=["<pad>", "<s>", "</s>"]))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", BOS)])  # Llama-style BOS
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    hf_tok.chat_template = CHAT_TEMPLATE
    hf_tok.save_pretrained(d / "model")

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      bos_token_id=BOS, eos_token_id=EOS, pad_token_id=0)
    hf = LlamaForCausalLM(cfg).eval()
    hf.save_pretrained(d / "model")

    out = d / "model.litertlm"
    env = dict(os.environ, PT2TFLITE_PYTHON=sys.executable)
    r = subprocess.run([pt2tflite.native_cli(), "export-llm", str(d / "model"), "-o", str(out), "--prefill-lengths",
                        str(PREFILL), "--cache-length", str(CACHE), *export_args], capture_output=True, text=True,
                       env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "LiteRT-LM bundle" in r.stderr
    unpacked = d / "unpacked"
    builder.unpack(str(out), str(unpacked))
    return hf, hf_tok, out, unpacked


@pytest.fixture(scope="module")
def engine(bundle):
    # cache_dir=":nocache": the engine would otherwise write an XNNPACK weight cache next to the file.
    return litert_lm.Engine(str(bundle[2]), backend=litert_lm.Backend.CPU(thread_count=1), cache_dir=":nocache")


def _section(unpacked, suffix):
    (path,) = [p for p in unpacked.iterdir() if p.name.endswith(suffix)]
    return path


def test_bundle_holds_model_tokenizer_and_metadata(bundle):
    import json

    from google.protobuf import text_format
    from litert_lm_builder.runtime.proto import llm_metadata_pb2

    _, hf_tok, _, unpacked = bundle
    tflite = _section(unpacked, "_tf_lite_prefill_decode.tflite").read_bytes()
    sigs = Interpreter(model_content=tflite).get_signature_list()
    assert set(sigs) == {f"prefill_{PREFILL}", "decode"}
    # A .litertlm drops the prefill logits (LiteRT-LM samples from decode only), and with them the
    # LM head and the last layer's attention and MLP: the prefill keeps that layer's K/V projections.
    assert "logits" not in sigs[f"prefill_{PREFILL}"]["outputs"] and "logits" in sigs["decode"]["outputs"]
    # FULLY_CONNECTED: decode 2 layers x (q, k, v, o, gate, up, down) + LM head = 15; prefill 7 + 2.
    assert pt2tflite.model.Model(tflite).op_histogram()["FULLY_CONNECTED"] == 15 + 9

    raw = _section(unpacked, "HF_Tokenizer_Zlib.zlib").read_bytes()
    tok_json = zlib.decompress(raw[8:])
    assert int.from_bytes(raw[:8], "little") == len(tok_json)  # u64 size + zlib(tokenizer.json)
    assert json.loads(tok_json)["model"]["type"] == "BPE"

    md = text_format.Parse(_section(unpacked, "LlmMetadataProto.pbtext").read_text(), llm_metadata_pb2.LlmMetadata())
    assert list(md.start_token.token_ids.ids) == [BOS]  # the tokenizer prepends <s>, so the engine must too
    assert [list(s.token_ids.ids) for s in md.stop_tokens] == [[EOS]]
    assert md.max_num_tokens == CACHE
    assert md.jinja_prompt_template == CHAT_TEMPLATE
    assert md.llm_model_type.WhichOneof("model_type") == "generic_model"


def test_engine_reads_tokenizer_and_metadata(bundle, engine):
    _, hf_tok, _, _ = bundle
    assert engine.bos_token_id == BOS and engine.eos_token_ids == [[EOS]]
    for text in PROMPTS:
        assert engine.tokenize(text) == hf_tok(text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("prompt", PROMPTS)
@torch.no_grad()
def test_greedy_generation_matches_hf_generate(bundle, engine, prompt):
    _check_greedy_generation(bundle, engine, prompt)


def test_greedy_generation_with_attend_bucket(tmp_path):
    """`export-llm --attend-bucket 8`: the engine's decode attends over the filled rows, rounded up to 8
    and sized at run time; 24 steps from a 13-token prompt cross four buckets."""
    b = _make_bundle(tmp_path, ("--attend-bucket", "8"))
    assert "FLOOR_DIV" in pt2tflite.xnnpack_report(_section(b[3], ".tflite").read_bytes())  # the bucket arithmetic
    engine = litert_lm.Engine(str(b[2]), backend=litert_lm.Backend.CPU(thread_count=1), cache_dir=":nocache")
    _check_greedy_generation(b, engine, PROMPTS[-1])


@torch.no_grad()
def _check_greedy_generation(bundle, engine, prompt):
    hf, hf_tok, _, _ = bundle
    steps = 24
    ids = hf_tok(prompt)["input_ids"]  # <s> + prompt: the engine prepends start_token the same way
    assert ids[0] == BOS
    want = hf.generate(torch.tensor([ids]), max_new_tokens=steps, do_sample=False, eos_token_id=EOS,
                       pad_token_id=0)[0, len(ids):].tolist()
    if want[-1] == EOS:  # the engine stops there and does not print the stop token
        want = want[:-1]
    # Compared as text (the engine returns text): every token is ASCII, and the engine prints other
    # special tokens as they are spelled ("<s>").
    session = engine.create_session(apply_prompt_template=False, max_output_tokens=steps)
    session.run_prefill([prompt])
    got = session.run_decode().texts[0]
    session.close()
    assert got == hf_tok.decode(want, skip_special_tokens=False)


def test_chat_template_renders_like_hf(bundle, engine):
    _, hf_tok, _, _ = bundle
    conversation = engine.create_conversation()
    message = {"role": "user", "content": PROMPTS[1]}
    assert conversation.render_message_to_string(message) == hf_tok.apply_chat_template(
        [message], add_generation_prompt=True, tokenize=False)


@torch.no_grad()
def test_conversation_matches_hf_generate_on_the_chat_template(bundle, engine):
    """The Conversation API: the rendered template, tokenized, after the start token. The engine
    prepends start_token to the rendered text even when the template spells BOS itself, as this
    one does: the model sees <s><s>user... (Hugging Face's apply_chat_template gives one <s>)."""
    hf, hf_tok, _, _ = bundle
    steps = 12
    messages = [{"role": "user", "content": PROMPTS[1]}]
    ids = [BOS] + list(hf_tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                  return_dict=True)["input_ids"])
    want = hf.generate(torch.tensor([ids]), max_new_tokens=steps, do_sample=False, eos_token_id=EOS,
                       pad_token_id=0)[0, len(ids):].tolist()
    if want[-1] == EOS:
        want = want[:-1]
    conversation = engine.create_conversation(sampler_config=litert_lm.SamplerConfig(top_k=1), max_output_tokens=steps)
    reply = conversation.send_message(PROMPTS[1])
    assert reply.contents[0].text == hf_tok.decode(want, skip_special_tokens=False)


def _decode_log_softmax(tflite: bytes, seq: list[int]) -> np.ndarray:
    """log-softmax (float64) of our decode signature's logits after each token of seq."""
    decode = Interpreter(model_content=tflite).get_signature_runner("decode")
    caches = {n: np.zeros(d["shape"], np.float32) for n, d in decode.get_input_details().items() if n.startswith("kv_cache_")}
    rows = []
    for pos, token in enumerate(seq):
        out = decode(tokens=np.array([[token]], np.int32), input_pos=np.array([pos], np.int32), **caches)
        caches = {n: out[n] for n in caches}
        rows.append(out["logits"][0, 0].astype(np.float64))
    logits = np.array(rows)
    return logits - logits.max(-1, keepdims=True) - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True))


def _engine_token_scores(engine, prompt: str, target: str) -> list[float]:
    session = engine.create_session(apply_prompt_template=False)
    session.run_prefill([prompt])
    scores = session.run_text_scoring([target]).token_scores[0]
    session.close()
    return scores


TARGET = " the model writes the cache"


@pytest.mark.parametrize("prompt", PROMPTS)
def test_text_scoring_matches_signature_runner(bundle, engine, prompt):
    """Per-token log-likelihoods from the engine = log-softmax of our decode logits, within 1e-4.

    litert-lm-api 0.18.1 scores after run_prefill with the last prompt token decoded one position
    early: it overwrites the K/V row of the token before it, so the context it scores is
    ids[:-2] + ids[-1:] (BOS included). Measured: equal to our logits on that context within 1e-6,
    0.03..0.4 off on the true context (test below). Generation is not affected (test above)."""
    _, hf_tok, _, unpacked = bundle
    ids = hf_tok(prompt)["input_ids"]
    target = hf_tok(TARGET, add_special_tokens=False)["input_ids"]
    context = ids[:-2] + ids[-1:]
    ls = _decode_log_softmax(_section(unpacked, ".tflite").read_bytes(), context + target)
    want = [ls[len(context) - 1 + j, t] for j, t in enumerate(target)]
    got = _engine_token_scores(engine, prompt, TARGET)
    assert len(got) == len(target)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


@pytest.mark.xfail(strict=True, reason="litert-lm-api 0.18.1 run_text_scoring after run_prefill drops the K/V of the "
                   "second-to-last prompt token (see test_text_scoring_matches_signature_runner); fixed upstream = XPASS")
def test_text_scoring_uses_the_whole_prompt(bundle, engine):
    _, hf_tok, _, unpacked = bundle
    prompt = PROMPTS[2]
    ids = hf_tok(prompt)["input_ids"]
    target = hf_tok(TARGET, add_special_tokens=False)["input_ids"]
    ls = _decode_log_softmax(_section(unpacked, ".tflite").read_bytes(), ids + target)
    want = [ls[len(ids) - 1 + j, t] for j, t in enumerate(target)]
    np.testing.assert_allclose(_engine_token_scores(engine, prompt, TARGET), want, atol=1e-4, rtol=0)


def test_engine_benchmark_runs(bundle):
    info = litert_lm.Benchmark(model_path=str(bundle[2]), backend=litert_lm.Backend.CPU(thread_count=1),
                               prefill_tokens=2 * PREFILL, decode_tokens=16, cache_dir=":nocache").run()
    assert info.last_prefill_token_count == 2 * PREFILL and info.last_decode_token_count == 16
    assert info.last_prefill_tokens_per_second > 0 and info.last_decode_tokens_per_second > 0


def test_litertlm_needs_a_tokenizer(tmp_path):
    """export_llm(output=*.litertlm) refuses before converting when it has no tokenizer to bundle."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from pt2tflite.llm import export_llm

    hf = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=1))
    with pytest.raises(ValueError, match="tokenizer"):
        export_llm(hf, output=tmp_path / "x.litertlm")
    with pytest.raises(ValueError, match="no tokenizer"):
        export_llm(hf, output=tmp_path / "x.litertlm", tokenizer=tmp_path)
    assert not list(tmp_path.iterdir())


def _tiny_tokenizer(prepend_bos: bool, chat_template: str | None = None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([_training_text()[:1000]], trainers.BpeTrainer(vocab_size=60, special_tokens=["<s>", "</s>", "<|im_end|>"]))
    if prepend_bos:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>")
    hf_tok.chat_template = chat_template
    return hf_tok


def test_metadata_start_token_only_when_the_tokenizer_prepends_bos():
    from transformers import GenerationConfig

    from pt2tflite.litertlm import llm_metadata

    gen = GenerationConfig(eos_token_id=[2, 1])  # Qwen-style: several EOS, the tokenizer's among them
    md = llm_metadata(_tiny_tokenizer(prepend_bos=False), gen, cache_length=256)
    assert not md.HasField("start_token")
    assert [list(s.token_ids.ids) for s in md.stop_tokens] == [[2], [1]]
    assert md.max_num_tokens == 256 and not md.jinja_prompt_template
    md = llm_metadata(_tiny_tokenizer(prepend_bos=True), GenerationConfig(), cache_length=64)
    assert list(md.start_token.token_ids.ids) == [0]
    assert [list(s.token_ids.ids) for s in md.stop_tokens] == [[1]]


def test_metadata_chat_template_in_the_engines_jinja():
    """{% generation %} markers (a training-time extension) go, .get('k') becomes ['k']."""
    from transformers import GenerationConfig

    from pt2tflite.litertlm import llm_metadata

    template = ("{% for m in messages %}{{ m.get('role') }}:{% if m['role'] == 'assistant' %}{% generation %}"
                "{{ m['content'] }}{% endgeneration %}{% else %}{{ m['content'] }}{% endif %}\n{% endfor %}")
    md = llm_metadata(_tiny_tokenizer(True, template), GenerationConfig(), cache_length=64)
    assert md.jinja_prompt_template == ("{% for m in messages %}{{ m['role'] }}:{% if m['role'] == 'assistant' %}"
                                        "{{ m['content'] }}{% else %}{{ m['content'] }}{% endif %}\n{% endfor %}")


def test_cli_litertlm_without_a_tokenizer_exits_2(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=1)).save_pretrained(tmp_path / "model")
    env = dict(os.environ, PT2TFLITE_PYTHON=sys.executable)
    r = subprocess.run([pt2tflite.native_cli(), "export-llm", str(tmp_path / "model"), "-o", str(tmp_path / "x.litertlm")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "no tokenizer" in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / "x.litertlm").exists()
