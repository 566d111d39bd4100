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
because it is the one onnx2tf is developed and tested against; if the export
or onnx2tf fails on its graph, the dynamo exporter (dynamo=True, opset 18,
the default in torch >= 2.9) and onnx2tf again. The JSON says which one
produced the file and why the other did not (attempts).

onnx2tf is run with its defaults (the `onnx2tf -i model.onnx` a user would
type): onnxsim, NCHW inputs turned into NHWC inputs, a saved_model, then a
float32 and a float16 .tflite. The float32 file is the one benchmarked. Its
convert() always also writes the saved_model and the float16 file; the time
spent in those is reported separately (saved_model_s, tflite_fp16_s) so that
onnx2tf_fp32_s = onnx2tf_s - tflite_fp16_s - saved_model_s can be quoted too.

When the saved_model rejects onnx2tf's node names, onnx2tf exits and tells
the user to convert again with -osd (output_signaturedefs); we do that, once
(onnx2tf_retry, onnx2tf_failed_try_s). No other onnx2tf option is changed.

JSON fields (seconds, wall clock, time.perf_counter):
  import_s          importing torch (+ timm/torchvision via models.py)
  build_s           bench.models.build()
  onnx_export_s     the successful torch.onnx.export call (fresh process, so
                    first-call costs included, unless a failed attempt came
                    first)
  onnx_exporter     "torchscript (dynamo=False, opset 17)" or "dynamo ..."
  attempts          every exporter tried, in order, with its own timings, the
                    stage reached ("onnx_export" / "onnx2tf") and the error
  onnx_bytes        size of the .onnx (+ external data, if any)
  onnx2tf_import_s  importing onnx2tf (pulls in tensorflow)
  onnx2tf_s         onnx2tf.convert(): onnxsim + TF graph build + saved_model
                    + float32 and float16 .tflite
  saved_model_s, tflite_fp32_s, tflite_fp16_s  parts of onnx2tf_s (see above)
  onnx2tf_fp32_s    onnx2tf_s without the float16 file and the saved_model
  peak_rss_after_export_mb  ru_maxrss after the ONNX export
  peak_rss_mb       ru_maxrss at the end (whole process: torch + TF)
  input_layout      "NHWC" if onnx2tf changed the 4-D input to channels-last
On failure: ok=false, stage (of the last attempt) and error (every
attempt's); exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import json
import os
import platform
import re
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


def _error_gist(e: BaseException) -> str:
    """The error's gist on one line.

    Keras errors open with 'Exception encountered when calling layer X' and
    give the cause (e.g. the mismatched shapes) on the next line: keep both.
    """
    lines = [ln.strip() for ln in f"{type(e).__name__}: {e}".splitlines() if ln.strip()]
    keep = lines[:2] if "Exception encountered when calling layer" in lines[0] else lines[:1]
    return " ".join(keep)[:500]


def export_onnx(model, args, path: str, kw: dict) -> None:
    """One torch.onnx.export call; raises on failure."""
    import torch

    for p in glob.glob(path + "*"):
        os.remove(p)
    # nn.MultiheadAttention's inference fast path (torchvision ViT) becomes
    # aten::_native_multi_head_attention, which the TorchScript exporter
    # cannot export; the slow path computes the same thing with plain ops.
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad():
            torch.onnx.export(model, args, path, input_names=["input"], output_names=["output"], **kw)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)


class _PartTimer:
    """Times the saved_model write and each TFLite conversion inside onnx2tf.convert().

    onnx2tf writes the saved_model with tf.saved_model.save (or, with
    output_signaturedefs, tf_keras's ExportArchive.write_out), then builds a
    converter with TFLiteConverter.from_keras_model (or
    from_concrete_functions) and calls its convert() for float32, then again
    for float16. Those names are looked up at call time, so wrapping them
    here sees every call. The factories return subclasses with their own
    convert(), hence the wrapping of the instance's method rather than the
    class's.
    """

    def __enter__(self):
        import tensorflow as tf
        import tf_keras

        self.saved_model_s = 0.0
        self.convert_s: list[float] = []
        self._saving = False
        self._tf, self._archive = tf, tf_keras.export.ExportArchive
        self._save, self._write_out = tf.saved_model.save, self._archive.write_out
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

        def timed_save(fn):
            # write_out may call tf.saved_model.save: count the outer call only.
            def wrapper(*a, **k):
                if self._saving:
                    return fn(*a, **k)
                self._saving = True
                t0 = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    self.saved_model_s += time.perf_counter() - t0
                    self._saving = False

            return wrapper

        def factory(orig):
            def make(*a, **k):
                conv = orig(*a, **k)
                conv.convert = timed(conv.convert, self.convert_s.append)
                return conv

            return make

        tf.saved_model.save = timed_save(self._save)
        self._archive.write_out = timed_save(self._write_out)
        for n, f in self._factories.items():
            setattr(cls, n, factory(f))
        return self

    def __exit__(self, *exc):
        self._tf.saved_model.save = self._save
        self._archive.write_out = self._write_out
        for n, f in self._factories.items():
            setattr(self._tf.lite.TFLiteConverter, n, f)
        return False


class _OpNameTee(io.TextIOBase):
    """stdout that still prints, and keeps what onnx2tf logs about a failure.

    onnx2tf reports the failing node only in its log ("onnx_op_name: X"),
    not in the exception it raises, and some errors only in its log before
    it calls sys.exit(1).
    """

    def __init__(self, real):
        self.real = real
        self.op_name = None
        self.first_error = None
        self._line = ""

    def write(self, text):
        # print() writes its arguments and separators one by one: look at
        # whole lines.
        self._line += text
        while "\n" in self._line:
            line, self._line = self._line.split("\n", 1)
            self._scan(re.sub(r"\x1b\[[0-9;]*m", "", line))
        return self.real.write(text)

    def _scan(self, line: str) -> None:
        m = re.search(r"onnx_op_name: (\S+)", line)
        if m:
            self.op_name = m.group(1)
        m = re.match(r"\s*ERROR: (.*)", line)
        if m and self.first_error is None and "trace log" not in m.group(1):
            self.first_error = m.group(1).strip()[:300]

    def flush(self):
        self.real.flush()


def run_onnx2tf(onnx_path: str, out_dir: str, result: dict) -> str:
    """onnx2tf.convert() with its defaults, timed by part; returns the float32 .tflite."""
    import onnx2tf
    import tf_keras

    # A second attempt in the same process must not inherit Keras layer
    # names or graph state from the failed first one.
    tf_keras.backend.clear_session()
    shutil.rmtree(out_dir, ignore_errors=True)
    options: dict = {}
    while True:
        tee = _OpNameTee(sys.stdout)
        try:
            with _PartTimer() as parts, contextlib.redirect_stdout(tee):
                t0 = time.perf_counter()
                onnx2tf.convert(input_onnx_file_path=onnx_path, output_folder_path=out_dir, non_verbose=True, **options)
                result["onnx2tf_s"] = time.perf_counter() - t0
            break
        except SystemExit:
            # When the saved_model refuses onnx2tf's node names, onnx2tf
            # itself tells the user to convert again with -osd
            # (output_signaturedefs), which changes only how the saved_model
            # is written: do what it says, once.
            if options or not (tee.first_error or "").startswith("Generation of saved_model failed"):
                raise
            result["onnx2tf_retry"] = f"output_signaturedefs=True after: {tee.first_error}"
            result["onnx2tf_failed_try_s"] = time.perf_counter() - t0
            options = {"output_signaturedefs": True}
            tf_keras.backend.clear_session()
            shutil.rmtree(out_dir, ignore_errors=True)
        finally:
            if tee.op_name:
                result["onnx_op_name"] = tee.op_name
            if tee.first_error:
                result["onnx2tf_logged_error"] = tee.first_error
    result["saved_model_s"] = parts.saved_model_s
    result["tflite_convert_calls"] = len(parts.convert_s)
    result["tflite_fp32_s"] = parts.convert_s[0] if parts.convert_s else None
    result["tflite_fp16_s"] = parts.convert_s[1] if len(parts.convert_s) > 1 else None
    result["onnx2tf_fp32_s"] = result["onnx2tf_s"] - (result["tflite_fp16_s"] or 0.0) - parts.saved_model_s
    fp32 = os.path.join(out_dir, os.path.splitext(os.path.basename(onnx_path))[0] + "_float32.tflite")
    if not os.path.exists(fp32):
        # onnx2tf logs some errors and returns without raising.
        raise RuntimeError(f"onnx2tf wrote no {os.path.basename(fp32)} "
                           f"(files: {sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []})")
    return fp32


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

    t0 = time.perf_counter()
    import onnx2tf

    result["onnx2tf_import_s"] = time.perf_counter() - t0
    result["onnx2tf_version"] = onnx2tf.__version__
    _write_sample_images(workdir)
    os.chdir(workdir)

    # Each exporter in turn, through to a .tflite: onnx2tf may handle one
    # exporter's graph and not the other's (they spell GELU, LayerNorm,
    # attention differently), so a failure of either step moves on.
    attempts = result["attempts"] = []
    fp32 = None
    for label, kw in EXPORTERS:
        tag = "dynamo" if kw["dynamo"] else "torchscript"
        onnx_path = os.path.join(workdir, f"{tag}.onnx")
        att: dict = {"exporter": label, "stage": "onnx_export"}
        attempts.append(att)
        try:
            t0 = time.perf_counter()
            export_onnx(model, args, onnx_path, kw)
            att["onnx_export_s"] = time.perf_counter() - t0
            # The dynamo exporter may put weights in a side file next to it.
            att["onnx_bytes"] = sum(os.path.getsize(p) for p in glob.glob(onnx_path + "*"))
            att["peak_rss_after_export_mb"] = _peak_rss_mb()
            att["stage"] = "onnx2tf"
            fp32 = run_onnx2tf(onnx_path, os.path.join(workdir, f"{tag}_out"), att)
            att["ok"] = True
            break
        except Exception as e:  # noqa: BLE001 - try the next exporter
            traceback.print_exc()
            att.update(ok=False, error=_error_gist(e) + (f" [ONNX op {att['onnx_op_name']}]" if att.get("onnx_op_name") else ""))
        except SystemExit as e:  # onnx2tf calls sys.exit(1) on some errors
            att.update(ok=False, error=f"onnx2tf called sys.exit({e.code}): {att.get('onnx2tf_logged_error', 'see its log')}")
        print(f"[onnx2tf_convert] {label}: {att['stage']} failed: {att['error']}", file=sys.stderr, flush=True)
    if fp32 is None:
        result["stage"] = attempts[-1]["stage"]
        raise RuntimeError("; ".join(f"{a['exporter']} -> {a['stage']}: {a['error']}" for a in attempts))

    # The successful attempt's numbers are the result's.
    result.update({k: v for k, v in attempts[-1].items() if k not in ("ok", "stage", "exporter")})
    result["onnx_exporter"] = attempts[-1]["exporter"]
    shutil.copy(fp32, out_path)
    result["tflite_bytes"] = os.path.getsize(out_path)

    from ai_edge_litert.interpreter import Interpreter

    shape = [int(s) for s in Interpreter(model_path=out_path).get_input_details()[0]["shape"]]
    src = result["input_shapes"][0]
    result["tflite_input_shape"] = shape
    result["input_layout"] = "NCHW" if shape == src else ("NHWC" if len(src) == 4 and shape == [src[0], src[2], src[3], src[1]] else "other")
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
        # run() raises a plain RuntimeError listing every attempt's error.
        result["error"] = (str(e) if type(e) is RuntimeError else f"{type(e).__name__}: {e}")[:2000]
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
