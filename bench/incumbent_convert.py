"""Convert one bench model with the incumbent converter and time it.

Runs INSIDE the incumbent venv (bench/setup_incumbent_venv.sh), one model per
process so that timings and peak RSS are cold and not polluted by earlier
models:

    PY=$(bash bench/setup_incumbent_venv.sh | tail -n1)
    $PY bench/incumbent_convert.py --model tv_resnet18 \
        --out /tmp/inc_resnet18.tflite --json /tmp/inc_resnet18.json

JSON fields (times in seconds, wall clock, time.perf_counter):
  import_s       importing the incumbent package (pulls in torch, jax, ...)
  build_s        bench.models.build(): model construction + sample input
  convert_s      incumbent convert() + writing the .tflite: the end-to-end
                 conversion a user waits for, given a built model
  export_s       time spent inside torch.export.export during convert_s.
                 Measured by wrapping torch.export.export for the duration of
                 the conversion (the incumbent calls it as an attribute of
                 torch.export at call time), so it is the export the incumbent
                 really ran, with its own options (strict=False by default),
                 not a re-export. Does not include the incumbent's own
                 run_decompositions, which is counted as conversion.
  export_calls   how many times torch.export.export was called (>1 means
                 the incumbent retried, e.g. strict_export="auto"); if 0 the
                 wrapper missed (incumbent changed how it calls export) and
                 export_s is null
  convert_minus_export_s  convert_s - export_s
  peak_rss_before_convert_mb  ru_maxrss after imports + model build
  peak_rss_mb    ru_maxrss at the end (the process peak, dominated by
                 conversion for all but trivial models)
On failure the JSON has ok=false and the error, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
import traceback

# models.py sits next to this file; make it importable wherever we run from.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _import_incumbent():
    """Return (module, distribution name); litert-torch was ai-edge-torch."""
    try:
        import litert_torch

        return litert_torch, "litert-torch"
    except ImportError:
        import ai_edge_torch

        return ai_edge_torch, "ai-edge-torch"


class _ExportTimer:
    """Context manager wrapping torch.export.export to sum its wall time."""

    def __init__(self, torch_mod):
        self._export_mod = torch_mod.export
        self.seconds = 0.0
        self.calls = 0

    def __enter__(self):
        self._orig = self._export_mod.export

        def timed_export(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return self._orig(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1

        self._export_mod.export = timed_export
        return self

    def __exit__(self, *exc):
        self._export_mod.export = self._orig
        return False


def run(model_name: str, out_path: str, result: dict) -> None:
    """Convert and fill `result` as it goes, so a failure keeps what was known."""
    t0 = time.perf_counter()
    incumbent, dist_name = _import_incumbent()
    import torch

    from models import build

    result["import_s"] = time.perf_counter() - t0
    result.update(
        incumbent=dist_name,
        incumbent_version=incumbent.__version__,
        torch_version=torch.__version__,
        python=platform.python_version(),
        torch_threads=torch.get_num_threads(),
    )

    t0 = time.perf_counter()
    model, sample_args = build(model_name)
    result["build_s"] = time.perf_counter() - t0
    result["input_shapes"] = [list(a.shape) for a in sample_args]
    result["peak_rss_before_convert_mb"] = _peak_rss_mb()

    with _ExportTimer(torch) as export_timer:
        t0 = time.perf_counter()
        edge_model = incumbent.convert(model, sample_args)
        edge_model.export(out_path)
        convert_s = time.perf_counter() - t0

    result["convert_s"] = convert_s
    result["export_calls"] = export_timer.calls
    if export_timer.calls:
        result["export_s"] = export_timer.seconds
        result["convert_minus_export_s"] = convert_s - export_timer.seconds
    else:
        result["export_s"] = None
        result["convert_minus_export_s"] = None
    result["peak_rss_mb"] = _peak_rss_mb()
    result["tflite_bytes"] = os.path.getsize(out_path)
    result["ok"] = True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="a key of bench/models.py NAMES")
    ap.add_argument("--out", required=True, help="output .tflite path")
    ap.add_argument("--json", required=True, help="output result JSON path")
    args = ap.parse_args(argv)

    result: dict = {"model": args.model, "out": os.path.abspath(args.out), "ok": False}
    t0 = time.perf_counter()
    try:
        run(args.model, args.out, result)
        status = 0
    except Exception as e:  # noqa: BLE001 - a failed conversion is a result too
        traceback.print_exc()
        result["error"] = f"{type(e).__name__}: {e}"[:2000]
        result["peak_rss_mb"] = _peak_rss_mb()
        status = 1
    result["total_s"] = time.perf_counter() - t0

    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(json.dumps(result, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
