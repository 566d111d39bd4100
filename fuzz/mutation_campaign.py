"""An attacker's mutation campaign against the pt2tflite CLI (independent of libFuzzer).

Mutates the real archives in fuzz/seeds/ (JSON field edits, numeric extremes, op swaps,
renamed arguments, duplicate outputs, reordered nodes, deep nesting, payload metadata edits,
truncations, byte flips, re-zipping without alignment), runs each through the CLI (build it with
the sanitizers: `make build/cpp/pt2tflite_tests`), and counts the outcomes:

  sanitizer   an AddressSanitizer / UBSan report, or a signal
  exit1       exit 1 ("internal error") on input that was simply bad
  refused     exit 0 with a file that LiteRT cannot load+allocate (XNNPACK on or off)
  exit2 / ok  clean rejection / clean conversion

Usage: python fuzz/mutation_campaign.py --cli build/cpp/pt2tflite --minutes 5 --seed 1 [--keep DIR]
Inputs of the first three classes are copied to DIR (default /tmp/pt2_campaign) for triage.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import pathlib
import random
import struct
import subprocess
import sys
import tempfile
import time
import zipfile

SEEDS = pathlib.Path(__file__).resolve().parent / "seeds"
EXTREMES = [0, -1, 1, 2, -2**31, 2**31, 2**32 + 1, 2**62, 2**63 - 1, -2**63, 1e308, -1e308, 0.5,
            "", "x" * 1000, None, True, [], {}, [0], {"as_int": 0}, {"as_none": True}]


def read_zip(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def write_zip(entries: list[tuple[str, bytes]], aligned: bool = True) -> bytes:
    """A stored (uncompressed) zip; `aligned` pads each entry's data to 64 bytes as PyTorch does."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, body in entries:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            if aligned:
                start = buf.tell() + 30 + len(name.encode()) + 4
                pad = (-start) % 64
                info.extra = struct.pack("<HH", 0x4246, pad) + b"\0" * pad
            z.writestr(info, body)
    return buf.getvalue()


def json_paths(node, path=()):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from json_paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from json_paths(v, path + (i,))


def set_at(root, path, value):
    cur = root
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value


def mutate_model_json(rng: random.Random, j: dict) -> dict:
    g = j.get("graph_module", {}).get("graph", {})
    nodes = g.get("nodes", [])
    kind = rng.choice(["field", "field", "field", "delete", "rename_arg", "swap_target", "dup_output",
                       "reorder", "tensor_meta", "long_name", "empty_arg", "nest"])
    if kind == "field" or not nodes:
        paths = [p for p, _ in json_paths(j) if p]
        p = rng.choice(paths)
        set_at(j, p, rng.choice(EXTREMES))
    elif kind == "delete":
        paths = [p for p, v in json_paths(j) if p and isinstance(p[-1], str)]
        p = rng.choice(paths)
        cur = j
        for q in p[:-1]:
            cur = cur[q]
        del cur[p[-1]]
    elif kind == "rename_arg":
        n = rng.choice(nodes)
        if n.get("inputs"):
            rng.choice(n["inputs"])["name"] = rng.choice(["input", "weight", "stride", "zzz", "dim", "self"])
    elif kind == "swap_target":
        a, b = rng.choice(nodes), rng.choice(nodes)
        a["target"] = b["target"]
    elif kind == "dup_output":
        a, b = rng.choice(nodes), rng.choice(nodes)
        if a.get("outputs") and b.get("outputs"):
            a["outputs"][0] = json.loads(json.dumps(b["outputs"][0]))
    elif kind == "reorder":
        i, k = rng.randrange(len(nodes)), rng.randrange(len(nodes))
        nodes[i], nodes[k] = nodes[k], nodes[i]
    elif kind == "tensor_meta":
        tv = g.get("tensor_values", {})
        if tv:
            meta = tv[rng.choice(list(tv))]
            field = rng.choice(["sizes", "dtype", "strides"])
            if field == "dtype":
                meta["dtype"] = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 99, -1])
            elif meta.get(field):
                meta[field][rng.randrange(len(meta[field]))] = rng.choice(
                    [{"as_int": v} for v in (0, -1, 2**62, 2**63 - 1, 1e308)] +
                    [{"as_expr": {"expr_str": "s0", "hint": {"as_int": 0}}}])
            else:
                meta[field] = [{"as_int": rng.choice([0, -1, 2**40])}] * rng.randint(1, 9)
    elif kind == "long_name":
        n = rng.choice(nodes)
        n["target"] = "torch.ops.aten." + "A" * rng.choice([1000, 1000000]) + ".default"
    elif kind == "empty_arg":
        specs = j["graph_module"]["signature"][rng.choice(["input_specs", "output_specs"])]
        if specs:
            spec = rng.choice(specs)
            body = next(iter(spec.values()))
            body["arg"] = {}
    elif kind == "nest":
        depth = rng.choice([1000, 300000])
        paths = [p for p, _ in json_paths(j) if p]
        set_at(j, rng.choice(paths), "NEST")
        return ("NEST", depth, j)
    return j


def mutate_payload_config(rng: random.Random, cfg: dict) -> dict:
    entries = list(cfg.get("config", {}).values())
    if not entries:
        return cfg
    meta = rng.choice(entries).get("tensor_meta", {})
    field = rng.choice(["sizes", "strides", "storage_offset", "dtype", "strides_short"])
    big = rng.choice([0, -1, -2**40, 2**31, 2**62, 2**63 - 1, -2**63, 1e308])
    if field == "storage_offset":
        meta["storage_offset"] = {"as_int": big}
    elif field == "dtype":
        meta["dtype"] = rng.choice([0, 1, 4, 5, 6, 7, 11, 15, 99])
    elif field == "strides_short":
        meta["strides"] = meta.get("strides", [])[:-1]
    elif meta.get(field):
        meta[field][rng.randrange(len(meta[field]))] = {"as_int": big}
    return cfg


def dumps(j) -> bytes:
    if isinstance(j, tuple) and j[0] == "NEST":
        _, depth, body = j
        text = json.dumps(body)
        return text.replace('"NEST"', "[" * depth + "]" * depth, 1).encode()
    return json.dumps(j).encode()


def mutate(rng: random.Random, data: bytes) -> bytes:
    kind = rng.choices(["model_json", "payload", "truncate", "flip", "unaligned", "payload_bytes"],
                       weights=[10, 4, 1, 1, 1, 1])[0]
    if kind == "truncate":
        return data[:rng.randrange(len(data))]
    if kind == "flip":
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    entries = read_zip(data)
    if kind == "unaligned":
        return write_zip(entries, aligned=False)
    out = []
    for name, body in entries:
        if kind == "model_json" and name.endswith("models/model.json"):
            body = dumps(mutate_model_json(rng, json.loads(body)))
        elif kind == "payload" and name.endswith("_config.json") and b'"config"' in body and b"tensor_meta" in body:
            body = dumps(mutate_payload_config(rng, json.loads(body)))
        elif kind == "payload_bytes" and "/data/weights/" in name and not name.endswith(".json"):
            body = body[: rng.randrange(len(body) + 1)]
        out.append((name, body))
    return write_zip(out)


LITERT_CHECK = r"""
import sys
from ai_edge_litert.interpreter import Interpreter, OpResolverType
data = open(sys.argv[1], "rb").read()
for kw in ({}, {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}):
    Interpreter(model_content=data, **kw).allocate_tensors()
"""


def litert_loads(path: str) -> bool:
    r = subprocess.run([sys.executable, "-c", LITERT_CHECK, path], capture_output=True, timeout=120)
    return r.returncode == 0


def classify(cli: str, data: bytes, tmp: str, load: bool = True) -> tuple[str, str]:
    """The outcome of converting `data` with the CLI (the output, if any, is tmp/out.tflite);
    `load`: an exit-0 file must also load in LiteRT (else the caller checks it)."""
    src, dst = os.path.join(tmp, "in.pt2"), os.path.join(tmp, "out.tflite")
    pathlib.Path(src).write_bytes(data)
    if os.path.exists(dst):
        os.unlink(dst)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1",
               UBSAN_OPTIONS="print_stacktrace=1")
    try:
        r = subprocess.run([cli, "convert", src, "-o", dst], capture_output=True, timeout=60, env=env)
    except subprocess.TimeoutExpired:
        return "timeout", ""
    err = r.stderr.decode(errors="replace")
    if "Sanitizer" in err or "runtime error:" in err or r.returncode < 0:
        return "sanitizer", err[-3000:]
    if r.returncode == 1:
        return "exit1", err[-1000:]
    if r.returncode == 2:
        # A rejection names one node and field; the unsupported-nodes report lists up to three.
        if len(err) > (1000 if "unsupported node" in err else 600):
            return "long_message", err[:300]
        return "exit2", ""
    if r.returncode == 0:
        return ("ok", "") if not load or litert_loads(dst) else ("refused", "")
    return f"exit{r.returncode}", err[-1000:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default="build/cpp/pt2tflite")
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", default="/tmp/pt2_campaign")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    seeds = [p.read_bytes() for p in sorted(SEEDS.glob("*.pt2"))]
    keep = pathlib.Path(args.keep)
    keep.mkdir(parents=True, exist_ok=True)
    counts = collections.Counter()
    deadline = time.time() + args.minutes * 60
    with tempfile.TemporaryDirectory() as tmp:
        i = 0
        while time.time() < deadline:
            data = mutate(rng, rng.choice(seeds))
            outcome, why = classify(args.cli, data, tmp)
            counts[outcome] += 1
            if outcome not in ("ok", "exit2"):
                (keep / f"{outcome}_{i}.pt2").write_bytes(data)
                (keep / f"{outcome}_{i}.txt").write_text(why)
            i += 1
    total = sum(counts.values())
    print(f"{total} mutated archives in {args.minutes} min (seed {args.seed}): " +
          ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
