"""Export one Hugging Face model directory with litert-torch's export_hf, timed and RSS-metered.

Runs INSIDE the incumbent venv (bench/setup_incumbent_venv.sh), one conversion per fresh process
(bench/llm_bench.py starts it):

    $INC_PY bench/incumbent_export_hf.py --model-dir D --out X.tflite --json X.json \
        --prefill-length 128 --cache-length 1024 --recipe none|dynamic_wi8_afp32|...

It calls `litert_torch.generative.export_hf.export.export()` (what the `litert-torch export_hf` CLI
calls) with the default static CPU export (transposed-V attention, no composites), the given
prefill length, cache length and quantization recipe, and bundle_litert_lm=False: the bench runs
the bare .tflite (prefill_{T} + decode), as it runs ours. export_hf loads a tokenizer from the
model directory; llm_bench.py writes a small one there (it is not used by the .tflite).

JSON fields (as in bench/ours_export_llm.py):
  import_s, load_s        importing litert_torch; its load_model() (from_pretrained fp32 + tokenizer)
  weight_bytes            bytes of the loaded model's parameters and buffers
  convert_s               from the end of load_model() to the end of export(): tracing, lowering,
                          TFLite conversion, quantization, writing
  phase_s                 convert_s split: prefill_decode (export_text_prefill_decode_model without
                          its quantization), quantize (ai-edge-quantizer), other
  rss                     bench/rss.py PhaseMeter from the end of load_model(): RSS then (the loaded
                          model, every weight page touched first), peak (VmHWM) and the difference, sampled peak per phase
  tflite_bytes            size of the .tflite copied to --out
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rss import PhaseMeter  # noqa: E402


def weight_bytes(model) -> int:
    seen, total = set(), 0
    for t in list(model.parameters()) + list(model.buffers()):
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        if key not in seen:
            seen.add(key)
            total += t.untyped_storage().nbytes()
    return total


def _alias_tflite_schema() -> bool:
    """litert-torch 0.10.0's export_hf imports `tensorflow.lite.python.schema_py_generated` at module
    level (model_ext/bonsai_flux2, a text-to-image model) although tensorflow is not among its
    dependencies, so `import ...export_hf.export` fails without TensorFlow. That module is the
    generated TFLite flatbuffer schema, which ai-edge-litert ships too: alias it instead of installing
    TensorFlow. The text-generation path never uses it. Returns whether the alias was needed."""
    import importlib.machinery
    import importlib.util
    import types

    if importlib.util.find_spec("tensorflow") is not None:
        return False
    from ai_edge_litert import schema_py_generated

    for name in ("tensorflow", "tensorflow.lite", "tensorflow.lite.python"):
        module = types.ModuleType(name)
        # A spec without origin: torch._dynamo's trace rules look packages up by find_spec().
        module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        sys.modules.setdefault(name, module)
    sys.modules["tensorflow.lite.python.schema_py_generated"] = schema_py_generated
    return True


def touch_weights(model) -> None:
    """Makes every weight page resident (as bench/ours_export_llm.py does), so that the RSS after loading
    contains the model even if from_pretrained left it memory-mapped."""
    import torch

    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.numel() and t.device.type != "meta":
                t.float().sum()


def run(args, result: dict) -> None:
    t0 = time.perf_counter()
    result["tensorflow_schema_aliased"] = _alias_tflite_schema()
    import litert_torch
    import torch
    import transformers
    from litert_torch.generative.export_hf import export as export_mod
    from litert_torch.generative.export_hf.core import export_lib

    result["import_s"] = time.perf_counter() - t0
    import importlib.metadata as md

    result["versions"] = {"litert-torch": litert_torch.__version__, "torch": torch.__version__,
                          "transformers": transformers.__version__,
                          "ai-edge-quantizer": md.version("ai-edge-quantizer"),
                          "ai-edge-litert": md.version("ai-edge-litert")}
    state: dict = {}
    phase_s: dict = {}

    original_load = export_lib.load_model

    def metered_load(*a, **kw):
        t = time.perf_counter()
        artifacts = original_load(*a, **kw)
        result["load_s"] = time.perf_counter() - t
        result["weight_bytes"] = weight_bytes(artifacts.model)
        touch_weights(artifacts.model)
        gc.collect()
        state["meter"] = PhaseMeter()
        state["meter"].mark("export_hf")
        # Written now too: a conversion killed by llm_bench.py's watchdog still says where it started.
        result["rss_at_start_mb"] = state["meter"].rss_at_start_kib / 1024
        with open(args.json, "w") as f:
            json.dump(result, f)
        state["t_loaded"] = time.perf_counter()
        return artifacts

    def phase(label, fn):
        def wrapper(*a, **kw):
            state["meter"].mark(label)
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                phase_s[label] = phase_s.get(label, 0.0) + time.perf_counter() - t
                state["meter"].mark("other")

        return wrapper

    export_lib.load_model = metered_load
    export_lib.export_text_prefill_decode_model = phase("prefill_decode", export_lib.export_text_prefill_decode_model)
    export_lib.quantize_model = phase("quantize", export_lib.quantize_model)

    out_dir = os.path.join(os.path.dirname(os.path.abspath(args.out)), "export_hf_work")
    shutil.rmtree(out_dir, ignore_errors=True)
    try:
        export_mod.export(
            model=args.model_dir,
            output_dir=out_dir,
            prefill_lengths=[args.prefill_length],
            cache_length=args.cache_length,
            quantization_recipe=args.recipe,
            bundle_litert_lm=False,
        )
        result["convert_s"] = time.perf_counter() - state["t_loaded"]
    finally:
        if "meter" in state:
            result["rss"] = state["meter"].stop()
            result["rss_timeline"] = state["meter"].timeline
    if "prefill_decode" in phase_s and "quantize" in phase_s:
        phase_s["prefill_decode"] -= phase_s["quantize"]  # quantize runs inside it
    phase_s["other"] = result["convert_s"] - sum(phase_s.values())
    result["phase_s"] = phase_s
    tflites = [os.path.join(r, f) for r, _, fs in os.walk(out_dir) for f in fs if f.endswith(".tflite")]
    # The quantized file when a recipe ran (model_quantized.tflite), else model.tflite.
    chosen = sorted(tflites, key=lambda p: ("_quantized" not in p, p))
    if not chosen:
        raise RuntimeError(f"export_hf wrote no .tflite under {out_dir}")
    result["export_hf_files"] = [os.path.relpath(p, out_dir) for p in tflites]
    shutil.copyfile(chosen[0], args.out)
    shutil.rmtree(out_dir, ignore_errors=True)
    result["tflite_bytes"] = os.path.getsize(args.out)
    result["ok"] = True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--prefill-length", type=int, required=True)
    ap.add_argument("--cache-length", type=int, required=True)
    ap.add_argument("--recipe", default="none", help="an ai-edge-quantizer recipe name, or none")
    args = ap.parse_args(argv)
    result: dict = {"ok": False, "tool": "litert-torch export_hf", "recipe": args.recipe}
    t0 = time.perf_counter()
    try:
        run(args, result)
        status = 0
    except Exception as e:  # noqa: BLE001 - a failed conversion is a result too
        traceback.print_exc()
        result["error"] = f"{type(e).__name__}: {e}"[:3000]
        status = 1
    result["total_s"] = time.perf_counter() - t0
    with open(args.json, "w") as f:
        json.dump(result, f)
    return status


if __name__ == "__main__":
    sys.exit(main())
