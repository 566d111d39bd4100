"""Replays a fuzz corpus through the sanitizer CLI and loads every file it writes in LiteRT.

The harnesses check each exit-0 output with the flatbuffers Verifier and the converter's own
output check, but they do not link LiteRT. The corpus holds every input a long run found
interesting, so replaying it shows that the files the fuzz runs produced also load and allocate
in LiteRT with XNNPACK and with the builtin kernels only (issue 11's output contract).

Each input goes through `classify` of mutation_campaign.py (CLI under ASan + UBSan); the files
written with exit 0 are loaded by one long-lived worker process, restarted if LiteRT itself dies
(that file then counts as refused).

Usage: python fuzz/replay_corpus.py [--cli build/fuzz/pt2tflite] [DIR ...]
(default: build/fuzz/corpus/fuzz_convert and tests/fuzz/regressions)
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from mutation_campaign import classify  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Reads paths on stdin; for each, prints "ok" once the model loads and allocates both ways.
LOADER = r"""
import sys
from ai_edge_litert.interpreter import Interpreter, OpResolverType
for line in sys.stdin:
    path = line.strip()
    for kw in ({}, {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}):
        try:
            Interpreter(model_path=path, **kw).allocate_tensors()
        except Exception:
            print("refused", flush=True)
            break
    else:
        print("ok", flush=True)
"""


class Loader:
    def __init__(self):
        self.proc = None

    def loads(self, path: str) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([sys.executable, "-c", LOADER], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True)
        self.proc.stdin.write(path + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        return answer == "ok"  # "" when the worker died on this file

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", default=str(ROOT / "build/fuzz/pt2tflite"))
    ap.add_argument("--keep", default="/tmp/pt2_replay", help="where inputs of a bad outcome are copied")
    ap.add_argument("dirs", nargs="*", default=[str(ROOT / "build/fuzz/corpus/fuzz_convert"),
                                                str(ROOT / "tests/fuzz/regressions")])
    args = ap.parse_args()
    files = sorted(p for d in args.dirs for p in pathlib.Path(d).iterdir() if p.is_file())
    counts = collections.Counter()
    keep = pathlib.Path(args.keep)
    loader = Loader()
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(files):
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # a running fuzzer replaced it with a smaller input
                continue
            # classify's own LiteRT check starts a Python per file; this one reuses a worker.
            outcome, why = classify(args.cli, data, tmp, load=False)
            if outcome == "ok" and not loader.loads(str(pathlib.Path(tmp) / "out.tflite")):
                outcome = "refused"
            counts[outcome] += 1
            if outcome not in ("ok", "exit2"):
                keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, keep / path.name)
                (keep / f"{path.name}.txt").write_text(f"{outcome}\n{why}")
            if (i + 1) % 500 == 0:
                print(f"{i + 1}/{len(files)}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), flush=True)
    loader.close()
    print(f"{len(files)} corpus inputs: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) +
          " (ok = converted, then loaded and allocated in LiteRT with XNNPACK and with the builtin kernels)")
    bad = sum(v for k, v in counts.items() if k not in ("ok", "exit2"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
