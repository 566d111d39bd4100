"""Public sweeps: convert every architecture family of timm, Hugging Face transformers and Ultralytics
YOLO (tools/sweep_models.py lists them), compare with PyTorch, write docs/coverage.md.

    python tools/sweep.py timm            # one model per timm architecture module (long)
    python tools/sweep.py hf              # Hugging Face architectures from small configs
    python tools/sweep.py yolo            # Ultralytics YOLO from the package's yaml configs
    python tools/sweep.py hf --models hf:llama,hf:gpt2   # rerun some rows, keep the others
    python tools/sweep.py --render        # docs/coverage.md from the stored rows only

The timm list (smallest model per module, counted on the meta device) is picked once and kept in
docs/coverage/timm.json; `--reselect` picks it again (after a timm upgrade).

Each model runs in its own subprocess (under `nice`, with a timeout), so a hang or a crash costs
one row, not the sweep. Rows are stored in docs/coverage/<family>.json; docs/coverage.md is
rendered from every stored family.

A row passes when, on 2 random inputs, every output is within 1e-4 x max |ref| of PyTorch fp32,
or, where the model is ill-conditioned, within 3x PyTorch fp32's own distance from float64 (both
measured against the float64 result); the builtin kernels (XNNPACK off) must give the same answer
on the first input; and for class scores the argmax agrees wherever the reference's top-2 margin
exceeds the measured error. Statuses: pass, mismatch (a converted model that answers wrong: a
bug), refused (ConversionError, with its first diagnostic), error (any other exception), timeout.
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sweep_models  # noqa: E402
import zoo  # noqa: E402

TOLERANCE = zoo.TOLERANCE
NOISE_FACTOR = 3.0
DATA = os.path.join(HERE, "..", "docs", "coverage")
DOC = os.path.join(HERE, "..", "docs", "coverage.md")
# The fast CI tier's sweep models (tests/python/test_zoo_fast.py): one per family, small and quick.
FAST = ["timm:vision_transformer_relpos/test_vit_relpos", "hf:gpt2", "yolo:yolov8n-cls"]
TITLES = {"timm": "timm (one model per architecture module)", "hf": "Hugging Face transformers (small configs)",
          "yolo": "Ultralytics YOLO (yaml configs, no weights)"}


def make_inputs(specs, seed: int) -> tuple:
    return tuple(zoo.make_input(s, seed * 10 + i) for i, s in enumerate(specs))


def run_builtin(tflite_bytes: bytes, inputs) -> list[np.ndarray]:
    """Runs the model with LiteRT's builtin kernels only (no XNNPACK): the specification."""
    import pt2tflite

    got = pt2tflite.Model(tflite_bytes, num_threads=1, xnnpack=False)(*inputs)
    return [got] if isinstance(got, np.ndarray) else list(got)


def reference(model, inputs, double: bool = False) -> list[np.ndarray]:
    import torch

    if double:
        model = copy.deepcopy(model).double()
        inputs = tuple(x.double() if x.is_floating_point() else x for x in inputs)
    with torch.no_grad():
        return [t.detach().numpy() for t in sweep_models.flatten(model(*inputs))]


def judge(got: list[np.ndarray], ref32: list[np.ndarray], ref64_fn, classifier: bool) -> tuple[float, float, str]:
    """(max |diff| / max |ref| over the outputs, max |ref|, why it fails or "")."""
    if len(got) != len(ref32):
        return float("inf"), 0.0, f"{len(got)} outputs, PyTorch has {len(ref32)}"
    worst, max_ref, why, ref64 = 0.0, 0.0, "", None
    for i, (g, r) in enumerate(zip(got, ref32)):
        if g.shape != r.shape:
            return float("inf"), 0.0, f"output {i} has shape {g.shape}, PyTorch {r.shape}"
        if r.dtype == np.bool_ or np.issubdtype(r.dtype, np.integer):
            if not np.array_equal(g, r):
                why = why or f"integer output {i} differs"
            continue
        scale = max(float(np.abs(r).max()) if r.size else 0.0, 1e-12)
        diff = float(np.abs(g.astype(np.float64) - r).max()) if r.size else 0.0
        rel = diff / scale
        worst, max_ref = max(worst, rel), max(max_ref, scale)
        if rel > TOLERANCE:
            ref64 = ref64 if ref64 is not None else ref64_fn()
            noise = float(np.abs(r - ref64[i]).max())
            err64 = float(np.abs(g - ref64[i]).max())
            if err64 > NOISE_FACTOR * noise:
                why = why or (f"output {i}: max |diff| {rel:.2e} x max |ref|; vs float64 {err64 / scale:.2e}, "
                              f"PyTorch fp32's own {noise / scale:.2e}")
        if classifier and i == 0 and r.ndim >= 1 and r.shape[-1] > 1:
            rr, gg = r.reshape(-1, r.shape[-1]), g.reshape(-1, r.shape[-1])
            top2 = np.sort(rr, axis=-1)[:, -2:]
            decided = (top2[:, 1] - top2[:, 0]) > 2 * diff
            if (rr.argmax(-1) != gg.argmax(-1))[decided].any():
                why = why or "argmax differs"
    return worst, max_ref, why


def compare(key: str) -> dict:
    import pt2tflite

    row = {"model": key, "status": "error", "max_err": None, "max_ref": None, "ops": None, "convert_s": None,
           "why": ""}
    try:
        model, specs, classifier = sweep_models.build(key)
        x0 = make_inputs(specs, 100)
        inputs = [make_inputs(specs, seed) for seed in range(2)]
        refs = [reference(model, x) for x in inputs]  # before export, which may leave state on the model
        t = time.perf_counter()
        tfl = pt2tflite.convert(copy.deepcopy(model), x0)
        row["convert_s"] = round(time.perf_counter() - t, 2)
        row["ops"] = sum(tfl.op_histogram().values())
        worst, max_ref, why = 0.0, 0.0, ""
        for seed, (x, ref) in enumerate(zip(inputs, refs)):
            got = tfl(*x)
            got = [got] if isinstance(got, np.ndarray) else list(got)
            w, m, y = judge(got, ref, lambda: reference(model, x, double=True), classifier)
            if seed == 0 and not y:
                w2, _, y2 = judge(run_builtin(tfl.tflite_bytes, x), ref, lambda: reference(model, x, double=True),
                                  classifier)
                w, y = max(w, w2), (f"builtin kernels: {y2}" if y2 else "")
            worst, max_ref, why = max(worst, w), max(max_ref, m), why or y
        row.update(max_err=worst, max_ref=max_ref, status="mismatch" if why else "pass", why=why)
    except pt2tflite.ConversionError as e:
        d = e.diagnostics
        first = f"{d[0].op}: {d[0].message}" if d else str(e).splitlines()[0]
        ops = sorted({x.op for x in d})
        row.update(status="refused", why=first + (f" (+{len(d) - 1} more: {', '.join(ops)})" if len(d) > 1 else ""),
                   refused_ops=ops)
    except Exception as e:  # every model gets a row; the traceback goes to the log
        traceback.print_exc()
        row["why"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
    return row


def run_in_subprocess(key: str, timeout: float) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    # Niceness 10 in all: a sweep started under `nice` already has it (nice adds up).
    cmd = ["nice", "-n", str(max(0, 10 - os.nice(0))), sys.executable, os.path.abspath(__file__), "--one", key,
           "--json", out]
    t = time.perf_counter()
    try:
        r = subprocess.run(cmd, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        with open(out) as f:
            text = f.read()
        if text:
            return json.loads(text)
        tail = (r.stderr or "").strip().splitlines()[-1:] or [""]
        return {"model": key, "status": "error", "why": f"crashed (exit {r.returncode}): {tail[0][:200]}"}
    except subprocess.TimeoutExpired:
        return {"model": key, "status": "timeout", "why": f"no result within {timeout:.0f} s"}
    finally:
        os.unlink(out)
        sys.stderr.write(f"  ({time.perf_counter() - t:.0f} s)\n")


def load_rows(family: str) -> dict:
    path = os.path.join(DATA, f"{family}.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def save_rows(family: str, data: dict) -> None:
    os.makedirs(DATA, exist_ok=True)
    path = os.path.join(DATA, f"{family}.json")
    with open(path + ".tmp", "w") as f:  # replaced atomically: sweeps of other families read it
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)


def write_doc() -> None:
    with open(DOC + ".tmp", "w") as f:
        f.write(render())
    os.replace(DOC + ".tmp", DOC)


def summary(family: str, rows: list[dict]) -> str:
    n = collections.Counter(r["status"] for r in rows)
    passing = [r for r in rows if r["status"] == "pass"]
    worst = max(passing, key=lambda r: r["max_err"] or 0.0, default=None)
    line = f"{family}: {n['pass']}/{len(rows)} pass"
    rest = ", ".join(f"{n[s]} {s}" for s in ("mismatch", "refused", "error", "timeout") if n[s])
    line += f" ({rest})" if rest else ""
    if worst:
        line += f"; worst passing error {worst['max_err']:.1e} x max |ref| ({worst['model']})"
    return line


def refusal_reasons(rows: list[dict]) -> list[tuple[str, int]]:
    """Unsupported ops (or the first line of other failures) by how many models they stop."""
    c = collections.Counter()
    for r in rows:
        if r["status"] == "refused" and r.get("refused_ops"):
            c.update(r["refused_ops"])
        elif r["status"] not in ("pass",):
            c[f"{r['status']}: {r['why'][:80]}"] += 1
    return c.most_common()


def render() -> str:
    fmt = lambda v, f: "" if v is None else format(v, f)  # noqa: E731
    lines = ["# Public sweeps\n\n",
             "Generated by `python tools/sweep.py <family>` (rows stored in `docs/coverage/*.json`; "
             "`python tools/sweep.py --render` rewrites this page). Random weights, 2 random inputs per model. "
             f"pass = every output within {TOLERANCE} x max |ref| of PyTorch fp32, or within {NOISE_FACTOR:g}x PyTorch "
             "fp32's own distance from float64 where the model is ill-conditioned; the builtin kernels (XNNPACK off) "
             "agree; class-score argmax agrees wherever the reference's top-2 margin exceeds the error. "
             "mismatch = converted but wrong (a bug); refused = ConversionError (first diagnostic shown). "
             "See `tools/sweep.py` and `tools/sweep_models.py`.\n\n"]
    for family in ("timm", "hf", "yolo"):
        data = load_rows(family)
        if not data:
            continue
        rows = [data["rows"][k] for k in data["order"] if k in data["rows"]]
        partial = "" if len(rows) == len(data["order"]) else (
            f" **Partial: {len(rows)} of {len(data['order'])} models run so far** (the rest have no row yet).")
        lines.append(f"## {TITLES[family]}\n\n{data['generated']}{partial}\n\n**{summary(family, rows)}**\n\n")
        reasons = refusal_reasons(rows)
        if reasons:
            lines.append("Why the others fail (models per reason): " +
                         "; ".join(f"{why} ({k})" for why, k in reasons) + ".\n\n")
        lines.append("| model | status | max err (rel) | max \\|ref\\| | ops | convert (s) | notes |\n|---|---|---|---|---|---|---|\n")
        for r in rows:
            lines.append(f"| {r['model'].split(':', 1)[1]} | {r['status']} | {fmt(r.get('max_err'), '.1e')} | "
                         f"{fmt(r.get('max_ref'), '.3g')} | {fmt(r.get('ops'), 'd')} | {fmt(r.get('convert_s'), '.1f')} | "
                         f"{r['why'].replace('|', '/')} |\n")
        lines.append("\n")
    return "".join(lines)


def git_commit() -> str:
    return zoo.git_commit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("family", nargs="?", choices=sorted(sweep_models.FAMILIES))
    parser.add_argument("--models", help="comma-separated keys: rerun these rows only, keep the others")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per model")
    parser.add_argument("--render", action="store_true", help="only rewrite docs/coverage.md")
    parser.add_argument("--reselect", action="store_true",
                        help="timm: pick the smallest model per module again instead of reusing the stored list")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # the child: one model, its row as JSON
        row = compare(args.one)
        with open(args.json, "w") as f:
            json.dump(row, f)
        return 0
    if not args.render:
        if not args.family:
            parser.error("name a family, or --render")
        stored = load_rows(args.family).get("order") if args.family == "timm" and not args.reselect else None
        keys = args.models.split(",") if args.models else stored or sweep_models.FAMILIES[args.family][0]()
        data = load_rows(args.family) if args.models else {"rows": {}, "order": keys}
        data["order"] = data.get("order", []) + [k for k in keys if k not in data.get("order", [])]
        command = f"python tools/sweep.py {args.family}" + (f" --models {args.models}" if args.models else "")
        stamp = f"`{command}` on {time.strftime('%Y-%m-%d')} at commit {git_commit()}"
        data["generated"] = (data.get("generated", "") + " Rows rerun by " + stamp) if args.models else \
            f"Generated by {stamp}."
        for i, key in enumerate(keys, 1):
            sys.stderr.write(f"[{i}/{len(keys)}] {key}")
            row = run_in_subprocess(key, args.timeout)
            data["rows"][key] = row
            sys.stderr.write(f"    {row['status']} {row.get('max_err') or ''} {row['why'][:200]}\n")
            save_rows(args.family, data)
            write_doc()
        rows = [data["rows"][k] for k in data["order"] if k in data["rows"]]
        print(summary(args.family, rows))
    write_doc()
    return 0


if __name__ == "__main__":
    sys.exit(main())
