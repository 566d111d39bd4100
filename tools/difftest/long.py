"""The long differential run, resumable across sessions: checks programs of one seed in chunks and
appends each finished chunk to a ledger (docs/difftest-ledger.jsonl), then starts after the
highest index the ledger has for that seed. Stop it any time; a chunk cut short is rerun.

    python tools/difftest/long.py --total 100000 -j 1          # until the ledger holds 100,000
    python tools/difftest/long.py --report                      # print the ledger's totals
    python tools/difftest/long.py --write-doc                   # and put them in docs/difftest.md"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from difftest import run  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LEDGER = os.path.join(ROOT, "docs", "difftest-ledger.jsonl")
DOC = os.path.join(ROOT, "docs", "difftest.md")
BEGIN, END = "<!-- long-run totals: tools/difftest/long.py --write-doc -->", "<!-- end of long-run totals -->"


def entries(path: str = LEDGER) -> list:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def report(rows: list) -> str:
    """Markdown totals over the ledger: programs, classes, bugs, CPU time."""
    classes: collections.Counter = collections.Counter()
    for r in rows:
        classes.update(r["classes"])
    total = sum(r["count"] for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    commits = sorted({r["commit"] for r in rows})
    ranges = ", ".join(f"seed {r['seed']} {r['start']}..{r['start'] + r['count'] - 1}" for r in rows[:1] + rows[-1:])
    lines = [
        f"{total:,} programs in {len(rows)} chunks ({ranges}; commits {', '.join(commits)}), "
        f"{seconds / 3600:.1f} h of run time:",
        "",
        "| " + " | ".join(run.CLASSES) + " |",
        "|" + "---|" * len(run.CLASSES),
        "| " + " | ".join(f"{classes.get(c, 0):,}" for c in run.CLASSES) + " |",
        "",
    ]
    bugs = [b for r in rows for b in r.get("bugs", [])]
    lines += ["Bugs found by the long run:" if bugs else "Bugs found by the long run: none."]
    lines += [f"- `{b}`" for b in bugs]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--total", type=int, default=100000, help="stop when the ledger holds this many programs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=1024)
    ap.add_argument("-j", "--jobs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32, help="programs per conversion (run.py --batch; int8 at most run.INT8_BATCH_MAX)")
    ap.add_argument("--ledger", default=LEDGER)
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "difftest-long"))
    ap.add_argument("--report", action="store_true", help="print the ledger's totals and exit")
    ap.add_argument("--write-doc", action="store_true", help="write the totals into docs/difftest.md and exit")
    args = ap.parse_args(argv)
    if args.report:
        print(report(entries(args.ledger)), end="")
        return 0
    if args.write_doc:
        with open(DOC) as f:
            doc = f.read()
        head, rest = doc.split(BEGIN) if BEGIN in doc else (doc.rstrip("\n") + "\n\n## The long run\n\n", END)
        tail = rest.split(END, 1)[1]
        with open(DOC, "w") as f:
            f.write(head + BEGIN + "\n" + report(entries(args.ledger)) + END + tail)
        return 0
    status = 0
    while True:
        rows = entries(args.ledger)
        done = sum(r["count"] for r in rows)
        if done >= args.total:
            print(f"ledger holds {done:,} programs", file=sys.stderr)
            return status
        start = max((r["start"] + r["count"] for r in rows if r["seed"] == args.seed), default=0)
        print(f"== chunk {start}..{start + args.chunk - 1} (ledger {done:,}/{args.total:,})", file=sys.stderr, flush=True)
        out = os.path.join(args.out, f"{args.seed}-{start}")
        code = run.main(["-n", str(args.chunk), "--seed", str(args.seed), "--start", str(start), "-j", str(args.jobs),
                         "--batch", str(args.batch), "--out", out, "--ledger", args.ledger])
        status |= code
        if len(entries(args.ledger)) == len(rows):  # interrupted: the chunk was not recorded
            return 130


if __name__ == "__main__":
    sys.exit(main())
