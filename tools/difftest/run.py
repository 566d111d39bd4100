"""Runs the differential test over many random programs, in parallel worker processes.

    python tools/difftest/run.py -n 2000 --seed 0 -j 2        # programs 0..1999 of seed 0
    python tools/difftest/run.py -n 100000 --out build/difftest

Each worker checks batches of programs (batch.py); a worker that dies or hangs marks its program
as a crash and is replaced. Progress goes to stderr; the results go to OUT/results.jsonl (one
line per program), OUT/summary.json and OUT/summary.md (counts per class and per kind, every
failure with the command that minimizes it); what the workers print goes to OUT/workers.log.
Exit status 1 when any program found a bug."""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing as mp
import multiprocessing.connection
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from difftest.check import BUGS  # noqa: E402

CLASSES = ("pass", "refused", "invalid", "load_failure", "mismatch", "crash")
DYNAMIC_CLASSES = CLASSES + ("static",)  # dynamic.py: torch.export kept no input dim dynamic
BATCH_TIMEOUT_S = 300


# Int8 programs in unions of at most this many: their reference's cost grows faster than the union
# (_one_step_effect reruns the whole union once per int8 tensor, and the observers' search grows
# too): 16 int8 programs took 75.7 s as one union, 27.4 s one by one, and 4 per union was fastest.
INT8_BATCH_MAX = 4


def check_range(seed: int, indices: list, batch: int = 8, dynamic: bool = False) -> list:
    """Records (dicts) for programs `indices` of `seed`, checked in unions of up to `batch` (int8:
    up to INT8_BATCH_MAX); `dynamic`: each float program alone with run-time dims (dynamic.py)."""
    from difftest.batch import check_programs
    from difftest.generate import generate

    programs = [generate(seed, i) for i in indices]
    if dynamic:
        return [_record(seed, p, *_timed(check_dynamic_program, p)) for p in map(_float_program, programs)]
    records = []
    for int8 in (False, True):
        group = [p for p in programs if p.int8 == int8]
        size = max(1, min(INT8_BATCH_MAX, batch // 2)) if int8 else batch
        for k in range(0, len(group), size):
            t0 = time.time()
            results = check_programs(group[k : k + size])
            dt = (time.time() - t0) / max(1, len(results))
            records += [_record(seed, p, o, dt) for p, o in results]
    return records


def _float_program(p):
    """The dynamic check is float only: an int8 program's index gives a float one instead."""
    from difftest.generate import generate

    if not p.int8:
        return p
    seed, index = (int(x) for x in p.name.split(":"))
    return generate(seed, index, "tensor" if index % 2 else "image")


def check_dynamic_program(p):
    from difftest.dynamic import check_dynamic

    return check_dynamic(p)


def _timed(fn, p) -> tuple:
    t0 = time.time()
    o = fn(p)
    return o, time.time() - t0


def _record(seed: int, p, o, seconds: float) -> dict:
    return {
        "name": p.name, "seed": seed, "kind": p.kind, "class": o.cls, "runtime": o.runtime,
        "detail": o.detail, "worst": None if o.worst == float("inf") else round(o.worst, 4),
        "tags": sorted(set(p.tags())), "nodes": len(p.nodes), "seconds": round(seconds, 3),
    }


def _worker(conn, batch: int, dynamic: bool, log_path: str) -> None:
    # LiteRT and torch print to fd 2 on every model; keep that (and any native crash report)
    # in a file instead of the progress output.
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 2)
    import torch

    torch.set_num_threads(1)
    while True:
        task = conn.recv()
        if task is None:
            return
        seed, indices = task
        conn.send(check_range(seed, indices, batch, dynamic))


class Pool:
    """Worker processes fed one task (a list of program indices) at a time. A worker that dies or
    exceeds the timeout is replaced; its task is split into single programs and retried, and a
    single program that kills its worker is recorded as a crash."""

    def __init__(self, jobs: int, batch: int, log_path: str, dynamic: bool = False):
        self.ctx = mp.get_context("spawn")
        self.batch = batch
        self.dynamic = dynamic
        self.log_path = log_path
        self.slots = [self._spawn() for _ in range(jobs)]

    def _spawn(self) -> dict:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker, args=(child, self.batch, self.dynamic, self.log_path), daemon=True)
        proc.start()
        return {"proc": proc, "conn": parent, "task": None, "start": 0.0}

    def run(self, seed: int, tasks: list, on_records) -> None:
        queue = collections.deque(tasks)
        while queue or any(s["task"] for s in self.slots):
            for s in self.slots:
                if s["task"] is None and queue:
                    s["task"], s["start"] = queue.popleft(), time.time()
                    s["conn"].send((seed, s["task"]))
            busy = [s for s in self.slots if s["task"]]
            ready = mp.connection.wait([s["conn"] for s in busy] + [s["proc"].sentinel for s in busy], timeout=5)
            for k, s in enumerate(self.slots):
                if s["task"] is None:
                    continue
                if s["conn"] in ready:
                    try:
                        on_records(s["conn"].recv())
                        s["task"] = None
                        continue
                    except (EOFError, OSError):
                        pass
                    self._lost(k, seed, queue, on_records, "the worker process died")
                elif s["proc"].sentinel in ready or not s["proc"].is_alive():
                    self._lost(k, seed, queue, on_records, f"the worker process died (exit code {s['proc'].exitcode})")
                elif time.time() - s["start"] > BATCH_TIMEOUT_S * max(1, len(s["task"]) // self.batch):
                    self._lost(k, seed, queue, on_records, f"timeout after {BATCH_TIMEOUT_S} s")

    def _lost(self, k: int, seed: int, queue, on_records, why: str) -> None:
        s = self.slots[k]
        task = s["task"]
        s["proc"].kill()
        s["proc"].join()
        self.slots[k] = self._spawn()
        if len(task) > 1:
            queue.extendleft([i] for i in reversed(task))
        else:
            on_records([{"name": f"{seed}:{task[0]}", "seed": seed, "kind": "", "class": "crash", "runtime": "",
                         "detail": why, "worst": None, "tags": [], "nodes": 0, "seconds": 0.0}])

    def close(self) -> None:
        for s in self.slots:
            try:
                s["conn"].send(None)
            except OSError:
                pass
        for s in self.slots:
            s["proc"].join(timeout=10)
            if s["proc"].is_alive():
                s["proc"].kill()


def summarize(records: list, seed: int, start: int, count: int, seconds: float) -> dict:
    by_class = collections.Counter(r["class"] for r in records)
    by_kind = collections.defaultdict(collections.Counter)
    for r in records:
        by_kind[r["kind"] or "?"][r["class"]] += 1
    refusals = collections.Counter(_refusal_reason(r["detail"]) for r in records if r["class"] == "refused")
    return {
        "commit": _commit(), "seed": seed, "start": start, "count": count, "seconds": round(seconds, 1),
        "programs_per_minute": round(60 * count / seconds, 1) if seconds else None,
        "classes": {c: by_class.get(c, 0) for c in (DYNAMIC_CLASSES if by_class.get("static") else CLASSES)},
        "kinds": {k: dict(v) for k, v in sorted(by_kind.items())},
        "refusal_reasons": dict(refusals.most_common(20)),
        "bugs": [r for r in records if r["class"] in BUGS],
    }


def _commit() -> str:
    """The generator's version: (seed, index) names the same program only at the same commit."""
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except OSError:
        return ""


def _refusal_reason(detail: str) -> str:
    detail = re.sub(r" at <program [^>]*>:\d+", "", detail)
    for line in detail.splitlines():
        line = line.strip()
        if line.startswith("- "):
            op = line[2:].split(" ", 1)[0]
            why = line.split(": ", 1)[-1][:100]
            return f"{op}: {why}"
    return detail.splitlines()[0][:100] if detail else ""


def markdown(s: dict) -> str:
    lines = [
        "# Differential test run",
        "",
        f"Commit {s['commit']}, seed {s['seed']}, programs {s['start']}..{s['start'] + s['count'] - 1}: {s['count']} programs in "
        f"{s['seconds']:.0f} s ({s['programs_per_minute']} per minute).",
        "",
        "| class | programs |",
        "|---|---|",
    ] + [f"| {c} | {n} |" for c, n in s["classes"].items()]
    classes = list(s["classes"])
    lines += ["", "| kind | " + " | ".join(classes) + " |", "|---|" + "---|" * len(classes)]
    lines += [f"| {k} | " + " | ".join(str(v.get(c, 0)) for c in classes) + " |" for k, v in s["kinds"].items()]
    lines += ["", "## Refusal reasons", ""] + [f"- {n}× {r}" for r, n in s["refusal_reasons"].items()]
    lines += ["", "## Bugs", ""]
    for r in s["bugs"]:
        seed, idx = r["name"].split("+")[0].split(":")
        lines.append(f"- `{r['name']}` {r['class']} ({r['runtime'] or '-'}): {r['detail'].splitlines()[0][:300]}  ")
        if "+" not in r["name"]:
            lines.append(f"  minimize: `python tools/difftest/minimize.py --seed {seed} --index {idx}`")
    if not s["bugs"]:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def _stop(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0, help="first program index")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--batch", type=int, default=8, help="programs per conversion (1: no unions)")
    ap.add_argument("--task", type=int, default=32, help="programs per worker task")
    ap.add_argument("--out", default="build/difftest")
    ap.add_argument("--ledger", help="append this run's counts to a JSON-lines ledger (long.py)")
    ap.add_argument("--dynamic", action="store_true",
                    help="float programs with every input dim left to torch.export, run at three sizes (dynamic.py)")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    indices = list(range(args.start, args.start + args.count))
    tasks = [indices[k : k + args.task] for k in range(0, len(indices), args.task)]
    records: list = []
    t0 = last = time.time()
    log = open(os.path.join(args.out, "results.jsonl"), "w")

    def on_records(rs):
        nonlocal last
        for r in rs:
            log.write(json.dumps(r) + "\n")
            if r["class"] in BUGS:
                print(f"BUG {r['name']} {r['class']} {r['runtime']}: {r['detail'].splitlines()[0][:200]}", file=sys.stderr)
        log.flush()
        records.extend(rs)
        if time.time() - last > 10 or len(records) >= args.count:
            last = time.time()
            c = collections.Counter(r["class"] for r in records)
            rate = 60 * len(records) / (last - t0)
            print(f"[{len(records)}/{args.count}] {rate:.0f}/min  " + " ".join(f"{k} {c[k]}" for k in DYNAMIC_CLASSES if c[k]),
                  file=sys.stderr, flush=True)

    pool = Pool(args.jobs, args.batch, os.path.join(args.out, "workers.log"), args.dynamic)
    signal.signal(signal.SIGTERM, _stop)
    try:
        pool.run(args.seed, tasks, on_records)
    except KeyboardInterrupt:  # stopped early: summarize what is done
        print(f"interrupted after {len(records)} programs", file=sys.stderr)
    finally:
        pool.close()
        log.close()
    s = summarize(records, args.seed, args.start, len(records), time.time() - t0)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(s, f, indent=1)
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(markdown(s))
    print(json.dumps(s["classes"]), f"{s['programs_per_minute']}/min; summary in {args.out}/summary.md", file=sys.stderr)
    if args.ledger and len(records) == args.count:  # only whole ranges: an interrupted one is rerun
        entry = {k: s[k] for k in ("commit", "seed", "start", "count", "seconds", "classes")}
        entry["date"] = time.strftime("%Y-%m-%d", time.gmtime())
        entry["bugs"] = [f"{r['name']} {r['class']} {r['runtime'] or '-'}" for r in s["bugs"]]
        with open(args.ledger, "a") as f:
            f.write(json.dumps(entry) + "\n")
    return 1 if s["bugs"] else 0


if __name__ == "__main__":
    sys.exit(main())
