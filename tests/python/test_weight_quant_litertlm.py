"""A blockwise-int4 `.litertlm` (`pt2tflite export-llm ... --quantize int4`) runs in Google's LiteRT-LM
engine (`litert-lm-api`): its text scoring equals the log-softmax of our own decode signature's
logits on the same file within 1e-5 (measured: 6e-7, and the same for int8). Reuses test_litertlm's
tiny Llama and tokenizer. About 60 s (two exports: the fixture's fp32 bundle and the int4 one)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

litert_lm = pytest.importorskip("litert_lm", reason="pip install litert-lm-api")
pytest.importorskip("litert_lm_builder.litertlm_builder", reason="pip install litert-lm-builder")

import pt2tflite  # noqa: E402
import test_litertlm as lm  # noqa: E402
from test_litertlm import bundle  # noqa: E402, F401  (the tiny model directory and its fp32 bundle)


def test_int4_bundle_scores_like_our_signature_runner(bundle, tmp_path):  # noqa: F811
    _, hf_tok, out, _ = bundle
    q4 = tmp_path / "int4.litertlm"
    env = dict(os.environ, PT2TFLITE_PYTHON=sys.executable)
    r = subprocess.run([pt2tflite.native_cli(), "export-llm", str(out.parent / "model"), "-o", str(q4),
                        "--prefill-lengths", str(lm.PREFILL), "--cache-length", str(lm.CACHE), "--quantize", "int4"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert q4.stat().st_size < 0.5 * out.stat().st_size
    unpacked = tmp_path / "unpacked"
    lm.builder.unpack(str(q4), str(unpacked))
    tflite = lm._section(unpacked, ".tflite").read_bytes()
    engine = litert_lm.Engine(str(q4), backend=litert_lm.Backend.CPU(thread_count=1), cache_dir=":nocache")
    target = hf_tok(lm.TARGET, add_special_tokens=False)["input_ids"]
    for prompt in lm.PROMPTS:
        # The context the engine scores after run_prefill (see test_litertlm's scoring test).
        ids = hf_tok(prompt)["input_ids"]
        context = ids[:-2] + ids[-1:]
        ls = lm._decode_log_softmax(tflite, context + target)
        want = [ls[len(context) - 1 + j, t] for j, t in enumerate(target)]
        np.testing.assert_allclose(lm._engine_token_scores(engine, prompt, lm.TARGET), want, atol=1e-5, rtol=0)
