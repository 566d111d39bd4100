"""The LLM family matrix of issue 12: small random Hugging Face causal LMs of each named architecture,
exported with `pt2tflite export-llm` and checked against Hugging Face (tests/python/test_llm_families.py).

    python tests/python/llm_families.py [FAMILY ...]     # prints the results table (docs/llm.md)
    python tests/python/llm_families.py --attend-bucket=16   # the same with decode over the filled rows

For each family:
  * teacher-forced logits of prefill_{PREFILL} + STEPS decode steps against Hugging Face in float64,
    run step by step through its own static cache (the same positions and chunks as ours), and, where
    that is the same thing, against one forward pass over the whole sequence;
  * greedy generation of GEN tokens against Hugging Face `generate(..., cache_implementation="static")`,
    with LiteRT-LM's padding of the prefill chunk (token 0 past the prompt).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

PREFILL, STEPS, GEN, VOCAB, PROMPT = 8, 64, 32, 128, 5
CACHE = PREFILL + STEPS

# Hidden 64, 2 layers, GQA 4 query / 2 K/V heads: small enough to export in seconds, and every
# architectural feature of the family is on (qk-norm, sliding window shorter than the context,
# soft-capping, fused qkv, longrope past its original length, learned positions, tied embeddings).
_COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, max_position_embeddings=256)


def _longrope(head_dim: int, rotary: float, original: int) -> dict:
    n = int(head_dim * rotary) // 2
    return {"rope_type": "longrope", "rope_theta": 10000.0, "partial_rotary_factor": rotary,
            "original_max_position_embeddings": original,
            "short_factor": [1.0 + 0.1 * i for i in range(n)], "long_factor": [2.0 + 0.5 * i for i in range(n)]}


def _configs() -> dict:
    import transformers as t

    return {
        "llama": lambda: t.LlamaConfig(**_COMMON),
        "qwen2": lambda: t.Qwen2Config(**_COMMON),  # q/k/v biases
        "qwen3": lambda: t.Qwen3Config(**_COMMON, head_dim=16),  # qk-norm
        # Sliding-window layers (window 16 < the 72-token context), qk-norm, scaled embeddings, GELU
        # MLP, final logit soft-capping (Hugging Face's Gemma 3 attention ignores attn_logit_softcapping).
        "gemma3": lambda: t.Gemma3TextConfig(**_COMMON, head_dim=16, sliding_window=16,
                                             layer_types=["sliding_attention", "full_attention"],
                                             final_logit_softcapping=30.0, attn_logit_softcapping=50.0),
        # Gemma 2: attention logit soft-capping (tanh, before the mask) on every layer, alternating
        # sliding-window layers, final logit soft-capping.
        "gemma2": lambda: t.Gemma2Config(**_COMMON, head_dim=16, sliding_window=16, attn_logit_softcapping=2.0,
                                         final_logit_softcapping=30.0),
        "phi3": lambda: t.Phi3Config(**_COMMON, pad_token_id=0),  # fused qkv_proj and gate_up_proj
        # Phi-3-128k style: longrope past original_max_position_embeddings = 32, partial rotary.
        "phi3-longrope": lambda: t.Phi3Config(**_COMMON, pad_token_id=0, original_max_position_embeddings=32,
                                              rope_parameters=_longrope(16, 0.5, 32)),
        # SmolLM: a Llama with GQA (6 query heads over 2 K/V heads) and tied embeddings.
        "smollm": lambda: t.LlamaConfig(**dict(_COMMON, hidden_size=96, num_attention_heads=6), tie_word_embeddings=True),
        # GPT-2: learned position embeddings, Conv1D projections, LayerNorm, multi-head attention.
        "gpt2": lambda: t.GPT2Config(vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4, n_positions=256,
                                     bos_token_id=0, eos_token_id=0),
    }


FAMILIES = list(_configs())


def build(family: str):
    """The family's random Hugging Face model (fp32, eval), seeded."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    cfg = _configs()[family]()
    return AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval()


def export_with_cli(hf, directory: Path) -> tuple[bytes, float]:
    """save_pretrained + `pt2tflite export-llm DIR -o DIR/model.tflite`; returns the file and the CLI's wall
    time (the whole command: Python start, model load, export, conversion)."""
    import pt2tflite

    hf.save_pretrained(directory / "model")
    out = directory / "model.tflite"
    env = dict(os.environ, PT2TFLITE_PYTHON=sys.executable)
    t0 = time.perf_counter()
    r = subprocess.run([pt2tflite.native_cli(), "export-llm", str(directory / "model"), "-o", str(out),
                        "--prefill-lengths", str(PREFILL), "--cache-length", str(CACHE)], capture_output=True, text=True,
                       env=env)
    seconds = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr[-3000:]
    return out.read_bytes(), seconds


def _uses_max_position(hf) -> bool:
    """longrope picks one frequency set for a whole call from the largest position in it, so a single
    forward over the whole sequence is not the same model as the step-by-step run that generation does."""
    rope = getattr(hf.config, "rope_parameters", None) or {}
    types = [rope.get("rope_type")] + [v.get("rope_type") for v in rope.values() if isinstance(v, dict)]
    return "longrope" in types


@torch.no_grad()
def hf_step_by_step(hf, seq: torch.Tensor) -> np.ndarray:
    """Hugging Face's logits in float64 for prefill_{PREFILL} then one token per step, through its static cache."""
    from transformers import StaticCache

    hf.double()
    try:
        cache = StaticCache(config=hf.config, max_cache_len=CACHE)
        out = [hf(input_ids=seq[:, :PREFILL], cache=cache, use_cache=True).logits[0]]
        for p in range(PREFILL, seq.shape[1]):
            out.append(hf(input_ids=seq[:, p:p + 1], cache=cache, use_cache=True).logits[0])
        return torch.cat(out).numpy()
    finally:
        hf.float()


@torch.no_grad()
def hf_whole_sequence(hf, seq: torch.Tensor) -> np.ndarray:
    hf.double()
    try:
        return hf(seq).logits[0].numpy()
    finally:
        hf.float()


def _runners(tflite: bytes, resolver):
    from ai_edge_litert.interpreter import Interpreter

    itp = Interpreter(model_content=tflite, experimental_op_resolver_type=resolver)
    prefill, decode = itp.get_signature_runner(f"prefill_{PREFILL}"), itp.get_signature_runner("decode")
    caches = {n: np.zeros(d["shape"], np.float32) for n, d in prefill.get_input_details().items()
              if n.startswith("kv_cache_")}
    return prefill, decode, caches


def teacher_forced(tflite: bytes, seq: torch.Tensor, resolver) -> np.ndarray:
    """Our logits for prefill_{PREFILL} on seq[:PREFILL], then decode on each later token."""
    prefill, decode, caches = _runners(tflite, resolver)
    tokens = seq.numpy().astype(np.int32)
    out = prefill(tokens=tokens[:, :PREFILL], input_pos=np.arange(PREFILL, dtype=np.int32), **caches)
    got = [out["logits"][0]]
    for p in range(PREFILL, seq.shape[1]):
        out = decode(tokens=tokens[:, p:p + 1], input_pos=np.array([p], np.int32), **{n: out[n] for n in caches})
        got.append(out["logits"][0])
    return np.concatenate(got)


def greedy(tflite: bytes, prompt: torch.Tensor, resolver) -> list[int]:
    """GEN greedy tokens after `prompt`, with the prompt in a zero-padded prefill chunk as LiteRT-LM does."""
    prefill, decode, caches = _runners(tflite, resolver)
    n = prompt.shape[1]
    tokens = np.zeros((1, PREFILL), np.int32)
    tokens[0, :n] = prompt[0].numpy()
    out = prefill(tokens=tokens, input_pos=np.arange(PREFILL, dtype=np.int32), **caches)
    got = [int(out["logits"][0, n - 1].argmax())]
    for p in range(n, n + GEN - 1):
        out = decode(tokens=np.array([[got[-1]]], np.int32), input_pos=np.array([p], np.int32),
                     **{k: out[k] for k in caches})
        got.append(int(out["logits"][0, 0].argmax()))
    return got


@torch.no_grad()
def hf_greedy(hf, prompt: torch.Tensor) -> list[int]:
    """Hugging Face's greedy tokens, all GEN of them: the EOS it stops at is set past the vocabulary (a
    random model picks its EOS like any other token; Gemma 3's is token 1)."""
    out = hf.generate(prompt, max_new_tokens=GEN, do_sample=False, cache_implementation="static", pad_token_id=0,
                      eos_token_id=VOCAB)[0, prompt.shape[1]:].tolist()
    assert len(out) == GEN, out
    return out


def max_rel(got: np.ndarray, want: np.ndarray) -> float:
    """The largest per-position error relative to that position's largest logit."""
    return float((np.abs(got - want).max(axis=-1) / np.abs(want).max(axis=-1)).max())


@dataclass
class Result:
    family: str
    export_seconds: float
    rel_xnnpack: float
    rel_builtin: float
    rel_whole_sequence: float | None  # None: not the same model (longrope)
    greedy_match: bool
    greedy_builtin_match: bool


def export_in_process(hf, attend_bucket: int | None = None) -> tuple[bytes, float]:
    """export_llm in this process (no second Python start-up); returns the file and its wall time."""
    from pt2tflite.llm import export_llm

    t0 = time.perf_counter()
    model = export_llm(hf, prefill_lengths=(PREFILL,), cache_length=CACHE, attend_bucket=attend_bucket)
    return model.tflite_bytes, time.perf_counter() - t0


def check(family: str, directory: Path | None, attend_bucket: int | None = None) -> Result:
    """directory: export through the CLI from a save_pretrained there; None: export_llm in this process
    (with `attend_bucket`, export_llm's run-time attention length)."""
    from ai_edge_litert.interpreter import OpResolverType

    hf = build(family)
    tflite, seconds = (export_with_cli(hf, directory) if directory is not None
                       else export_in_process(hf, attend_bucket))
    torch.manual_seed(1)
    seq = torch.randint(1, VOCAB, (1, PREFILL + STEPS))
    want = hf_step_by_step(hf, seq)
    xnn = teacher_forced(tflite, seq, OpResolverType.AUTO)
    builtin = teacher_forced(tflite, seq, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    whole = None if _uses_max_position(hf) else max_rel(xnn, hf_whole_sequence(hf, seq))
    prompt = torch.randint(1, VOCAB, (1, PROMPT))
    want_tokens = hf_greedy(hf, prompt)
    return Result(family, seconds, max_rel(xnn, want), max_rel(builtin, want), whole,
                  greedy(tflite, prompt, OpResolverType.AUTO) == want_tokens,
                  greedy(tflite, prompt, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES) == want_tokens)


def main(argv: list[str]) -> int:
    import tempfile

    bucket = None
    if argv and argv[0].startswith("--attend-bucket="):  # decode over the filled rows (export_llm attend_bucket)
        bucket, argv = int(argv[0].split("=", 1)[1]), argv[1:]
    families = argv or FAMILIES
    print(f"| family | max rel err XNNPACK | max rel err builtin | vs whole-sequence forward | greedy {GEN} tokens "
          f"(XNNPACK / builtin) | export-llm wall time |")
    print("|---|---|---|---|---|---|")
    for family in families:
        with tempfile.TemporaryDirectory() as d:
            r = check(family, None if bucket else Path(d), bucket)
        whole = "n/a (longrope)" if r.rel_whole_sequence is None else f"{r.rel_whole_sequence:.1e}"
        print(f"| {r.family} | {r.rel_xnnpack:.1e} | {r.rel_builtin:.1e} | {whole} | "
              f"{'identical' if r.greedy_match else 'DIFFERENT'} / {'identical' if r.greedy_builtin_match else 'DIFFERENT'} "
              f"| {r.export_seconds:.1f} s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
