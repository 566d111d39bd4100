"""Convert one bench model with torch.onnx.export -> onnx2tf and time both steps.

Runs INSIDE the onnx2tf venv (bench/setup_onnx2tf_venv.sh), one model per
process, so that timings and peak RSS are cold, like incumbent_convert.py:

    PY=$(bash bench/setup_onnx2tf_venv.sh | tail -n1)
    $PY bench/onnx2tf_convert.py --model tv_resnet18 \
        --out /tmp/o2t_resnet18.tflite --json /tmp/o2t_resnet18.json

Why the ONNX export happens here and not in pt2tflite's python: the venv
carries the same torch (2.14.1, the machine-wide cap) as pt2tflite's
environment, so the exported graph is the same, and pt2tflite's environment
does not need onnx / onnxscript installed for a bench-only peer.

Exporter: the TorchScript exporter (dynamo=False, opset 17) is tried first,
because it is the one onnx2tf is developed and tested against; if it fails,
the dynamo exporter (dynamo=True, opset 18, the default in torch >= 2.9). The
JSON says which one produced the file and why the other was not used.

onnx2tf is run with its defaults (the `onnx2tf -i model.onnx` a user would
type): onnxsim, NCHW inputs turned into NHWC inputs, a saved_model, then a
float32 and a float16 .tflite. The float32 file is the one benchmarked. Its
convert() always also writes the saved_model and the float16 file; the time
spent in those is reported separately (saved_model_s, tflite_fp16_s) so that
onnx2tf_fp32_s = onnx2tf_s - tflite_fp16_s - saved_model_s can be quoted too.

JSON fields (seconds, wall clock, time.perf_counter):
  import_s          importing torch (+ timm/torchvision via models.py)
  build_s           bench.models.build()
  onnx_export_s     the successful torch.onnx.export call (fresh process, so
                    first-call costs included)
  onnx_exporter     "torchscript (dynamo=False, opset 17)" or "dynamo ..."
  onnx_export_attempts  [{exporter, ok, s, error}] every attempt, in order
  onnx_bytes        size of the .onnx (+ external data, if any)
  onnx2tf_import_s  importing onnx2tf (pulls in tensorflow)
  onnx2tf_s         onnx2tf.convert(): onnxsim + TF graph build + saved_model
                    + float32 and float16 .tflite
  saved_model_s, tflite_fp32_s, tflite_fp16_s  parts of onnx2tf_s (see above)
  onnx2tf_fp32_s    onnx2tf_s without the float16 file and the saved_model
  peak_rss_after_export_mb  ru_maxrss after the ONNX export
  peak_rss_mb       ru_maxrss at the end (whole process: torch + TF)
  input_layout      "NHWC" if onnx2tf changed the 4-D input to channels-last
On failure: ok=false, stage ("onnx_export" or "onnx2tf") and error; exit 1.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# TensorFlow's C++ start-up chatter (CUDA plugin registration, ...) would
# bury the real error in the log run.py keeps.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EXPORTERS = [
    ("torchscript (dynamo=False, opset 17)", {"dynamo": False, "opset_version": 17}),
    ("dynamo (dynamo=True, opset 18)", {"dynamo": True, "opset_version": 18}),
]


# onnx2tf runs ONNX Runtime on sample images to check its layout decisions
# for 4-D, 3-channel inputs; it reads them from this file in the current
# directory, or else downloads it from GitHub. This machine reaches only
# PyPI, so we write a stand-in of the same shape (seeded uniform [0, 1), like
# normalised images) into the working directory and convert from there.
SAMPLE_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"


def _write_sample_images(workdir: str) -> None:
    import numpy as np

    path = os.path.join(workdir, SAMPLE_FILE)
    if not os.path.exists(path):
        np.save(path, np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _first_line(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip()
    return text.splitlines()[0][:500] if text else type(e).__name__


def export_onnx(model, args, path: str, result: dict) -> None:
    """torch.onnx.export with the first exporter that works; fills result."""
    import torch

    attempts = result["onnx_export_attempts"] = []
    for label, kw in EXPORTERS:
        for p in glob.glob(path + "*"):
            os.remove(p)
        t0 = time.perf_counter()
        try:
            with torch.no_grad():
                torch.onnx.export(model, args, path, input_names=["input"], output_names=["output"], **kw)
            s = time.perf_counter() - t0
            attempts.append({"exporter": label, "ok": True, "s": s})
            result["onnx_export_s"] = s
            result["onnx_exporter"] = label
            # The dynamo exporter may put weights in a side file next to it.
            result["onnx_bytes"] = sum(os.path.getsize(p) for p in glob.glob(path + "*"))
            return
        except Exception as e:  # noqa: BLE001 - try the next exporter
            traceback.print_exc()
            attempts.append({"exporter": label, "ok": False, "s": time.perf_counter() - t0, "error": _first_line(e)})
    raise RuntimeError("torch.onnx.export failed: " + "; ".join(f"{a['exporter']}: {a['error']}" for a in attempts))


class _PartTimer:
    """Times the saved_model write and each TFLite conversion inside onnx2tf.convert().

    onnx2tf calls tf.saved_model.save once, then builds a converter with
    TFLiteConverter.from_keras_model (or from_concrete_functions) and calls
    its convert() for float32, then again for float16. Those names are looked
    up at call time, so wrapping them here sees every call. The factories
    return subclasses with their own convert(), hence the wrapping of the
    instance's method rather than the class's.
    """

    def __enter__(self):
        import tensorflow as tf

        self.saved_model_s = 0.0
        self.convert_s: list[float] = []
        self._tf = tf
        self._save = tf.saved_model.save
        cls = tf.lite.TFLiteConverter
        self._factories = {n: getattr(cls, n) for n in ("from_keras_model", "from_concrete_functions")}

        def timed(fn, on_done):
            def wrapper(*a, **k):
                t0 = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    on_done(time.perf_counter() - t0)

            return wrapper

        def add_save(s):
            self.saved_model_s += s

        def factory(orig):
            def make(*a, **k):
                conv = orig(*a, **k)
                conv.convert = timed(conv.convert, self.convert_s.append)
                return conv

            return make

        tf.saved_model.save = timed(self._save, add_save)
        for n, f in self._factories.items():
            setattr(cls, n, factory(f))
        return self

    def __exit__(self, *exc):
        self._tf.saved_model.save = self._save
        for n, f in self._factories.items():
            setattr(self._tf.lite.TFLiteConverter, n, f)
        return False


def run(model_name: str, out_path: str, workdir: str, result: dict) -> None:
    t0 = time.perf_counter()
    import torch

    from models import build

    result["import_s"] = time.perf_counter() - t0
    result.update(torch_version=torch.__version__, python=platform.python_version(), torch_threads=torch.get_num_threads())

    t0 = time.perf_counter()
    model, args = build(model_name)
    result["build_s"] = time.perf_counter() - t0
    result["input_shapes"] = [list(a.shape) for a in args]

    onnx_path = os.path.join(workdir, "model.onnx")
    result["stage"] = "onnx_export"
    export_onnx(model, args, onnx_path, result)
    result["peak_rss_after_export_mb"] = _peak_rss_mb()
    del model

    result["stage"] = "onnx2tf"
    t0 = time.perf_counter()
    import onnx2tf

    result["onnx2tf_import_s"] = time.perf_counter() - t0
    result["onnx2tf_version"] = onnx2tf.__version__
    out_dir = os.path.join(workdir, "onnx2tf_out")
    _write_sample_images(workdir)
    os.chdir(workdir)
    with _PartTimer() as parts:
        t0 = time.perf_counter()
        onnx2tf.convert(input_onnx_file_path=onnx_path, output_folder_path=out_dir, non_verbose=True)
        result["onnx2tf_s"] = time.perf_counter() - t0
    result["saved_model_s"] = parts.saved_model_s
    result["tflite_convert_calls"] = len(parts.convert_s)
    if parts.convert_s:
        result["tflite_fp32_s"] = parts.convert_s[0]
    if len(parts.convert_s) > 1:
        result["tflite_fp16_s"] = parts.convert_s[1]
    result["onnx2tf_fp32_s"] = result["onnx2tf_s"] - result.get("tflite_fp16_s", 0.0) - parts.saved_model_s

    fp32 = os.path.join(out_dir, "model_float32.tflite")
    if not os.path.exists(fp32):
        # onnx2tf logs its errors and may return without raising.
        raise RuntimeError(f"onnx2tf wrote no {os.path.basename(fp32)} (files: {sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []})")
    shutil.copy(fp32, out_path)
    result["tflite_bytes"] = os.path.getsize(out_path)

    from ai_edge_litert.interpreter import Interpreter

    shape = [int(s) for s in Interpreter(model_path=out_path).get_input_details()[0]["shape"]]
    src = result["input_shapes"][0]
    result["tflite_input_shape"] = shape
    result["input_layout"] = "NCHW" if shape == src else ("NHWC" if len(src) == 4 and shape == [src[0], src[2], src[3], src[1]] else "other")
    result.pop("stage")
    result["peak_rss_mb"] = _peak_rss_mb()
    result["ok"] = True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="a key of bench/models.py NAMES")
    ap.add_argument("--out", required=True, help="output .tflite path (the float32 file)")
    ap.add_argument("--json", required=True, help="output result JSON path")
    ap.add_argument("--keep-dir", help="keep the .onnx and onnx2tf's output folder here")
    args = ap.parse_args(argv)

    # Absolute paths: run() changes directory (see SAMPLE_FILE).
    args.out, args.json = os.path.abspath(args.out), os.path.abspath(args.json)
    result: dict = {"model": args.model, "out": args.out, "ok": False}
    workdir = os.path.abspath(args.keep_dir or tempfile.mkdtemp(prefix="onnx2tf-"))
    os.makedirs(workdir, exist_ok=True)
    t0 = time.perf_counter()
    try:
        run(args.model, args.out, workdir, result)
        status = 0
    except Exception as e:  # noqa: BLE001 - a failed conversion is a result too
        traceback.print_exc()
        result["error"] = f"{type(e).__name__}: {e}"[:2000]
        result["peak_rss_mb"] = _peak_rss_mb()
        status = 1
    except SystemExit as e:  # onnx2tf calls sys.exit(1) on some errors
        result["error"] = f"onnx2tf exited (sys.exit({e.code})); see the log"
        result["peak_rss_mb"] = _peak_rss_mb()
        status = 1
    result["total_s"] = time.perf_counter() - t0
    if not args.keep_dir:
        shutil.rmtree(workdir, ignore_errors=True)

    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(json.dumps(result, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
