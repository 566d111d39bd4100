"""pt2tflite vs the incumbent (litert-torch) and onnx2tf on the bench model zoo, in one run.

    python3 bench/run.py                       # every model in bench/models.py
    python3 bench/run.py --quick               # tv_resnet18, tv_mobilenet_v2, tv_mobilenet_v3_small
    python3 bench/run.py --models tv_resnet18,timm_resnet18
    python3 bench/run.py --report-only         # rebuild .md/.png from today's .json
    python3 bench/run.py --peers incumbent,onnx2tf   # peers (default: incumbent, + onnx2tf if its venv exists)

Run it with the system python3 (where pt2tflite, torch, timm, ai-edge-litert
and matplotlib are installed). The incumbent runs in its own venv
(bench/setup_incumbent_venv.sh, created on first use), one model per process;
so does onnx2tf (bench/setup_onnx2tf_venv.sh, bench/onnx2tf_convert.py).

Writes bench/results/<YYYY-MM-DD>.md (tables + machine/version header),
bench/results/<YYYY-MM-DD>.png (latency ratio chart) and
bench/results/<YYYY-MM-DD>.json (every raw number; rewritten after each
model, so an interrupted run keeps what it measured). Progress goes to stderr.
See bench/README.md for how to read the tables.

Per model, sequentially:
  1. build the model with bench/models.py build() (same weights and input as
     the incumbent's process), eager PyTorch output = reference;
  2. ours, split path, in a fresh python process: torch.export.export time,
     run_decompositions time (pt2tflite.converter.export_program), .pt2
     archive time (archive_bytes);
  3. ours, native CLI `pt2tflite convert X.pt2 -o X.tflite`: wall time of the
     subprocess (median of --cli-repeats runs) and its peak RSS (os.wait4 on
     that child alone);
  4. ours, Python API end to end (pt2tflite.convert + Model.export) in a fresh
     python process, cold like the incumbent's measurement;
  5. incumbent: bench/incumbent_convert.py in the incumbent venv;
     5b. onnx2tf: bench/onnx2tf_convert.py in the onnx2tf venv
     (torch.onnx.export, then onnx2tf), if that peer is on;
  6. every .tflite file: op counts, TRANSPOSEs, size, ops left outside
     XNNPACK, max |diff| vs eager (NHWC inputs/outputs transposed), and
     latency with bench/latency.py interleaved() (XNNPACK, all files
     interleaved, median of --runs invokes, 1 and 2 threads).
"""

from __future__ import annotations

import argparse
import collections
import datetime
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import threading
import time
import traceback

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)

QUICK = ["tv_resnet18", "tv_mobilenet_v2", "tv_mobilenet_v3_small"]
MIB = 1024.0 * 1024.0
# Target from the project brief: peak RSS of our .pt2 -> .tflite conversion.
RSS_TARGET_FACTOR = 1.5
RSS_TARGET_EXTRA_MB = 100.0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Workers: run in a fresh `python3 bench/run.py --_worker ...` process so that
# first-call costs (torch.export / dynamo warm-up) are paid like the
# incumbent pays them in its own fresh process.
# --------------------------------------------------------------------------


def _self_peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class _ExportTimer:
    """Sums wall time spent in torch.export.export (same trick as incumbent_convert.py)."""

    def __init__(self, torch_mod):
        self._mod = torch_mod.export
        self.seconds = 0.0
        self.calls = 0

    def __enter__(self):
        self._orig = self._mod.export

        def timed(*a, **k):
            t0 = time.perf_counter()
            try:
                return self._orig(*a, **k)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1

        self._mod.export = timed
        return self

    def __exit__(self, *exc):
        self._mod.export = self._orig
        return False


def _worker(phase: str, model_name: str, out: str, json_path: str) -> int:
    res: dict = {"phase": phase, "model": model_name, "ok": False}
    status = 1
    try:
        t0 = time.perf_counter()
        import torch

        import pt2tflite
        from models import build
        from pt2tflite.converter import archive_bytes, export_program

        res["import_s"] = time.perf_counter() - t0
        res["torch_threads"] = torch.get_num_threads()
        model, args = build(model_name)
        res["peak_rss_before_convert_mb"] = _self_peak_rss_mb()
        if phase == "split":
            with _ExportTimer(torch) as et:
                t0 = time.perf_counter()
                ep = export_program(model, args)
                res["export_program_s"] = time.perf_counter() - t0
            res["export_s"] = et.seconds if et.calls else None
            res["export_calls"] = et.calls
            if et.calls:
                res["decompose_s"] = res["export_program_s"] - et.seconds
            t0 = time.perf_counter()
            data = archive_bytes(ep)
            with open(out, "wb") as f:
                f.write(data)
            res["archive_s"] = time.perf_counter() - t0
            res["pt2_bytes"] = len(data)
        elif phase == "api":
            t0 = time.perf_counter()
            m = pt2tflite.convert(model, args)
            m.export(out)
            res["convert_s"] = time.perf_counter() - t0
            res["tflite_bytes"] = os.path.getsize(out)
        else:
            raise ValueError(phase)
        res["ok"] = True
        status = 0
    except Exception as e:  # noqa: BLE001 - a failure is a result
        traceback.print_exc()
        res["error_type"] = type(e).__name__
        res["error"] = str(e)[:20000]
    res["peak_rss_mb"] = _self_peak_rss_mb()
    with open(json_path, "w") as f:
        json.dump(res, f, indent=2)
    return status


# --------------------------------------------------------------------------
# Subprocess helpers
# --------------------------------------------------------------------------


def run_measured(cmd: list[str], timeout: float, log_path: str) -> dict:
    """Run cmd; wall time, exit code and peak RSS of that child alone.

    The child is started through GNU time (/usr/bin/time), not forked from
    this process: on Linux a child's ru_maxrss starts from the high-water
    mark of the memory it was forked (or vforked) from, so a child of this
    process (torch + a model loaded) would report at least our own RSS.
    time is a tiny process, so the RSS it reports for its child is the
    child's own. Without /usr/bin/time, falls back to os.wait4 on a direct
    child and says so (rss_method).
    """
    time_bin = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
    rss_file = log_path + ".rss"
    full = [time_bin, "-f", "%M", "-o", rss_file] + cmd if time_bin else cmd
    with open(log_path, "wb") as logf:
        t0 = time.perf_counter()
        # Own session, so a timeout kills the whole group (time and its child).
        p = subprocess.Popen(full, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        timed_out = threading.Event()

        def _kill():
            timed_out.set()
            try:
                os.killpg(p.pid, 9)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, _kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(log_path, "rb") as f:
        out = f.read().decode("utf-8", "replace")
    rss_mb, method = ru.ru_maxrss / 1024.0, "wait4 (includes parent RSS at fork)"
    if time_bin:
        try:
            with open(rss_file) as f:
                # On failure GNU time writes "Command exited with non-zero status N" first.
                rss_mb, method = int(f.read().split()[-1]) / 1024.0, "/usr/bin/time %M"
        except (OSError, ValueError, IndexError):
            rss_mb, method = None, "unavailable"
        # GNU time exits with the child's status.
    return {
        "rc": p.returncode,
        "wall_s": wall,
        "peak_rss_mb": rss_mb,
        "rss_method": method,
        "timed_out": timed_out.is_set(),
        "output": out,
    }


def native_cli() -> str:
    """The pt2tflite executable itself, not a pyenv shim in front of it."""
    cand = os.path.join(sysconfig.get_path("scripts"), "pt2tflite")
    if os.access(cand, os.X_OK):
        return cand
    found = shutil.which("pt2tflite")
    if not found:
        raise RuntimeError("pt2tflite CLI not found")
    return found


def incumbent_python() -> str:
    out = subprocess.run(
        ["bash", os.path.join(BENCH_DIR, "setup_incumbent_venv.sh")],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return out.strip().splitlines()[-1]


ONNX2TF_VENV = os.environ.get("PT2TFLITE_ONNX2TF_VENV", os.path.expanduser("~/.cache/pt2tflite/onnx2tf-venv"))


def onnx2tf_venv_exists() -> bool:
    """True once bench/setup_onnx2tf_venv.sh has completed (it writes the stamp last)."""
    return os.path.exists(os.path.join(ONNX2TF_VENV, ".pt2tflite-onnx2tf-stamp"))


def onnx2tf_python() -> str | None:
    """The onnx2tf venv's python (created or refreshed by its setup script); None if it cannot install."""
    p = subprocess.run(["bash", os.path.join(BENCH_DIR, "setup_onnx2tf_venv.sh")], stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        log("onnx2tf peer skipped: bench/setup_onnx2tf_venv.sh failed (its log is above)")
        return None
    return p.stdout.strip().splitlines()[-1]


def _read_json(path: str) -> dict | None:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------
# Error summaries
# --------------------------------------------------------------------------

_PATH_RE = re.compile(r" at /\S+/(site-packages/)?")


def summarize_ours_error(text: str) -> str:
    """'unsupported: <first diagnostic>' (+ distinct unsupported ops) from a ConversionError."""
    text = text.strip()
    if text.startswith("pt2tflite: error: "):
        text = text[len("pt2tflite: error: ") :]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    diags = [ln[2:] for ln in lines if ln.startswith("- ")]
    if not diags:
        return (lines[-1] if lines else text)[:300]
    first = re.sub(r" at \S+?:(\d+)", lambda m: "", diags[0])
    first = first.replace(" (see docs/ops.md for the supported ops)", "")
    ops = collections.Counter(d.split(" ", 1)[0] for d in diags)
    distinct = ", ".join(f"{op.replace('aten.', '')}×{n}" for op, n in ops.most_common())
    head = lines[0] if lines else ""
    return f"unsupported: {first} [{head.split(': ')[-1]}: {distinct}]"


def summarize_incumbent_error(res: dict | None, output: str) -> str:
    if res and res.get("error"):
        msg = res["error"].strip().splitlines()
        return msg[0][:300] if msg else "error"
    lines = [ln for ln in output.strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else "no output")[:300]


# --------------------------------------------------------------------------
# .tflite analysis
# --------------------------------------------------------------------------


def undelegated_ops(path: str, threads: int = 1) -> dict:
    """Ops left on the builtin kernels after the default XNNPACK delegation.

    LiteRT's Python API lists every original node plus the DELEGATE nodes;
    the delegated originals are no longer in the execution plan. Walk back
    from the graph outputs, taking a tensor's producer to be the DELEGATE
    node when a delegate outputs it: the original ops reached this way are
    the ones that still run outside XNNPACK.
    """
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=path, num_threads=threads)
    interp.allocate_tensors()
    ops = interp._get_ops_details()
    by_index = {o["index"]: o for o in ops}
    producer: dict[int, int] = {}
    for o in ops:
        if o["op_name"] != "DELEGATE":
            for t in o["outputs"]:
                producer.setdefault(int(t), o["index"])
    for o in ops:
        if o["op_name"] == "DELEGATE":
            for t in o["outputs"]:
                producer[int(t)] = o["index"]
    stack = [int(d["index"]) for d in interp.get_output_details()]
    seen_t: set[int] = set()
    seen_n: set[int] = set()
    while stack:
        t = stack.pop()
        if t < 0 or t in seen_t:
            continue
        seen_t.add(t)
        n = producer.get(t)
        if n is None or n in seen_n:
            continue
        seen_n.add(n)
        stack.extend(int(x) for x in by_index[n]["inputs"])
    left = collections.Counter(by_index[n]["op_name"] for n in seen_n if by_index[n]["op_name"] != "DELEGATE")
    return {
        "delegate_nodes": sum(1 for o in ops if o["op_name"] == "DELEGATE"),
        "undelegated": dict(left.most_common()),
    }


def run_tflite(path: str, x, threads: int = 1) -> tuple[list, str]:
    """Outputs of the .tflite for the NCHW input x (transposed if the file wants NHWC)."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=path, num_threads=threads)
    interp.allocate_tensors()
    inp = interp.get_input_details()
    if len(inp) != 1:
        raise RuntimeError(f"expected 1 input, got {len(inp)}")
    shape = tuple(int(s) for s in inp[0]["shape"])
    if shape == tuple(x.shape):
        feed, layout = x, "NCHW"
    elif x.ndim == 4 and shape == (x.shape[0], x.shape[2], x.shape[3], x.shape[1]):
        feed, layout = np.ascontiguousarray(x.transpose(0, 2, 3, 1)), "NHWC"
    else:
        raise RuntimeError(f"input shape {shape} matches neither NCHW nor NHWC of {tuple(x.shape)}")
    interp.set_tensor(inp[0]["index"], feed.astype(inp[0]["dtype"]))
    interp.invoke()
    outs = [interp.get_tensor(d["index"]).copy() for d in interp.get_output_details()]
    return outs, layout


def accuracy(path: str, x, ref) -> dict:
    import numpy as np

    outs, layout = run_tflite(path, x)
    match = [o for o in outs if tuple(o.shape) == tuple(ref.shape)]
    if not match and ref.ndim == 4:
        # A converter that moved the input to NHWC (onnx2tf) also returns
        # 4-D outputs channels-last: compare them transposed back to NCHW.
        nhwc = (ref.shape[0], ref.shape[2], ref.shape[3], ref.shape[1])
        match = [o.transpose(0, 3, 1, 2) for o in outs if tuple(o.shape) == nhwc]
    if not match:
        return {"error": f"no output with shape {tuple(ref.shape)}: {[tuple(o.shape) for o in outs]}", "input_layout": layout}
    # With several same-shaped outputs, take the closest (output order is not guaranteed).
    diffs = [float(np.max(np.abs(o.astype(np.float64) - ref))) for o in match]
    d = min(diffs)
    scale = float(np.max(np.abs(ref))) or 1.0
    return {"max_abs": d, "max_rel": d / scale, "ref_max_abs": scale, "input_layout": layout, "outputs": len(outs)}


def weight_bytes(model) -> int:
    seen = set()
    total = 0
    for t in list(model.parameters()) + list(model.buffers()):
        key = (t.data_ptr(), t.nbytes)
        if key in seen:
            continue
        seen.add(key)
        total += t.nbytes
    return total


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------
# One model
# --------------------------------------------------------------------------


def bench_incumbent(name: str, a: argparse.Namespace, inc_py: str, workdir: str, inc_tfl: str, inc: dict) -> None:
    """Step 5: the incumbent converts in its own venv; fills inc."""
    ij = os.path.join(workdir, f"{name}.incumbent.json")
    if os.path.exists(ij):
        os.remove(ij)
    log(f"{name}: incumbent converting ...")
    run = run_measured(
        [inc_py, os.path.join(BENCH_DIR, "incumbent_convert.py"), "--model", name, "--out", inc_tfl, "--json", ij],
        a.incumbent_timeout,
        ij + ".log",
    )
    ires = _read_json(ij)
    inc.update(ires or {})
    inc["process_peak_rss_mb"] = run["peak_rss_mb"]
    inc["process_wall_s"] = run["wall_s"]
    if not (ires and ires.get("ok")) or not os.path.exists(inc_tfl):
        inc["ok"] = False
        inc["error"] = (
            f"timed out after {a.incumbent_timeout}s" if run["timed_out"] else summarize_incumbent_error(ires, run["output"])
        )
        inc["error_full"] = ((ires or {}).get("error") or run["output"])[-20000:]
        log(f"{name}: incumbent failed: {inc['error'][:200]}")
    else:
        log(
            f"{name}: incumbent: convert {ires['convert_s']:.2f}s (export {ires.get('export_s') or float('nan'):.2f}s), "
            f"process peak RSS {_f(run['peak_rss_mb'], '{:.0f}')} MiB"
        )


def bench_onnx2tf(name: str, a: argparse.Namespace, py: str, workdir: str, out_tfl: str, d: dict) -> None:
    """Step 5b: torch.onnx.export + onnx2tf in the onnx2tf venv; fills d."""
    jp = os.path.join(workdir, f"{name}.onnx2tf.json")
    if os.path.exists(jp):
        os.remove(jp)
    log(f"{name}: onnx2tf converting ...")
    run = run_measured([py, os.path.join(BENCH_DIR, "onnx2tf_convert.py"), "--model", name, "--out", out_tfl, "--json", jp],
                       a.onnx2tf_timeout, jp + ".log")
    res = _read_json(jp)
    d.update(res or {})
    d["process_peak_rss_mb"] = run["peak_rss_mb"]
    d["process_wall_s"] = run["wall_s"]
    if not (res and res.get("ok")) or not os.path.exists(out_tfl):
        d["ok"] = False
        if run["timed_out"]:
            d["error"] = f"timed out after {a.onnx2tf_timeout}s"
        else:
            # Every exporter tried: "<exporter> -> <stage>: <error>; ...".
            d["error"] = (res or {}).get("error") or summarize_incumbent_error(res, run["output"])
            # onnx2tf sometimes logs the cause and then exits or returns
            # instead of raising: quote its last ERROR line too.
            if "sys.exit" in d["error"] or "wrote no" in d["error"]:
                logged = [ln for ln in re.sub(r"\x1b\[[0-9;]*m", "", run["output"]).splitlines() if "ERROR:" in ln]
                if logged:
                    d["error"] += " | onnx2tf log: " + logged[-1].strip()[:300]
        d["error_full"] = ((res or {}).get("error") or "") + "\n--- log tail ---\n" + run["output"][-20000:]
        log(f"{name}: onnx2tf failed: {d['error'][:200]}")
    else:
        log(f"{name}: onnx2tf: ONNX export {res['onnx_export_s']:.2f}s ({res['onnx_exporter']}), "
            f"onnx2tf {res['onnx2tf_s']:.2f}s (fp32 path {res['onnx2tf_fp32_s']:.2f}s), "
            f"process peak RSS {_f(run['peak_rss_mb'], '{:.0f}')} MiB")


def bench_model(name: str, a: argparse.Namespace, inc_py: str | None, workdir: str, o2t_py: str | None = None) -> dict:
    import numpy as np
    import torch

    from models import build

    r: dict = {"model": name, "ours": {}, "incumbent": {}, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    ours, inc = r["ours"], r["incumbent"]
    if o2t_py:
        r["onnx2tf"] = {}
    pt2 = os.path.join(workdir, f"{name}.pt2")
    ours_tfl = os.path.join(workdir, f"{name}.ours.tflite")
    api_tfl = os.path.join(workdir, f"{name}.ours_api.tflite")
    inc_tfl = os.path.join(workdir, f"{name}.incumbent.tflite")
    o2t_tfl = os.path.join(workdir, f"{name}.onnx2tf.tflite")
    for p in (pt2, ours_tfl, api_tfl, inc_tfl, o2t_tfl):
        if os.path.exists(p):
            os.remove(p)

    # 1. reference
    try:
        model, args = build(name)
        r["weight_bytes"] = weight_bytes(model)
        r["params"] = sum(p.numel() for p in model.parameters())
        r["input_shape"] = list(args[0].shape)
        with torch.no_grad():
            ref = model(*args)
        if isinstance(ref, (tuple, list)):
            ref = ref[0]
        ref = ref.detach().double().numpy()
        x = args[0].numpy()
        # fp32 noise floor: how far eager fp32 itself is from eager fp64 on
        # this input (random-weight nets can amplify rounding a lot).
        try:
            with torch.no_grad():
                ref64 = model.double()(args[0].double())
            if isinstance(ref64, (tuple, list)):
                ref64 = ref64[0]
            r["eager_fp32_vs_fp64_max_abs"] = float(np.max(np.abs(ref - ref64.numpy())))
            del ref64
        except Exception as e:  # noqa: BLE001 - informative only
            r["eager_fp32_vs_fp64_error"] = f"{type(e).__name__}: {e}"
        del model
    except Exception as e:  # noqa: BLE001
        r["error"] = f"build/eager failed: {type(e).__name__}: {e}"
        log(f"{name}: {r['error']}")
        return r
    log(f"{name}: weights {r['weight_bytes'] / MIB:.1f} MiB, input {r['input_shape']}")

    me = [sys.executable, os.path.abspath(__file__)]

    # 2. split path: export + decompose + .pt2
    sj = os.path.join(workdir, f"{name}.split.json")
    run = run_measured(me + ["--_worker", "split", "--model", name, "--out", pt2, "--json", sj], a.timeout, sj + ".log")
    split = _read_json(sj) or {}
    ours["split"] = {k: v for k, v in split.items() if k != "error"}
    if not split.get("ok"):
        ours["error"] = "export failed: " + (split.get("error", "").strip().splitlines() or [run["output"][-300:]])[0][:300]
        log(f"{name}: ours: {ours['error']}")
    else:
        log(
            f"{name}: ours: export {split['export_s']:.2f}s + decompose {split['decompose_s']:.2f}s, "
            f".pt2 {split['archive_s']:.2f}s ({split['pt2_bytes'] / MIB:.1f} MiB)"
        )

        # 3. native CLI
        cli = native_cli()
        runs = []
        for i in range(a.cli_repeats):
            if os.path.exists(ours_tfl):
                os.remove(ours_tfl)
            c = run_measured([cli, "convert", pt2, "-o", ours_tfl], a.timeout, os.path.join(workdir, f"{name}.cli.log"))
            runs.append(c)
            if c["rc"] != 0:
                break
        last = runs[-1]
        ours["cli"] = {
            "wall_s_runs": [c["wall_s"] for c in runs],
            "peak_rss_mb_runs": [c["peak_rss_mb"] for c in runs],
            "rc": last["rc"],
            "rss_method": last["rss_method"],
        }
        if last["rc"] != 0:
            ours["error"] = summarize_ours_error(last["output"]) if not last["timed_out"] else f"CLI timed out after {a.timeout}s"
            ours["error_full"] = last["output"][-20000:]
            log(f"{name}: ours: CLI failed: {ours['error'][:200]}")
        else:
            ours["cli"]["wall_s"] = statistics.median(ours["cli"]["wall_s_runs"])
            rss = [v for v in ours["cli"]["peak_rss_mb_runs"] if v is not None]
            ours["cli"]["peak_rss_mb"] = max(rss) if rss else None
            log(f"{name}: ours: CLI {ours['cli']['wall_s']:.3f}s, peak RSS {_f(ours['cli']['peak_rss_mb'], '{:.0f}')} MiB")
    if os.path.exists(pt2) and not a.keep:
        os.remove(pt2)

    # 4. Python API end to end (run even if the CLI failed: it should fail the same way)
    aj = os.path.join(workdir, f"{name}.api.json")
    run = run_measured(me + ["--_worker", "api", "--model", name, "--out", api_tfl, "--json", aj], a.timeout, aj + ".log")
    api = _read_json(aj) or {"ok": False, "error": run["output"][-2000:]}
    ours["api"] = {k: v for k, v in api.items() if k != "error"}
    ours["api"]["process_peak_rss_mb"] = run["peak_rss_mb"]
    if api.get("ok"):
        log(f"{name}: ours: Python API end to end {api['convert_s']:.2f}s, process peak RSS {_f(run['peak_rss_mb'], '{:.0f}')} MiB")
        if os.path.exists(ours_tfl):
            ours["api_equals_cli"] = sha256(ours_tfl) == sha256(api_tfl)
    else:
        ours["api"]["error"] = (api.get("error") or "").strip()[:2000]
        if "error" not in ours:
            ours["error"] = "API failed (CLI ok): " + summarize_ours_error(api.get("error", ""))
        log(f"{name}: ours: Python API failed: {summarize_ours_error(api.get('error', ''))[:200]}")
    if not os.path.exists(ours_tfl) and os.path.exists(api_tfl):
        shutil.copy(api_tfl, ours_tfl)  # unlikely: still benchmark what the API made

    # 5. incumbent
    if inc_py:
        bench_incumbent(name, a, inc_py, workdir, inc_tfl, inc)
    else:
        inc.update(ok=False, error="not run (--peers)")

    # 5b. onnx2tf (optional second peer)
    if o2t_py:
        bench_onnx2tf(name, a, o2t_py, workdir, o2t_tfl, r["onnx2tf"])

    # 6. files: stats, accuracy, latency
    import latency as lat

    sides = {"ours": ours_tfl if os.path.exists(ours_tfl) else None, "incumbent": inc_tfl if inc["ok"] else None}
    if "onnx2tf" in r:
        sides["onnx2tf"] = o2t_tfl if r["onnx2tf"].get("ok") else None
    for side, path in sides.items():
        if not path:
            continue
        d = r[side]
        try:
            d["graph"] = lat.graph_stats(path)
            d["graph"].update(undelegated_ops(path))
        except Exception as e:  # noqa: BLE001
            d["graph_error"] = f"{type(e).__name__}: {e}"
        try:
            d["accuracy"] = accuracy(path, x, ref)
        except Exception as e:  # noqa: BLE001
            d["accuracy"] = {"error": f"{type(e).__name__}: {e}"}
        acc = d["accuracy"]
        g = d.get("graph", {})
        log(
            f"{name}: {side}: {g.get('ops')} ops, {g.get('transposes')} TRANSPOSE, "
            f"{(g.get('bytes') or 0) / MIB:.1f} MiB, outside XNNPACK {g.get('undelegated')}, "
            f"max|diff| {acc.get('max_abs', acc.get('error'))}"
        )

    r["loadavg_before_latency"] = os.getloadavg()
    threads = tuple(a.threads)
    try:
        # Every file that exists, in one interleaved loop (ours, incumbent,
        # onnx2tf, ours, ...), so all sides see the same machine state.
        present = {side: path for side, path in sides.items() if path}
        if present:
            log(f"{name}: latency of {', '.join(present)}, interleaved, threads {threads}, {a.runs} runs ...")
            r["latency"] = lat.interleaved(present, threads=threads, runs=a.runs, warmup=a.warmup)
        for n, v in (r.get("latency") or {}).items():
            for peer in ("incumbent", "onnx2tf"):
                if "ours" in v and peer in v:
                    v[f"ours_over_{peer}"] = v["ours"]["median_ms"] / v[peer]["median_ms"]
            log(f"{name}: {n} thread(s): " + ", ".join(f"{side} {v[side]['median_ms']:.2f} ms" for side in present)
                + "".join(f", ours/{peer} {v[f'ours_over_{peer}']:.3f}" for peer in ("incumbent", "onnx2tf")
                          if f"ours_over_{peer}" in v))
    except Exception as e:  # noqa: BLE001
        r["latency_error"] = f"{type(e).__name__}: {e}"
        log(f"{name}: latency failed: {r['latency_error']}")
    r["loadavg_after_latency"] = os.getloadavg()
    if not a.keep:
        for p in (ours_tfl, api_tfl, inc_tfl, o2t_tfl):
            if os.path.exists(p):
                os.remove(p)
    return r


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def _f(v, fmt="{:.2f}", na="—"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return na
    return fmt.format(v)


def _geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def _g(d, *keys):
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _ops_str(d: dict | None) -> str:
    if not d:
        return "0"
    return ", ".join(f"{k}×{v}" for k, v in d.items())


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _undelegated(r: dict, side: str) -> str:
    return _ops_str(_g(r, side, "graph", "undelegated")) if _g(r, side, "graph") else "—"


def _latency_table(meta: dict, rows: list[dict], peer: str, label: str, extra: list) -> list[str]:
    """The latency table of ours vs `peer` (JSON key; `label` in headers): per thread count ours,
    peer and ratio, XNNPACK partitions, then the `extra` (header, row -> cell) columns, and a
    geometric-mean row."""
    hdr = ["model"]
    for n in meta["threads"]:
        hdr += [f"ours {n}T", f"{label} {n}T", f"ratio {n}T"]
    hdr += [f"XNNPACK partitions ours/{label}"] + [h for h, _ in extra]
    L = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    for r in rows:
        row = [r["model"]]
        for n in meta["threads"]:
            lt = _g(r, "latency", str(n)) or {}
            row += [_f(_g(lt, "ours", "median_ms")), _f(_g(lt, peer, "median_ms")), _f(lt.get(f"ours_over_{peer}"), "{:.3f}")]
        parts = _g(r, "latency", "1", "xnnpack_partitions") or {}
        row.append(f"{_f(parts.get('ours'), '{}')}/{_f(parts.get(peer), '{}')}")
        row += [cell(r) for _, cell in extra]
        L.append("| " + " | ".join(_cell(c) for c in row) + " |")
    gm_row = ["**geomean**"]
    for n in meta["threads"]:
        gm_row += ["", "", f"**{_f(_geomean([_g(r, 'latency', str(n), f'ours_over_{peer}') for r in rows]), '{:.3f}')}**"]
    gm_row += [""] * (1 + len(extra))
    L += ["| " + " | ".join(gm_row) + " |", ""]
    return L


def render(meta: dict, results: list[dict]) -> str:
    L: list[str] = []
    L.append(f"# pt2tflite vs {meta.get('incumbent_name', 'incumbent')} — {meta['date']}")
    L.append("")
    L.append(f"- command: `{meta['command']}`")
    L.append(f"- machine: {meta['cpu']} — {meta['cpus']} CPU(s) ({meta['cores_desc']}), {meta['mem']}")
    L.append(f"- load: `uptime` at start: `{meta['uptime_start']}`; at end: `{meta.get('uptime_end', '(run not finished)')}`")
    L.append("  (2-core machine shared with other engineers; per-model load averages are in the .json)")
    L.append(f"- pt2tflite: git {meta['git_commit']}{' (working tree dirty outside bench/)' if meta.get('git_dirty') else ''}; "
             f"installed package {meta['pt2tflite_version']} (non-editable install from {meta['pt2tflite_install_url']} "
             f"at git {meta.get('pt2tflite_install_commit', '?')}, "
             f"built {meta['pt2tflite_install_time']}); CLI `{meta['cli']}`")
    if meta.get("reinstalled_during_run"):
        L.append(f"- **WARNING: the installed pt2tflite was rebuilt during the run** (noticed after: "
                 f"{', '.join(meta['reinstalled_during_run'])}); those rows may mix builds")
    L.append(f"- ours: python {meta['python']}, torch {meta['torch']}, torchvision {meta['torchvision']}, timm {meta['timm']}, "
             f"ai-edge-litert {meta['ai_edge_litert']}")
    L.append(f"- incumbent venv: {meta.get('incumbent_versions', '?')}")
    if meta.get("onnx2tf_versions"):
        L.append(f"- onnx2tf venv: {meta['onnx2tf_versions']}")
    L.append(f"- latency: ai-edge-litert Interpreter, default XNNPACK delegate, interleaved ours/incumbent"
             f"{'/onnx2tf' if meta.get('onnx2tf_versions') else ''}, "
             f"{meta['warmup']} warm-up + median of {meta['runs']} invokes, threads {meta['threads']}")
    L.append(f"- RSS target: peak RSS of `pt2tflite convert` ≤ {RSS_TARGET_FACTOR} × weight bytes + {RSS_TARGET_EXTRA_MB:.0f} MiB "
             f"(MiB = 2^20 bytes throughout)")
    L.append("")

    ok_lat = [r for r in results if _g(r, "latency", "1", "ours_over_incumbent")]
    L.append("## Summary")
    L.append("")
    L.append(f"- models: {len(results)}; converted by ours: {sum(1 for r in results if not r['ours'].get('error'))}; "
             f"by the incumbent: {sum(1 for r in results if r['incumbent'].get('ok'))}; both (latency ratio): {len(ok_lat)}")
    for n in meta["threads"]:
        gm = _geomean([_g(r, "latency", str(n), "ours_over_incumbent") for r in results])
        L.append(f"- latency ours/incumbent, geometric mean, {n} thread(s): **{_f(gm, '{:.3f}')}** (< 1 = ours faster)")
    sp = [_g(r, "speedup") for r in results]
    L.append(f"- conversion speedup (incumbent convert−export / our `.pt2→.tflite` CLI), geometric mean: **{_f(_geomean(sp), '{:.1f}')}×**")
    sp2 = [_g(r, "speedup_incl_decompose") for r in results]
    L.append(f"- same, counting our run_decompositions + .pt2 save in our time: {_f(_geomean(sp2), '{:.1f}')}×; "
             f"end to end (incumbent convert_s / our Python API convert): {_f(_geomean([_g(r, 'speedup_e2e') for r in results]), '{:.1f}')}×")
    miss = [r for r in results if r.get("rss_target_met") is False]
    L.append(f"- RSS target met: {sum(1 for r in results if r.get('rss_target_met'))}/"
             f"{sum(1 for r in results if r.get('rss_target_met') is not None)}"
             + ("; missed by: " + ", ".join(f"{r['model']} +{r['rss_over_target_mb']:.0f} MiB" for r in miss) if miss else ""))
    L.append("")

    L.append("## Latency (ms, median; ratio = ours / incumbent)")
    L.append("")
    def load(r):
        la, lb = r.get("loadavg_before_latency"), r.get("loadavg_after_latency")
        return f"{la[0]:.1f}→{lb[0]:.1f}" if la and lb else "—"

    L += _latency_table(meta, results, "incumbent", "inc", [
        ("ops outside XNNPACK (ours)", lambda r: _undelegated(r, "ours")),
        ("ops outside XNNPACK (inc)", lambda r: _undelegated(r, "incumbent")),
        ("load avg (1 min)", load),
    ])

    L.append("## Graph and accuracy (ours / incumbent)")
    L.append("")
    L.append("| model | ops | TRANSPOSE | size MiB | max \\|diff\\| vs eager | max \\|diff\\| / max \\|ref\\| | "
             "fp32 noise floor | input |")
    L.append("|---|---|---|---|---|---|---|---|")
    for r in results:
        o, i = r["ours"], r["incumbent"]

        def pair(key, fmt="{}"):
            return f"{_f(_g(o, 'graph', key), fmt)} / {_f(_g(i, 'graph', key), fmt)}"

        size = f"{_f((_g(o, 'graph', 'bytes') or 0) / MIB if _g(o, 'graph') else None)} / {_f((_g(i, 'graph', 'bytes') or 0) / MIB if _g(i, 'graph') else None)}"

        def acc(d, key, fmt):
            a = d.get("accuracy") or {}
            return _f(a.get(key), fmt) if "error" not in a else "error"

        L.append("| " + " | ".join(_cell(c) for c in [
            r["model"], pair("ops"), pair("transposes"), size,
            f"{acc(o, 'max_abs', '{:.2e}')} / {acc(i, 'max_abs', '{:.2e}')}",
            f"{acc(o, 'max_rel', '{:.1e}')} / {acc(i, 'max_rel', '{:.1e}')}",
            _f(r.get("eager_fp32_vs_fp64_max_abs"), "{:.2e}"),
            f"{_g(o, 'accuracy', 'input_layout') or '—'} / {_g(i, 'accuracy', 'input_layout') or '—'}",
        ]) + " |")
    L.append("")

    L.append("## Conversion time (s, wall) and memory")
    L.append("")
    L.append("| model | weights MiB | ours: export | decompose | .pt2 save | **CLI .pt2→.tflite** | API end to end | "
             "inc: convert | export | **convert−export** | **speedup** | speedup incl. decompose+save | "
             "**CLI peak RSS MiB** | RSS target MiB | met | ours API process RSS | inc process RSS |")
    L.append("|---|" + "---|" * 16)
    for r in results:
        o, i = r["ours"], r["incumbent"]
        met = r.get("rss_target_met")
        L.append("| " + " | ".join(_cell(c) for c in [
            r["model"], _f((r.get("weight_bytes") or 0) / MIB if r.get("weight_bytes") else None, "{:.1f}"),
            _f(_g(o, "split", "export_s")), _f(_g(o, "split", "decompose_s")), _f(_g(o, "split", "archive_s")),
            _f(_g(o, "cli", "wall_s"), "{:.3f}"), _f(_g(o, "api", "convert_s")),
            _f(i.get("convert_s")), _f(i.get("export_s")), _f(i.get("convert_minus_export_s")),
            _f(r.get("speedup"), "{:.1f}×"), _f(r.get("speedup_incl_decompose"), "{:.1f}×"),
            _f(_g(o, "cli", "peak_rss_mb"), "{:.0f}"), _f(r.get("rss_target_mb"), "{:.0f}"),
            "—" if met is None else ("yes" if met else f"**no (+{r['rss_over_target_mb']:.0f})**"),
            _f(_g(o, "api", "process_peak_rss_mb"), "{:.0f}"), _f(i.get("process_peak_rss_mb"), "{:.0f}"),
        ]) + " |")
    L.append("")

    L.append("## Op histograms (ours / incumbent)")
    L.append("")
    L.append("| model | ours | incumbent |")
    L.append("|---|---|---|")
    for r in results:
        L.append("| " + " | ".join(_cell(c) for c in [
            r["model"],
            _ops_str(_g(r, "ours", "graph", "op_histogram")) if _g(r, "ours", "graph") else "—",
            _ops_str(_g(r, "incumbent", "graph", "op_histogram")) if _g(r, "incumbent", "graph") else "—",
        ]) + " |")
    L.append("")

    errs = [r for r in results if r["ours"].get("error") or not r["incumbent"].get("ok") or r.get("error")]
    if errs:
        L.append("## Failures")
        L.append("")
        L.append("| model | ours | incumbent |")
        L.append("|---|---|---|")
        for r in errs:
            L.append("| " + " | ".join(_cell(c) for c in [
                r["model"], r.get("error") or r["ours"].get("error") or "ok",
                "ok" if r["incumbent"].get("ok") else r["incumbent"].get("error", "?"),
            ]) + " |")
        L.append("")

    if any("onnx2tf" in r for r in results):
        L.extend(render_onnx2tf(meta, results))

    notes = []
    for r in results:
        o = r["ours"]
        if o.get("api_equals_cli") is False:
            notes.append(f"{r['model']}: Python API and CLI produced different .tflite bytes")
        t = _g(o, "graph", "transposes")
        ti = _g(r, "incumbent", "graph", "transposes")
        if t and (ti is None or t > ti):
            notes.append(f"{r['model']}: ours has {t} TRANSPOSE (incumbent {_f(ti, '{}')})")
        und = _g(o, "graph", "undelegated")
        if und:
            notes.append(f"{r['model']}: ops outside XNNPACK in ours: {_ops_str(und)}")
        a = o.get("accuracy") or {}
        ai = _g(r, "incumbent", "accuracy") or {}
        floor = r.get("eager_fp32_vs_fp64_max_abs") or 0.0
        if a.get("max_abs") is not None and a["max_abs"] > 2 * floor and (
            a["max_rel"] > 1e-3 or (ai.get("max_abs") and a["max_abs"] > 10 * ai["max_abs"])
        ):
            notes.append(f"{r['model']}: ours max|diff| {a['max_abs']:.2e} (rel {a['max_rel']:.1e}) vs incumbent "
                         f"{_f(ai.get('max_abs'), '{:.2e}')} (rel {_f(ai.get('max_rel'), '{:.1e}')})")
        po, pi = _g(r, "latency", "1", "xnnpack_partitions", "ours"), _g(r, "latency", "1", "xnnpack_partitions", "incumbent")
        if po and pi and po > pi:
            notes.append(f"{r['model']}: ours splits into {po} XNNPACK partitions (incumbent {pi})")
        no, ni = _g(o, "graph", "ops"), _g(r, "incumbent", "graph", "ops")
        if no and ni and no > 1.05 * ni + 1:
            notes.append(f"{r['model']}: ours has {no} ops (incumbent {ni})")
        lr = [_g(r, "latency", str(n), "ours_over_incumbent") for n in meta["threads"]]
        if any(x and x > 1.05 for x in lr):
            notes.append(f"{r['model']}: ours slower than the incumbent (ratios {', '.join(_f(x, '{:.3f}') for x in lr)})")
    if notes:
        L.append("## Flags (generated)")
        L.append("")
        L.extend(f"- {n}" for n in notes)
        L.append("")
    return "\n".join(L)


def render_onnx2tf(meta: dict, results: list[dict]) -> list[str]:
    """The onnx2tf peer's section: same measurements as the incumbent's, ratios ours / onnx2tf."""
    rows = [r for r in results if "onnx2tf" in r]
    L = ["## Second peer: torch.onnx.export → onnx2tf", ""]
    L.append("onnx2tf turns the NCHW input into an NHWC input (its default): the bench feeds it the same input "
             "transposed to NHWC, and compares 4-D outputs after transposing them back to NCHW (the zoo's "
             "outputs are logits, so only the input is affected). Its conversion always also writes a "
             "saved_model and a float16 .tflite; `fp16+SM` is the time spent in those, and `e2e fp32` = "
             "ONNX export + onnx2tf − fp16+SM, compared with our Python API end to end (same starting point: "
             "a built nn.Module, fresh process).")
    L.append("")
    ok = [r for r in rows if r["onnx2tf"].get("ok")]
    L.append(f"- converted by onnx2tf: {len(ok)}/{len(rows)}; both ours and onnx2tf (latency ratio): "
             f"{sum(1 for r in rows if _g(r, 'latency', '1', 'ours_over_onnx2tf'))}")
    for n in meta["threads"]:
        gm = _geomean([_g(r, "latency", str(n), "ours_over_onnx2tf") for r in rows])
        L.append(f"- latency ours/onnx2tf, geometric mean, {n} thread(s): **{_f(gm, '{:.3f}')}** (< 1 = ours faster)")
    L.append(f"- conversion speedup (onnx2tf e2e fp32 / our Python API end to end), geometric mean: "
             f"**{_f(_geomean([r.get('onnx2tf_speedup_e2e') for r in rows]), '{:.1f}')}×**")
    L.append("")

    L += _latency_table(meta, rows, "onnx2tf", "onnx2tf",
                        [("ops outside XNNPACK (onnx2tf)", lambda r: _undelegated(r, "onnx2tf"))])

    L.append("| model | ops ours / onnx2tf | TRANSPOSE | size MiB | onnx2tf max \\|diff\\| vs eager | / max \\|ref\\| | "
             "input | ONNX exporter | ONNX export s | onnx2tf s | fp16+SM s | **e2e fp32 s** | ours API s | **speedup** | "
             "onnx2tf process RSS MiB |")
    L.append("|---|" + "---|" * 15)
    for r in rows:
        o, t = r["ours"], r["onnx2tf"]
        acc = t.get("accuracy") or {}

        def pair(key, fmt="{}"):
            return f"{_f(_g(o, 'graph', key), fmt)} / {_f(_g(t, 'graph', key), fmt)}"

        def mib(d):
            return _f(_g(d, "graph", "bytes") / MIB if _g(d, "graph", "bytes") else None)

        extra = (t.get("tflite_fp16_s") or 0) + (t.get("saved_model_s") or 0)
        L.append("| " + " | ".join(_cell(c) for c in [
            r["model"], pair("ops"), pair("transposes"), f"{mib(o)} / {mib(t)}",
            "error" if "error" in acc else _f(acc.get("max_abs"), "{:.2e}"),
            "error" if "error" in acc else _f(acc.get("max_rel"), "{:.1e}"),
            acc.get("input_layout") or "—",
            (t.get("onnx_exporter") or "—").split(" (")[0] + (" (+ -osd retry)" if t.get("onnx2tf_retry") else ""),
            _f(t.get("onnx_export_s")), _f(t.get("onnx2tf_s")), _f(extra if t.get("onnx2tf_s") else None),
            _f(r.get("onnx2tf_e2e_fp32_s")), _f(_g(o, "api", "convert_s")), _f(r.get("onnx2tf_speedup_e2e"), "{:.1f}×"),
            _f(t.get("process_peak_rss_mb"), "{:.0f}"),
        ]) + " |")
    L.append("")

    L.append("| model | onnx2tf op histogram |")
    L.append("|---|---|")
    for r in rows:
        g = _g(r, "onnx2tf", "graph")
        L.append(f"| {r['model']} | {_cell(_ops_str(g.get('op_histogram')) if g else '—')} |")
    L.append("")

    fails = [r for r in rows if not r["onnx2tf"].get("ok")]
    if fails:
        L.append("onnx2tf failures:")
        L.append("")
        L.extend(f"- {r['model']}: {_cell(r['onnx2tf'].get('error', '?'))}" for r in fails)
        L.append("")
    return L


def derive(r: dict) -> None:
    """Ratios and targets computed from the raw numbers (idempotent)."""
    o, i = r.get("ours", {}), r.get("incumbent", {})
    cli = _g(o, "cli", "wall_s")
    cme = i.get("convert_minus_export_s")
    r["speedup"] = cme / cli if cli and cme else None
    extra = (_g(o, "split", "decompose_s") or 0) + (_g(o, "split", "archive_s") or 0)
    r["speedup_incl_decompose"] = cme / (cli + extra) if cli and cme else None
    api = _g(o, "api", "convert_s")
    r["speedup_e2e"] = i.get("convert_s") / api if api and i.get("convert_s") else None
    t = r.get("onnx2tf") or {}
    if t.get("ok"):
        r["onnx2tf_e2e_fp32_s"] = t["onnx_export_s"] + t["onnx2tf_fp32_s"]
        r["onnx2tf_speedup_e2e"] = r["onnx2tf_e2e_fp32_s"] / api if api else None
    else:
        r["onnx2tf_e2e_fp32_s"] = r["onnx2tf_speedup_e2e"] = None
    rss = _g(o, "cli", "peak_rss_mb")
    if rss is not None and r.get("weight_bytes"):
        r["rss_target_mb"] = RSS_TARGET_FACTOR * r["weight_bytes"] / MIB + RSS_TARGET_EXTRA_MB
        r["rss_target_met"] = rss <= r["rss_target_mb"]
        r["rss_over_target_mb"] = rss - r["rss_target_mb"]
    else:
        r["rss_target_mb"] = r["rss_target_met"] = r["rss_over_target_mb"] = None


def chart(meta: dict, results: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["model"] for r in results] + ["geomean"]
    fig, ax = plt.subplots(figsize=(max(7, 0.75 * len(names) + 2), 5))
    width = 0.8 / max(1, len(meta["threads"]))
    for k, n in enumerate(meta["threads"]):
        vals = [_g(r, "latency", str(n), "ours_over_incumbent") for r in results]
        vals.append(_geomean(vals))
        xs = [j + (k - (len(meta["threads"]) - 1) / 2) * width for j in range(len(names))]
        ax.bar([x for x, v in zip(xs, vals) if v], [v for v in vals if v], width, label=f"{n} thread(s)", color=f"C{k}")
        for x, v in zip(xs, vals):
            if v:
                ax.text(x, v, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    ax.set_xlim(-0.6, len(names) - 0.4)
    allv = [v for n in meta["threads"] for v in (_g(r, "latency", str(n), "ours_over_incumbent") for r in results) if v]
    if allv:
        # Ratios sit near 1: start the axis just below the smallest so differences show (said in the label).
        lo = max(0.0, min(0.9, min(allv) - 0.05))
        ax.set_ylim(lo, max(1.1, max(allv) + 0.05))
        if lo > 0:
            ax.set_xlabel(f"(y axis starts at {lo:.2f})", fontsize=8)
    ybase = ax.get_ylim()[0]
    for j, r in enumerate(results):
        if not _g(r, "latency", "1", "ours_over_incumbent"):
            why = "ours failed" if r["ours"].get("error") or r.get("error") else "incumbent failed"
            ax.text(j, ybase + 0.01, why, ha="center", va="bottom", fontsize=7, rotation=90, color="gray")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("median latency ours / incumbent\n(< 1: ours faster)")
    ax.set_title(f"pt2tflite vs incumbent, XNNPACK latency ratio — {meta['date']}")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _sh(cmd: str) -> str:
    try:
        return subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO_DIR).stdout.strip()
    except Exception:  # noqa: BLE001
        return "?"


def pt2tflite_build_time() -> str:
    """mtime of the installed native core and CLI: changes when someone reinstalls mid-run."""
    import pt2tflite

    d = os.path.dirname(pt2tflite.__file__)
    paths = [os.path.join(d, f) for f in os.listdir(d) if f.startswith("_core")] + [native_cli()]
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(max(os.path.getmtime(p) for p in paths)))


def collect_meta(a: argparse.Namespace, inc_py: str | None, o2t_py: str | None = None) -> dict:
    def ver(p):
        try:
            return importlib.metadata.version(p)
        except Exception:  # noqa: BLE001
            return "?"

    import torch

    lscpu = {}
    for line in _sh("LC_ALL=C lscpu").splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            lscpu[k.strip()] = v.strip()
    import pt2tflite

    core_files = [os.path.join(os.path.dirname(pt2tflite.__file__), f) for f in os.listdir(os.path.dirname(pt2tflite.__file__)) if f.startswith("_core")]
    install_url = "?"
    try:
        install_url = json.loads(importlib.metadata.distribution("pt2tflite").read_text("direct_url.json") or "{}").get("url", "?")
    except Exception:  # noqa: BLE001
        pass
    install_commit = "?"
    if install_url.startswith("file://"):
        src = install_url[len("file://") :]
        out = subprocess.run(["git", "-C", src, "rev-parse", "--short=12", "HEAD"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        if out.returncode == 0:
            install_commit = out.stdout.strip()
            dirty = subprocess.run(["git", "-C", src, "status", "--porcelain", "--untracked-files=no"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
            install_commit += " (dirty)" if dirty else ""
    meta = {
        "pt2tflite_install_commit": install_commit,
        "date": a.date,
        "command": "python3 bench/run.py" + ("" if len(sys.argv) == 1 else " " + " ".join(sys.argv[1:])),
        "cpu": lscpu.get("Model name", platform.processor() or "?"),
        "cpus": os.cpu_count(),
        "cores_desc": f"{lscpu.get('Socket(s)', '?')} socket(s) × {lscpu.get('Core(s) per socket', '?')} core(s) × "
                      f"{lscpu.get('Thread(s) per core', '?')} thread(s)",
        "mem": _sh("free -g | awk '/Mem:/ {print $2\" GiB RAM\"}'"),
        "uptime_start": _sh("uptime"),
        "git_commit": _sh("git rev-parse --short=12 HEAD"),
        "git_dirty": bool(_sh("git status --porcelain --untracked-files=no -- . ':!bench'")),
        "pt2tflite_version": ver("pt2tflite"),
        "pt2tflite_install_url": install_url,
        "pt2tflite_install_time": pt2tflite_build_time() if core_files else "?",
        "cli": native_cli(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": ver("torchvision"),
        "timm": ver("timm"),
        "ai_edge_litert": ver("ai-edge-litert"),
        "runs": a.runs,
        "warmup": a.warmup,
        "threads": list(a.threads),
    }
    if inc_py:
        out = subprocess.run(
            [inc_py, "-c", "import importlib.metadata as m\nfor p in ['litert-torch','ai-edge-litert','litert-converter','torch','torchvision','timm']:\n"
             "    try: print(p + ' ' + m.version(p))\n    except Exception: pass"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        ).stdout.split("\n")
        meta["incumbent_versions"] = ", ".join(x for x in out if x)
        meta["incumbent_name"] = "litert-torch" if "litert-torch" in meta["incumbent_versions"] else "ai-edge-torch"
    if o2t_py:
        out = subprocess.run(
            [o2t_py, "-c", "import importlib.metadata as m\nfor p in ['onnx2tf','onnx','onnxscript','onnxsim','onnxruntime',"
             "'tensorflow','tf-keras','ai-edge-litert','torch','torchvision','timm']:\n"
             "    try: print(p + ' ' + m.version(p))\n    except Exception: pass"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        ).stdout.split("\n")
        meta["onnx2tf_versions"] = ", ".join(x for x in out if x)
    return meta


def write_outputs(meta: dict, results: list[dict], out_dir: str) -> tuple[str, str, str]:
    for r in results:
        derive(r)
    base = os.path.join(out_dir, meta["date"])
    with open(base + ".json", "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1, default=str)
        f.write("\n")
    with open(base + ".md", "w") as f:
        f.write(render(meta, results) + "\n")
    try:
        chart(meta, results, base + ".png")
    except Exception as e:  # noqa: BLE001
        log(f"chart failed: {type(e).__name__}: {e}")
    return base + ".md", base + ".png", base + ".json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", help="comma-separated keys of bench/models.py (default: all)")
    ap.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    ap.add_argument("--runs", type=int, default=50, help="timed invokes per model and thread count (>= 50)")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--cli-repeats", type=int, default=3, help="CLI conversions per model (median wall time)")
    ap.add_argument("--timeout", type=float, default=1200, help="seconds per ours subprocess")
    ap.add_argument("--incumbent-timeout", type=float, default=3600)
    ap.add_argument("--peers", default=None,
                    help="comma-separated peer converters: incumbent, onnx2tf (default: incumbent, plus onnx2tf "
                         "when its venv exists; naming onnx2tf creates the venv with bench/setup_onnx2tf_venv.sh)")
    ap.add_argument("--onnx2tf-timeout", type=float, default=1800, help="seconds per onnx2tf conversion")
    ap.add_argument("--out-dir", default=os.path.join(BENCH_DIR, "results"))
    ap.add_argument("--workdir", default=None, help="scratch dir for .pt2/.tflite (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep .pt2/.tflite files in the workdir")
    ap.add_argument("--date", default=datetime.date.today().isoformat(), help="results file name (default today)")
    ap.add_argument("--report-only", action="store_true", help="re-render .md/.png from the date's .json")
    # internal
    ap.add_argument("--_worker", choices=["split", "api"], help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--json", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a._worker:
        return _worker(a._worker, a.model, a.out, a.json)

    os.makedirs(a.out_dir, exist_ok=True)
    if a.report_only:
        data = _read_json(os.path.join(a.out_dir, a.date + ".json"))
        if not data:
            ap.error(f"no {a.date}.json in {a.out_dir}")
        paths = write_outputs(data["meta"], data["results"], a.out_dir)
        log("wrote " + ", ".join(paths))
        return 0

    from models import NAMES

    if a.quick:
        names = QUICK
    elif a.models:
        names = [n.strip() for n in a.models.split(",") if n.strip()]
    else:
        names = list(NAMES)
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        ap.error(f"unknown models {unknown}; known: {', '.join(NAMES)}")
    if a.runs < 50:
        log(f"warning: --runs {a.runs} < 50")
    if a.peers is None:
        peers = ["incumbent"] + (["onnx2tf"] if onnx2tf_venv_exists() else [])
    else:
        peers = [p.strip() for p in a.peers.split(",") if p.strip()]
    if set(peers) - {"incumbent", "onnx2tf"}:
        ap.error(f"unknown peers {sorted(set(peers) - {'incumbent', 'onnx2tf'})}; known: incumbent, onnx2tf")

    import tempfile

    workdir = a.workdir or tempfile.mkdtemp(prefix="pt2tflite-bench-")
    os.makedirs(workdir, exist_ok=True)
    log(f"models: {', '.join(names)}; scratch: {workdir}")
    inc_py = incumbent_python() if "incumbent" in peers else None
    o2t_py = onnx2tf_python() if "onnx2tf" in peers else None
    log(f"peers: {', '.join(p for p, py in (('incumbent', inc_py), ('onnx2tf', o2t_py)) if py) or 'none'}")
    meta = collect_meta(a, inc_py, o2t_py)
    log(f"load at start: {meta['uptime_start']}")
    t_start = time.perf_counter()
    results: list[dict] = []
    for k, name in enumerate(names, 1):
        log(f"=== [{k}/{len(names)}] {name} ===")
        t0 = time.perf_counter()
        try:
            r = bench_model(name, a, inc_py, workdir, o2t_py)
        except Exception as e:  # noqa: BLE001 - contain any failure to its model
            traceback.print_exc()
            r = {"model": name, "ours": {}, "incumbent": {}, "error": f"bench crashed: {type(e).__name__}: {e}"}
        r["bench_s"] = time.perf_counter() - t0
        r["pt2tflite_build"] = pt2tflite_build_time()
        if r["pt2tflite_build"] != meta["pt2tflite_install_time"]:
            meta.setdefault("reinstalled_during_run", []).append(name)
            log(f"WARNING: pt2tflite was reinstalled during the run (now built {r['pt2tflite_build']})")
        results.append(r)
        meta["elapsed_s"] = time.perf_counter() - t_start
        write_outputs(meta, results, a.out_dir)
        log(f"{name}: done in {r['bench_s']:.0f}s")
    meta["uptime_end"] = _sh("uptime")
    meta["elapsed_s"] = time.perf_counter() - t_start
    paths = write_outputs(meta, results, a.out_dir)
    log(f"load at end: {meta['uptime_end']}")
    log("wrote " + ", ".join(paths))
    if not a.workdir and not a.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
