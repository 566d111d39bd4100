"""export_llm(..., mask_input=True) / `export-llm --mask-input`: LiteRT-LM's optional `mask` input,
an additive float32 mask [1, 1, T, S], used by every layer in place of the causal mask built from
input_pos. Checked against Hugging Face in float64 given the same mask, with the causal mask and with
one that also hides a cache column, on XNNPACK and on the builtin kernels; and in LiteRT-LM, which
fills the mask itself. About 35 s."""

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


@torch.no_grad()
def test_litert_lm_engine_fills_the_mask_input(tmp_path):
    """A .litertlm written with --mask-input runs in LiteRT-LM (litert-lm-api), which fills `mask` itself:
    greedy generation from prompts of 1, 3 and 13 tokens (no prefill, a padded chunk, a full and a
    padded chunk) equals Hugging Face generate(). About 20 s."""
    litert_lm = pytest.importorskip("litert_lm", reason="litert-lm-api (PyPI) has no wheel for this platform")
    pytest.importorskip("litert_lm_builder", reason="pip install litert-lm-builder")
    import os
    import subprocess
    import sys

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    import pt2tflite
    from test_litertlm import BOS, EOS, PROMPTS, _training_text

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([_training_text()], trainers.BpeTrainer(vocab_size=160, special_tokens=["<pad>", "<s>", "</s>"]))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", BOS)])
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    hf_tok.save_pretrained(tmp_path / "model")
    torch.manual_seed(0)
    hf = LlamaForCausalLM(LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=128,
                                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                      bos_token_id=BOS, eos_token_id=EOS, pad_token_id=0)).eval()
    hf.save_pretrained(tmp_path / "model")
    out = tmp_path / "model.litertlm"
    env = dict(os.environ, PT2TFLITE_PYTHON=sys.executable)
    r = subprocess.run([pt2tflite.native_cli(), "export-llm", str(tmp_path / "model"), "-o", str(out), "--mask-input",
                        "--prefill-lengths", "8", "--cache-length", "64"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    engine = litert_lm.Engine(str(out), backend=litert_lm.Backend.CPU(thread_count=1), cache_dir=":nocache")
    for prompt in PROMPTS:
        ids = hf_tok(prompt)["input_ids"]
        want = hf.generate(torch.tensor([ids]), max_new_tokens=24, do_sample=False, eos_token_id=EOS,
                           pad_token_id=0)[0, len(ids):].tolist()
        if want[-1] == EOS:
            want = want[:-1]
        session = engine.create_session(apply_prompt_template=False, max_output_tokens=24)
        session.run_prefill([prompt])
        got = session.run_decode().texts[0]
        session.close()
        assert got == hf_tok.decode(want, skip_special_tokens=False), prompt
