"""Totals of docs/fuzz-ledger.jsonl: executions per harness, overall and on the code at HEAD.

A ledger line counts toward the current code when the C++ that the harnesses build (src/,
include/, the harness sources and the CMake files) is the same at the line's commit as at HEAD:
issue 11 asks for 10 million clean whole-conversion executions of the code that ships, so a run
of an older core, or one that found a crash since fixed, does not count.

Usage: python fuzz/ledger.py
"""

from __future__ import annotations

import collections
import json
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
LEDGER = ROOT / "docs" / "fuzz-ledger.jsonl"
CORE_PATHS = ["src", "include", "fuzz/*.cc", "fuzz/*.h", "fuzz/CMakeLists.txt", "CMakeLists.txt"]


def same_core_as_head(commit: str, cache: dict[str, bool]) -> bool:
    if commit not in cache:
        diff = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", commit, "HEAD", "--", *CORE_PATHS],
                              capture_output=True)
        cache[commit] = diff.returncode == 0  # 1: differs; 128: unknown commit (counts as differing)
    return cache[commit]


def main() -> None:
    overall: collections.Counter[str] = collections.Counter()
    current: collections.Counter[str] = collections.Counter()
    crashes_current: collections.Counter[str] = collections.Counter()
    seconds_current: collections.Counter[str] = collections.Counter()
    cache: dict[str, bool] = {}
    for line in LEDGER.read_text().splitlines():
        row = json.loads(line)
        harness = row["harness"]
        overall[harness] += row["executions"]
        if same_core_as_head(row["commit"], cache):
            current[harness] += row["executions"]
            crashes_current[harness] += row["crash_inputs"]
            seconds_current[harness] += row["seconds"]
    print(f"{'harness':<18}{'all commits':>14}{'current core':>15}{'process-s':>11}{'crash runs':>12}")
    for harness in sorted(overall):
        print(f"{harness:<18}{overall[harness]:>14,}{current[harness]:>15,}{seconds_current[harness]:>11,}"
              f"{crashes_current[harness]:>12}")


if __name__ == "__main__":
    main()
