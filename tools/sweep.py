"""Public sweeps: convert every architecture family of timm, Hugging Face transformers and Ultralytics
YOLO (tools/sweep_models.py lists them), compare with PyTorch, write docs/coverage.md.

    python tools/sweep.py timm            # one model per timm architecture module (long)
    python tools/sweep.py timm-more       # a second model per timm module
    python tools/sweep.py hf              # Hugging Face architectures from small configs
    python tools/sweep.py hf-lm           # every other transformers causal LM, one generic config
    python tools/sweep.py yolo            # Ultralytics YOLO from the package's yaml configs
    python tools/sweep.py hf --models hf:llama,hf:gpt2   # rerun some rows, keep the others
    python tools/sweep.py --render        # docs/coverage.md from the stored rows only

The timm lists (models per module, counted on the meta device) are picked once and kept in
docs/coverage/timm.json and timm-more.json; `--reselect` picks them again (after a timm upgrade).

Each model runs in its own subprocess (under `nice`, with a timeout), so a hang or a crash costs
one row, not the sweep. Rows are stored in docs/coverage/<family>.json; docs/coverage.md is
rendered from every stored family.

A row passes when, on 2 random inputs, every output is within 1e-4 x max |ref| of PyTorch fp32,
or, where the model is ill-conditioned, within 3x PyTorch fp32's own distance from float64 (both
measured against the float64 result); the builtin kernels (XNNPACK off) must give the same answer
on the first input; and for class scores the argmax agrees wherever the reference's top-2 margin
exceeds the measured error. Statuses: pass, mismatch (a converted model that answers wrong: a
bug), refused (ConversionError, with its first diagnostic), error (any other exception), timeout,
no reference (PyTorch itself cannot build or run the model, as with some types under hf-lm's generic
config: no verdict, and not counted as a failure).
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
INCUMBENT_VERSION = "0.10.0"  # bench/INCUMBENT_VERSIONS.md
DATA = os.path.join(HERE, "..", "docs", "coverage")
DOC = os.path.join(HERE, "..", "docs", "coverage.md")
# The fast CI tier's sweep models (tests/python/test_zoo_fast.py): one per family, small and quick.
FAST = ["timm:vision_transformer_relpos/test_vit_relpos", "hf:gpt2", "hf-lm:afmoe", "yolo:yolov8n-cls"]
TITLES = {"timm": "timm (one model per architecture module)",
          "timm-more": "timm, a second model per module (the next smallest)", "hf": "Hugging Face transformers (small configs)",
          "hf-lm": "Hugging Face causal language models (every other type, one generic small config)",
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


class Converted:
    """One converted model, whichever converter made it: run it with XNNPACK (the default) or with
    the builtin kernels only."""

    def __init__(self, run, run_builtin, ops: int | None):
        self.run, self.run_builtin, self.ops = run, run_builtin, ops


def as_list(got) -> list[np.ndarray]:
    return [got] if isinstance(got, np.ndarray) else [np.asarray(g) for g in got]


def convert_ours(model, x0) -> Converted:
    import pt2tflite

    tfl = pt2tflite.convert(model, x0)
    return Converted(lambda *x: as_list(tfl(*x)), lambda *x: run_builtin(tfl.tflite_bytes, x),
                     sum(tfl.op_histogram().values()))


def convert_incumbent(model, x0) -> Converted:
    """litert-torch's convert(), run through its own model object (in its bench venv)."""
    import litert_torch
    import torch
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    edge = litert_torch.convert(model, x0)
    content = edge.model_content()

    def arrays(x):  # litert-torch narrows int64 inputs (token ids) to int32 and refuses int64 arrays
        return [t.numpy().astype(np.int32) if t.dtype == torch.int64 else t.numpy() for t in x]

    def builtin(*x):
        edge.set_interpreter_builder(lambda: Interpreter(
            model_content=content, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
        try:
            return as_list(edge(*arrays(x)))
        finally:
            edge.set_interpreter_builder(lambda: Interpreter(model_content=content))

    return Converted(lambda *x: as_list(edge(*arrays(x))), builtin, count_ops(content))


def count_ops(tflite: bytes) -> int | None:
    try:
        from ai_edge_litert import schema_py_generated as schema  # noqa: F401
    except ImportError:
        return None
    m = schema.Model.GetRootAsModel(tflite, 0)
    return sum(m.Subgraphs(i).OperatorsLength() for i in range(m.SubgraphsLength()))


CONVERTERS = {"pt2tflite": convert_ours, "litert-torch": convert_incumbent}


def compare(key: str, converter: str = "pt2tflite") -> dict:
    row = {"model": key, "status": "error", "max_err": None, "max_ref": None, "ops": None, "convert_s": None,
           "why": ""}
    try:
        try:
            model, specs, classifier = sweep_models.build(key)
            x0 = make_inputs(specs, 100)
            inputs = [make_inputs(specs, seed) for seed in range(2)]
            refs = [reference(model, x) for x in inputs]  # before export, which may leave state on the model
        except Exception as e:  # PyTorch itself cannot build or run it (hf-lm's generic config): no verdict
            first_line = str(e).splitlines()[0] if str(e) else ""
            row.update(status="no reference", why=f"PyTorch: {type(e).__name__}: {first_line}"[:300])
            return row
        t = time.perf_counter()
        try:
            conv = CONVERTERS[converter](copy.deepcopy(model), x0)
        except Exception as e:
            return refused_row(row, e, converter)
        row["convert_s"] = round(time.perf_counter() - t, 2)
        row["ops"] = conv.ops
        worst, max_ref, why = 0.0, 0.0, ""
        for seed, (x, ref) in enumerate(zip(inputs, refs)):
            got = conv.run(*x)
            w, m, y = judge(got, ref, lambda: reference(model, x, double=True), classifier)
            if seed == 0 and not y:
                w2, _, y2 = judge(conv.run_builtin(*x), ref, lambda: reference(model, x, double=True), classifier)
                w, y = max(w, w2), (f"builtin kernels: {y2}" if y2 else "")
            worst, max_ref, why = max(worst, w), max(max_ref, m), why or y
        row.update(max_err=worst, max_ref=max_ref, status="mismatch" if why else "pass", why=why)
    except Exception as e:  # every model gets a row; the traceback goes to the log
        traceback.print_exc()
        row["why"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
    return row


def refused_row(row: dict, e: Exception, converter: str) -> dict:
    """Our ConversionError gives its first diagnostic and the unsupported ops; any exception from the
    incumbent's convert() is its refusal (first line)."""
    d = getattr(e, "diagnostics", None)
    if converter == "pt2tflite" and type(e).__name__ != "ConversionError":
        raise e
    if d:
        ops = sorted({x.op for x in d})
        row.update(status="refused", why=f"{d[0].op}: {d[0].message}" +
                   (f" (+{len(d) - 1} more: {', '.join(ops)})" if len(d) > 1 else ""), refused_ops=ops)
    else:
        traceback.print_exc()
        lines = [ln for ln in str(e).splitlines() if ln.strip()] or [""]
        row.update(status="refused", why=f"{type(e).__name__}: {lines[0]}"[:300])
    return row


def incumbent_python() -> str:
    """The incumbent's bench venv (bench/setup_incumbent_venv.sh creates it; it is never our dependency)."""
    r = subprocess.run(["bash", os.path.join(HERE, "..", "bench", "setup_incumbent_venv.sh")], check=True,
                       stdout=subprocess.PIPE, text=True)
    return r.stdout.strip().splitlines()[-1]


def run_in_subprocess(key: str, timeout: float, python: str = sys.executable, converter: str = "pt2tflite") -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    # Niceness 10 in all: a sweep started under `nice` already has it (nice adds up).
    cmd = ["nice", "-n", str(max(0, 10 - os.nice(0))), python, os.path.abspath(__file__), "--one", key,
           "--json", out, "--converter", converter]
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
    """Our rows, or with family "<f>.incumbent" litert-torch's (kept in a file of their own, so that the
    two sweeps can run at once)."""
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
    rest = ", ".join(f"{n[s]} {s}" for s in ("mismatch", "refused", "error", "timeout", "no reference") if n[s])
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
        elif r["status"] not in ("pass", "no reference"):
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
             "mismatch = converted but wrong (a bug); refused = ConversionError (first diagnostic shown); "
             "no reference = PyTorch itself cannot build or run the model from that config (no verdict). "
             "See `tools/sweep.py` and `tools/sweep_models.py`.\n\n"]
    for family in TITLES:
        data = load_rows(family)
        if not data:
            continue
        skipped = sweep_models.SKIPPED.get(family, {})
        order = [k for k in data["order"] if k.split(":", 1)[1] not in skipped]  # rows stored before a skip
        rows = [data["rows"][k] for k in order if k in data["rows"]]
        inc = load_rows(f"{family}.incumbent").get("rows", {})
        partial = "" if len(rows) == len(order) else (
            f" **Partial: {len(rows)} of {len(order)} models run so far** (the rest have no row yet).")
        lines.append(f"## {TITLES[family]}\n\n{data['generated']}{partial}\n\n**{summary(family, rows)}**\n\n")
        lines.append(incumbent_summary(rows, inc))
        if skipped:
            lines.append("Left out on purpose: " + "; ".join(f"{k} ({why})" for k, why in sorted(skipped.items())) +
                         ".\n\n")
        reasons = refusal_reasons(rows)
        if reasons:
            lines.append("Why the others fail (models per reason): " +
                         "; ".join(f"{why} ({k})" for why, k in reasons) + ".\n\n")
        lines.append("| model | status | max err (rel) | max \\|ref\\| | ops | convert (s) | litert-torch | notes |\n"
                     "|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            lines.append(f"| {r['model'].split(':', 1)[1]} | {r['status']} | {fmt(r.get('max_err'), '.1e')} | "
                         f"{fmt(r.get('max_ref'), '.3g')} | {fmt(r.get('ops'), 'd')} | {fmt(r.get('convert_s'), '.1f')} | "
                         f"{incumbent_cell(inc.get(r['model']))} | {r['why'].replace('|', '/')} |\n")
        lines.append("\n")
    return "".join(lines)


def incumbent_cell(r: dict | None) -> str:
    if r is None:
        return "not run"
    cell = r["status"] + (f" {r['max_err']:.1e}" if r.get("max_err") is not None else "")
    return cell + (f" ({r['why'][:80]})".replace("|", "/") if r["status"] != "pass" and r["why"] else "")


def incumbent_summary(rows: list[dict], inc: dict) -> str:
    """litert-torch's result on the rows it ran, and the models it converts correctly that we do not."""
    ran = [inc[r["model"]] for r in rows if r["model"] in inc]
    if not ran:
        return "litert-torch: not run on this family yet (`python tools/sweep.py FAMILY --incumbent`).\n\n"
    n = collections.Counter(r["status"] for r in ran)
    behind = [r["model"].split(":", 1)[1] for r in rows
              if r["status"] != "pass" and inc.get(r["model"], {}).get("status") == "pass"]
    return (f"litert-torch {INCUMBENT_VERSION}, same inputs and bar, on {len(ran)} of {len(rows)} models: "
            f"{n['pass']} pass, " + ", ".join(f"{n[s]} {s}" for s in ("mismatch", "refused", "error", "timeout")) +
            ". Converted correctly by litert-torch and not by us: " + (", ".join(behind) or "none") + ".\n\n")


def git_commit() -> str:
    return zoo.git_commit()


def sweep_incumbent(args) -> int:
    """The same models, inputs and bar through litert-torch, in its bench venv, one subprocess each."""
    ours = load_rows(args.family)
    if not ours:
        sys.exit(f"no rows for {args.family} yet: run `python tools/sweep.py {args.family}` first")
    keys = args.models.split(",") if args.models else [
        k for k in ours["order"]
        if not args.not_passing or ours["rows"].get(k, {}).get("status") not in ("pass", "no reference")]
    keys = [k for k in keys if k.split(":", 1)[1] not in sweep_models.SKIPPED.get(args.family, {})]
    if args.missing:
        keys = [k for k in keys if k not in (load_rows(f"{args.family}.incumbent") or {}).get("rows", {})]
    python = incumbent_python()
    if args.family == "yolo":  # as `make sweep-yolo` does for ours: without its dependencies, torch stays
        subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "ultralytics", "opencv-python-headless",
                        "psutil"], check=True)
    name = f"{args.family}.incumbent"
    data = load_rows(name) or {"rows": {}}
    data["generated"] = f"`python tools/sweep.py {args.family} --incumbent` on {time.strftime('%Y-%m-%d')}"
    for i, key in enumerate(keys, 1):
        sys.stderr.write(f"[litert-torch {i}/{len(keys)}] {key}")
        row = run_in_subprocess(key, args.timeout, python, "litert-torch")
        data["rows"][key] = row
        sys.stderr.write(f"    {row['status']} {row.get('max_err') or ''} {row['why'][:200]}\n")
        save_rows(name, data)
        write_doc()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("family", nargs="?", choices=sorted(sweep_models.FAMILIES))
    parser.add_argument("--models", help="comma-separated keys: rerun these rows only, keep the others")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per model")
    parser.add_argument("--render", action="store_true", help="only rewrite docs/coverage.md")
    parser.add_argument("--reselect", action="store_true",
                        help="timm, timm-more: pick the models per module again instead of reusing the stored list")
    parser.add_argument("--incumbent", action="store_true",
                        help="run litert-torch (its bench venv) on the family instead; rows go to <family>.incumbent.json")
    parser.add_argument("--not-passing", action="store_true",
                        help="with --incumbent: only the models that do not pass with us (the ones that decide "
                             "whether we are behind)")
    parser.add_argument("--missing", action="store_true",
                        help="with --incumbent: only the models with no litert-torch row yet (resume a stopped run)")
    parser.add_argument("--converter", default="pt2tflite", help=argparse.SUPPRESS)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # the child: one model, its row as JSON
        row = compare(args.one, args.converter)
        with open(args.json, "w") as f:
            json.dump(row, f)
        return 0
    if args.incumbent:
        if not args.family:
            parser.error("--incumbent needs a family")
        return sweep_incumbent(args)
    if not args.render:
        if not args.family:
            parser.error("name a family, or --render")
        stored = load_rows(args.family).get("order") if args.family.startswith("timm") and not args.reselect else None
        keys = args.models.split(",") if args.models else stored or sweep_models.FAMILIES[args.family][0]()
        data = load_rows(args.family) if args.models else {"rows": {}, "order": keys}
        data["order"] = data.get("order", []) + [k for k in keys if k not in data.get("order", [])]
        command = f"python tools/sweep.py {args.family}" + (f" --models {args.models}" if args.models else "")
        stamp = f"`{command}` on {time.strftime('%Y-%m-%d')} at commit {git_commit()}"
        data["generated"] = (data.get("generated", "") + " Rows rerun by " + stamp + ".") if args.models else \
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
