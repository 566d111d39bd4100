"""Export one Hugging Face model directory with pt2tflite's LLM export, timed and RSS-metered.

Runs in pt2tflite's environment, one conversion per fresh process (bench/llm_bench.py starts it):

    python bench/ours_export_llm.py --model-dir D --out X.tflite --json X.json \
        --prefill-length 128 --cache-length 1024 [--quantize none|int8|int4] [--prefill-logits no|yes]

JSON fields (seconds are wall clock, MiB are 2**20 bytes):
  import_s, load_s        importing torch/transformers/pt2tflite; from_pretrained (fp32)
  weight_bytes            bytes of the loaded model's parameters and buffers (shared storages once)
  convert_s               export_llm_file(): what `pt2tflite export-llm` does once the model is loaded
                          (the .tflite streamed to the file)
  phase_s                 convert_s split: torch_export (torch.export + run_decompositions, all
                          signatures), pt2_archive (writing each signature's .pt2 to a temporary
                          file), core (the C++ conversion, streaming the weights into the output)
  rss                     bench/rss.py PhaseMeter over convert_s: RSS when the export began (the
                          loaded model, every weight page touched first), the kernel's peak (VmHWM, reset at the start) and the
                          difference, plus the sampled peak of each phase
  tflite_bytes            size of the written file
On failure: ok=false and the error; exit status 1.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
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


def touch_weights(model) -> None:
    """Makes every weight page resident. from_pretrained may leave the weights memory-mapped from the
    safetensors file and untouched, so the RSS "after loading" would not contain them and the export,
    which reads them, would be charged for them."""
    import torch

    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.numel():
                t.float().sum()


class _Phases:
    """Wraps the functions Signatures.convert calls, to time them and label the RSS timeline."""

    def __init__(self, meter: PhaseMeter):
        import pt2tflite.signatures as sigmod

        self.meter, self.seconds, self._mod = meter, {}, sigmod
        self._saved = {name: getattr(sigmod, name) for name in ("export_program", "save_archive", "_core")}
        sigmod.export_program = self._timed("torch_export", self._saved["export_program"])
        sigmod.save_archive = self._timed("pt2_archive", self._saved["save_archive"])
        core = self._saved["_core"]
        timed_convert = self._timed("core", core.convert_signature_files)

        class CoreProxy:
            def __getattr__(self, name):
                return timed_convert if name == "convert_signature_files" else getattr(core, name)

        sigmod._core = CoreProxy()

    def _timed(self, label, fn):
        def wrapper(*args, **kwargs):
            self.meter.mark(label)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - t0
                self.meter.mark("other")

        return wrapper

    def restore(self):
        for name, value in self._saved.items():
            setattr(self._mod, name, value)


def run(args, result: dict) -> None:
    t0 = time.perf_counter()
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    import pt2tflite
    from pt2tflite.llm import export_llm_file

    result["import_s"] = time.perf_counter() - t0
    result["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__,
                          "pt2tflite": getattr(pt2tflite, "__version__", "?")}
    t0 = time.perf_counter()
    hf = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32).eval()
    result["load_s"] = time.perf_counter() - t0
    result["weight_bytes"] = weight_bytes(hf)
    touch_weights(hf)

    kwargs = {"prefill_lengths": (args.prefill_length,), "cache_length": args.cache_length}
    kwargs["prefill_logits"] = args.prefill_logits == "yes"
    if args.attend_bucket:
        kwargs["attend_bucket"] = args.attend_bucket
    if args.decode_lengths:
        kwargs["decode_lengths"] = tuple(int(x) for x in args.decode_lengths.split(","))
    if args.quantize != "none":
        if "quantize" not in inspect.signature(export_llm_file).parameters:
            raise RuntimeError("this pt2tflite's export_llm has no quantize= parameter (weight quantization "
                               "not merged yet)")
        kwargs["quantize"] = args.quantize
    gc.collect()
    meter = PhaseMeter()
    # Written now too: a conversion killed by llm_bench.py's watchdog still says where it started.
    result["rss_at_start_mb"] = meter.rss_at_start_kib / 1024
    with open(args.json, "w") as f:
        json.dump(result, f)
    phases = _Phases(meter)
    t0 = time.perf_counter()
    try:
        # What `pt2tflite export-llm` does: the .tflite streamed to the file.
        export_llm_file(hf, args.out, **kwargs)
        result["convert_s"] = time.perf_counter() - t0
    finally:
        phases.restore()
        result["rss"] = meter.stop()
        result["rss_timeline"] = meter.timeline
    result["phase_s"] = phases.seconds
    result["tflite_bytes"] = os.path.getsize(args.out)
    result["ok"] = True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--prefill-length", type=int, required=True)
    ap.add_argument("--cache-length", type=int, required=True)
    ap.add_argument("--quantize", default="none", choices=["none", "int8", "int4"])
    ap.add_argument("--decode-lengths", default="", help="comma-separated L: extra decode_{L} signatures")
    ap.add_argument("--attend-bucket", type=int, default=0, help="export_llm's attend_bucket (0: none)")
    ap.add_argument("--prefill-logits", default="no", choices=["yes", "no"],
                    help="export_llm_file's prefill_logits (default no, as export_hf's prefill)")
    args = ap.parse_args(argv)
    result: dict = {"ok": False, "tool": "pt2tflite"}
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
