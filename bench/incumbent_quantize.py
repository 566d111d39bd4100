"""Quantize and convert one model with the incumbent's own PT2E flow.

Runs INSIDE the incumbent venv (bench/setup_incumbent_venv.sh), started by
bench/quant_run.py once per model:

    $PY bench/incumbent_quantize.py --program float.pt2 --data data.pt \
        --out-dir DIR --json result.json

Inputs, written by bench/quant_run.py so that both converters start from the
same thing:
  --program  the float model as a torch.export program (torch.export.save);
  --data     torch.save'd dict: "sample" (export example input),
             "calibration" and "eval" (lists of input tensors).

For fp32 and for each weight scheme (per-tensor, per-channel) it follows
litert-torch's documented PT2E recipe: its PT2EQuantizer with
get_symmetric_quantization_config(is_per_channel=...), torchao prepare_pt2e,
calibration on the given inputs, convert_pt2e(fold_quantize=False), then
litert_torch.convert(..., quant_config=QuantConfig(pt2e_quantizer=...)).

Writes to --out-dir: inc_fp32.tflite, inc_per_tensor.tflite,
inc_per_channel.tflite and, per scheme, ref_<scheme>.npy (the PT2E reference
module's logits on the eval inputs, run in PyTorch here, stacked [N, classes]).
The JSON has, per variant: ok, seconds per step, and on failure the error
(type, message and traceback), so quant_run.py can report exactly why.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

SCHEMES = {"per_tensor": False, "per_channel": True}


def _error(e: BaseException) -> dict:
    return {
        "ok": False,
        "error": f"{type(e).__name__}: {e}"[:4000],
        "traceback": traceback.format_exc()[-8000:],
    }


def run(a: argparse.Namespace, result: dict) -> None:
    import numpy as np
    import torch
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    import litert_torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig

    result["versions"] = {"litert_torch": litert_torch.__version__, "torch": torch.__version__}
    data = torch.load(a.data, weights_only=True)
    sample = (data["sample"],)

    def fresh_module():
        # prepare_pt2e rewrites the graph it is given: load a new copy per variant.
        return torch.export.load(a.program).module()

    variants = result["variants"] = {}

    v = variants["fp32"] = {}
    try:
        t0 = time.perf_counter()
        path = os.path.join(a.out_dir, "inc_fp32.tflite")
        litert_torch.convert(fresh_module(), sample).export(path)
        v.update(ok=True, convert_s=time.perf_counter() - t0, path=path)
    except Exception as e:  # noqa: BLE001 - a failed conversion is a result
        v.update(_error(e))
    print(f"fp32: {v.get('error', 'ok')}", file=sys.stderr, flush=True)

    for scheme, per_channel in SCHEMES.items():
        v = variants[scheme] = {}
        step = "quantize"
        try:
            t0 = time.perf_counter()
            quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
                pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=per_channel)
            )
            m = prepare_pt2e(fresh_module(), quantizer)
            with torch.no_grad():
                for x in data["calibration"]:
                    m(x)
            # fold_quantize=False: what litert-torch's README and tests do before convert().
            m = convert_pt2e(m, fold_quantize=False)
            v["quantize_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            with torch.no_grad():
                ref = np.concatenate([m(x).numpy() for x in data["eval"]])
            v["reference_s"] = time.perf_counter() - t0
            ref_path = os.path.join(a.out_dir, f"ref_{scheme}.npy")
            np.save(ref_path, ref)
            v["reference"] = ref_path

            step = "convert"
            t0 = time.perf_counter()
            path = os.path.join(a.out_dir, f"inc_{scheme}.tflite")
            litert_torch.convert(m, sample, quant_config=QuantConfig(pt2e_quantizer=quantizer)).export(path)
            v.update(ok=True, convert_s=time.perf_counter() - t0, path=path)
        except Exception as e:  # noqa: BLE001
            v.update(_error(e), failed_step=step)
        print(f"{scheme}: {v.get('error', 'ok')}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--program", required=True, help="float model, torch.export.save'd")
    ap.add_argument("--data", required=True, help="torch.save'd sample / calibration / eval inputs")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--json", required=True)
    a = ap.parse_args(argv)

    result: dict = {"ok": False}
    t0 = time.perf_counter()
    try:
        run(a, result)
        result["ok"] = True
    except Exception as e:  # noqa: BLE001 - e.g. the import or the program load failed
        result.update(_error(e))
    result["total_s"] = time.perf_counter() - t0
    with open(a.json, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
