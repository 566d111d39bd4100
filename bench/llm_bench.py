"""LLM export benchmark: pt2tflite's export_llm against litert-torch 0.10 export_hf, side by side.

    python3 bench/llm_bench.py                        # llama, qwen3, smollm; fp32; S=1024, T=128
    python3 bench/llm_bench.py --quantize int8        # ours int8 vs export_hf dynamic_wi8_afp32
    python3 bench/llm_bench.py --configs llama --threads 1 2 --repeats 5
    python3 bench/llm_bench.py --big                  # also the ~1B Llama: conversion time and RSS
    python3 bench/llm_bench.py --configs llama1b --no-speed   # only the 1B memory measurement

(`make bench-llm` runs the default.) Run it with the python that has pt2tflite, torch, transformers
and ai-edge-litert; the incumbent runs in its own venv (bench/setup_incumbent_venv.sh, created on
first use).

Per config (a small random Hugging Face model, built from a config with a fixed seed and saved with
save_pretrained into a temporary directory, so that both tools load the same weights):

1. conversion, each tool in a fresh process (bench/ours_export_llm.py, bench/incumbent_export_hf.py):
   wall time from the loaded model to the written file, and peak RSS above the RSS of the process
   once the PyTorch model is loaded (bench/rss.py: VmHWM reset after loading); file size. A
   watchdog kills a child that exceeds --rss-cap-gb or --timeout (the machine is shared) and the
   result says so;
2. correctness of both files: teacher-forced decode logits against Hugging Face in float64
   (bench/llm_runtime.py), relative max error and top-1 agreement, so that a fast but wrong file is
   flagged, not celebrated;
3. speed of both files in the same runtime: ai-edge-litert Interpreter, default XNNPACK delegate,
   same thread count, signature runners with their inputs set once and only Invoke() timed,
   invokes of the two files interleaved; prefill (T tokens) and decode (one token) at several
   cache fills; the median of --repeats passes of (median of N invokes), with the load average.

Writes bench/results/llm_<date>[_<quantize>].md and .json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)

MIB = 1024.0 * 1024.0

# Small random configs of the three families the issue names (GQA everywhere), and the ~1B Llama.
CONFIGS = {
    "llama": ("LlamaConfig", dict(vocab_size=8192, hidden_size=512, intermediate_size=1536, num_hidden_layers=4,
                                  num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=4096)),
    "qwen3": ("Qwen3Config", dict(vocab_size=8192, hidden_size=512, intermediate_size=1536, num_hidden_layers=4,
                                  num_attention_heads=8, num_key_value_heads=2, head_dim=64,
                                  max_position_embeddings=4096)),
    # SmolLM-135M's shape (576 hidden, 9 heads / 3 KV heads, tied embeddings), 4 layers, smaller vocabulary.
    "smollm": ("LlamaConfig", dict(vocab_size=8192, hidden_size=576, intermediate_size=1536, num_hidden_layers=4,
                                   num_attention_heads=9, num_key_value_heads=3, tie_word_embeddings=True,
                                   max_position_embeddings=4096)),
    # The 1B's widths with 4 layers (3.7e8 parameters, 1.5 GB): where the 1B's copies are, on a machine
    # where the 1B does not fit next to its copies.
    "llama1b_4l": ("LlamaConfig", dict(vocab_size=32000, hidden_size=2048, intermediate_size=8192, num_hidden_layers=4,
                                       num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=4096)),
    # About 1.1e9 parameters (4.4 GB fp32): Llama-3.2-1B-like widths with a 32k vocabulary.
    "llama1b": ("LlamaConfig", dict(vocab_size=32000, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                                    num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=4096)),
}
SMALL = ["llama", "qwen3", "smollm"]
BIG = "llama1b"

# export_hf's recipe for each of our --quantize values (llm-export.md 1.5): dynamic-range int8 per
# channel (FC, embedding, const BMM), and blockwise int4 with block 32 for the FC weights.
INCUMBENT_RECIPE = {"none": "none", "int8": "dynamic_wi8_afp32", "int4": "dynamic_wi4b32_afp32"}

# Targets from issue 12 ("Done when").
TARGET_DECODE, TARGET_PREFILL, TARGET_CONVERT, TARGET_RSS = 1.3, 1.0, 10.0, 1.2


def log(msg: str) -> None:
    print(f"[llm_bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _sh(cmd: str) -> str:
    return subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                          cwd=REPO_DIR).stdout.strip()


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------

def write_tokenizer(model_dir: str) -> None:
    """A small word-level tokenizer: export_hf loads one from the model directory (it bundles it),
    there is no hub here, and the .tflite files do not depend on it."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{f"w{i}": i + 3 for i in range(253)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>",
                            eos_token="</s>").save_pretrained(model_dir)


def build_model_dir(name: str, model_dir: str, seed: int = 0) -> dict:
    """Random weights from the config (Hugging Face's own init, fixed seed), saved with save_pretrained."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    cls_name, kwargs = CONFIGS[name]
    cfg = getattr(transformers, cls_name)(**kwargs)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    n_params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(model_dir)
    write_tokenizer(model_dir)
    del model
    return {"params": n_params, "build_s": time.perf_counter() - t0, "config": {"class": cls_name, **kwargs}}


# ---------------------------------------------------------------------------------------------
# Conversion children
# ---------------------------------------------------------------------------------------------

def _tree_rss_kib(pid: int) -> int:
    """RSS of a process and its descendants (KiB)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def run_child(cmd: list[str], json_path: str, log_path: str, timeout_s: float, rss_cap_mb: float) -> dict:
    """Runs a conversion child under a watchdog; returns its JSON (or what is known) plus
    `wall_s`, `watchdog_max_rss_mb` and `killed` (why the watchdog stopped it, if it did)."""
    t0 = time.perf_counter()
    state = {"max_kib": 0, "killed": None}
    with open(log_path, "w") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, cwd=BENCH_DIR, start_new_session=True)

        def watch():
            while proc.poll() is None:
                kib = _tree_rss_kib(proc.pid)
                state["max_kib"] = max(state["max_kib"], kib)
                elapsed = time.perf_counter() - t0
                reason = None
                if kib / 1024 > rss_cap_mb:
                    reason = f"RSS {kib / 1024 / 1024:.1f} GiB above the cap of {rss_cap_mb / 1024:.1f} GiB after {elapsed:.0f} s"
                elif elapsed > timeout_s:
                    reason = f"still running after {timeout_s:.0f} s (RSS {kib / 1024 / 1024:.1f} GiB)"
                if reason:
                    state["killed"] = reason
                    os.killpg(proc.pid, 9)
                    return
                time.sleep(0.2)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        rc = proc.wait()
        watcher.join()
    result: dict = {}
    if os.path.exists(json_path):
        with open(json_path) as f:
            result = json.load(f)
    result.update(returncode=rc, wall_s=time.perf_counter() - t0, watchdog_max_rss_mb=state["max_kib"] / 1024,
                  killed=state["killed"], log=log_path)
    if not result.get("ok") and not result.get("error"):
        with open(log_path, errors="replace") as f:
            result["error"] = (state["killed"] or "") + " " + f.read()[-1500:]
    return result


def convert_both(name: str, model_dir: str, work: str, a, inc_py: str | None) -> dict:
    out = {}
    common = ["--model-dir", model_dir, "--prefill-length", str(a.prefill_length), "--cache-length", str(a.cache_length)]
    cap = a.rss_cap_gb * 1024
    ours = os.path.join(work, f"{name}_ours.tflite")
    if not a.skip_ours:
        log(f"{name}: converting with pt2tflite")
        out["ours"] = run_child([sys.executable, os.path.join(BENCH_DIR, "ours_export_llm.py"), "--out", ours,
                                 "--json", ours + ".json", "--quantize", a.quantize, "--prefill-logits",
                                 a.ours_prefill_logits, "--decode-lengths", a.decode_lengths,
                                 "--attend-bucket", str(a.attend_bucket), *common], ours + ".json", ours + ".log", a.timeout, cap)
        out["ours"]["path"] = ours
    if inc_py:
        inc = os.path.join(work, f"{name}_inc.tflite")
        log(f"{name}: converting with litert-torch export_hf (recipe {INCUMBENT_RECIPE[a.quantize]})")
        out["inc"] = run_child([inc_py, os.path.join(BENCH_DIR, "incumbent_export_hf.py"), "--out", inc, "--json",
                                inc + ".json", "--recipe", INCUMBENT_RECIPE[a.quantize], *common], inc + ".json",
                               inc + ".log", a.incumbent_timeout, cap)
        out["inc"]["path"] = inc
    for side, r in out.items():
        log(f"{name}: {side}: " + (f"{r['convert_s']:.1f} s, peak +{r['rss']['peak_above_start_mb']:.0f} MiB, "
                                   f"{r['tflite_bytes'] / MIB:.1f} MiB" if r.get("ok") else f"FAILED: {r.get('error', '')[:300]}"))
    return out


# ---------------------------------------------------------------------------------------------
# Correctness and speed of the files
# ---------------------------------------------------------------------------------------------

def check_against_hf(model_dir: str, paths: dict[str, str], prefill_len: int = 8, steps: int = 24) -> dict:
    """Teacher-forced decode logits of each file vs Hugging Face in float64."""
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM

    import llm_runtime

    hf = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float64).eval()
    seq = np.random.default_rng(1).integers(1, hf.config.vocab_size, prefill_len + steps)
    with torch.no_grad():
        want = hf(torch.tensor(seq)[None]).logits[0, prefill_len:].numpy()
    del hf
    out = {}
    for label, path in paths.items():
        try:
            got = llm_runtime.teacher_forced_decode_logits(path, seq, prefill_len)
            rel = np.abs(got - want).max(axis=-1) / np.abs(want).max(axis=-1)
            out[label] = {"max_rel_err": float(rel.max()), "top1_agreement": float((got.argmax(-1) == want.argmax(-1)).mean()),
                          "steps": steps}
        except Exception as e:  # noqa: BLE001 - a file that does not run is a result
            out[label] = {"error": f"{type(e).__name__}: {e}"[:500]}
    return out


RUNTIMES = {"interpreter": "time_signatures", "compiled": "time_compiled"}


def time_both(paths: dict[str, str], a) -> dict:
    """{"<runtime> <threads>": {label: {case: {"median_ms", "pass_medians_ms"}}, "loadavg": [...]}}."""
    import llm_runtime

    out = {}
    for runtime in a.runtimes:
        for n in a.threads:
            out[f"{runtime} {n}"] = _time_passes(getattr(llm_runtime, RUNTIMES[runtime]), paths, n, a)
    return out


def _time_passes(timer, paths: dict[str, str], n: int, a) -> dict:
    """The median over --repeats passes of each case's median."""
    passes, loads = [], [loadavg()]
    for _ in range(a.repeats):
        passes.append(timer(paths, num_threads=n, prefill_len=a.prefill_length, fills=a.fills,
                            prefill_runs=a.prefill_runs, decode_runs=a.decode_runs))
        loads.append(loadavg())
    entry: dict = {"loadavg": loads}
    for label in paths:
        entry[label] = {}
        for case in passes[0][label]:
            if case == "xnnpack_partitions":
                continue
            if case.startswith("key@"):  # the decode signature that case called
                entry[label][case] = passes[0][label][case]
                continue
            medians = [p[label][case]["median_ms"] for p in passes]
            entry[label][case] = {"median_ms": statistics.median(medians), "pass_medians_ms": medians}
    return entry


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

def _ver(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def machine_and_versions(a, inc_py: str | None) -> dict:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    install_commit = "?"
    try:
        url = json.loads(importlib.metadata.distribution("pt2tflite").read_text("direct_url.json") or "{}").get("url", "")
        if url.startswith("file://"):
            install_commit = subprocess.run(["git", "-C", url[7:], "rev-parse", "--short=12", "HEAD"],
                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
            if subprocess.run(["git", "-C", url[7:], "status", "--porcelain", "--untracked-files=no"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip():
                install_commit += " (dirty)"
    except Exception:  # noqa: BLE001
        pass
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python3", "bench/llm_bench.py", *sys.argv[1:]]),
        "cpu": cpu, "cpus": os.cpu_count(), "mem": _sh("free -g | awk '/Mem:/ {print $2\" GiB RAM\"}'"),
        "python": platform.python_version(),
        "ours": {"pt2tflite install commit": install_commit, "repo HEAD": _sh("git rev-parse --short=12 HEAD"),
                 "torch": _ver("torch"), "transformers": _ver("transformers"), "ai-edge-litert": _ver("ai-edge-litert")},
        "settings": {"cache_length": a.cache_length, "prefill_length": a.prefill_length, "fills": a.fills,
                     "ours_prefill_logits": a.ours_prefill_logits,
                     "decode_lengths": a.decode_lengths, "attend_bucket": a.attend_bucket,
                     "threads": a.threads, "runtimes": a.runtimes, "repeats": a.repeats, "prefill_runs": a.prefill_runs,
                     "decode_runs": a.decode_runs, "quantize": a.quantize,
                     "incumbent_recipe": INCUMBENT_RECIPE[a.quantize]},
    }
    if inc_py:
        out = subprocess.run([inc_py, "-c", "import importlib.metadata as m\nfor p in ['litert-torch','ai-edge-litert',"
                              "'ai-edge-quantizer','litert-converter','torch','transformers','jax']:\n"
                              "    print(p + ' ' + m.version(p))"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True).stdout.split("\n")
        meta["incumbent"] = dict(x.split(" ", 1) for x in out if x)
    return meta


def _fmt(x, spec=".1f", none="–"):
    return none if x is None else format(x, spec)


def _ratio(a, b):
    return None if (a is None or b is None or b == 0) else a / b


def render(meta: dict, results: dict) -> str:
    s = meta["settings"]
    L = [f"# LLM export: pt2tflite export_llm vs litert-torch export_hf ({meta['date']})", ""]
    L += [f"- command: `{meta['command']}`",
          f"- machine: {meta['cpu']}, {meta['cpus']} CPUs, {meta['mem']} (shared with other jobs: see the load averages)",
          f"- load average (1/5/15 min) at start {meta.get('load_start')}, at end {meta.get('load_end')}",
          "- ours: " + ", ".join(f"{k} {v}" for k, v in meta["ours"].items()),
          "- incumbent venv: " + ", ".join(f"{k} {v}" for k, v in meta.get("incumbent", {}).items()),
          f"- settings: cache length S = {s['cache_length']}, prefill length T = {s['prefill_length']}, "
          f"quantization ours `{s['quantize']}` / export_hf recipe `{s['incumbent_recipe']}`, "
          f"threads {s['threads']}, {s['repeats']} passes × (median of {s['prefill_runs']} prefill / "
          f"{s['decode_runs']} decode invokes); the table gives the median of the pass medians"
          + (f"; ours also has decode_{{L}} signatures for L in {s['decode_lengths']} (attention over the first L "
             "cache rows; decode at position p calls the smallest L > p, `via` in the table: LiteRT-LM itself "
             "calls only `decode`)" if s.get("decode_lengths") else "")
          + (f"; ours' `decode` attends over the first L cache rows, L = the position rounded up to a multiple of "
             f"{s['attend_bucket']} (attend_bucket, read at run time)" if s.get("attend_bucket") else ""), ""]
    L += ["Ratios are ours / incumbent for speeds (tokens/s: > 1 means ours is faster) and incumbent / ours for",
          "conversion time (> 1 means ours converts faster).", ""]

    speed_rows, conv_rows, check_rows, targets = [], [], [], {"decode": [], "prefill": [], "convert": []}
    for name, r in results.items():
        conv = r.get("convert", {})
        o, i = conv.get("ours", {}), conv.get("inc", {})
        for thr, t in (r.get("speed") or {}).items():
            if "ours" not in t or "inc" not in t:
                continue
            T = s["prefill_length"]
            po, pi = T / t["ours"]["prefill"]["median_ms"] * 1e3, T / t["inc"]["prefill"]["median_ms"] * 1e3
            row = [name, *thr.split(" "), f"{po:.0f}", f"{pi:.0f}", f"**{po / pi:.2f}**"]
            targets["prefill"].append(po / pi)
            for f in s["fills"]:
                key = f"decode@{f:g}"
                do, di = 1e3 / t["ours"][key]["median_ms"], 1e3 / t["inc"][key]["median_ms"]
                via = t["ours"].get(f"key@{f:g}", "decode")
                row += [f"{do:.1f} / {di:.1f} (**{do / di:.2f}**)" + (f" via {via}" if via != "decode" else "")]
                targets["decode"].append(do / di)
            row += [f"{t['loadavg'][0][0]:.1f} → {t['loadavg'][-1][0]:.1f}"]
            speed_rows.append(row)
        def conv_cells(x):
            if not x:
                return ["–"] * 4
            if not x.get("ok"):
                why = x.get("killed") or x.get("error", "failed")
                above = "–"
                if x.get("killed") and x.get("rss_at_start_mb") and x.get("weight_bytes"):
                    mb = x["watchdog_max_rss_mb"] - x["rss_at_start_mb"]
                    above = f"> {mb:.0f} (> {mb * MIB / x['weight_bytes']:.2f}×) when stopped"
                return [f"failed: {why[:160]}", above, _fmt(x.get("rss_at_start_mb"), ".0f"), "–"]
            rss = x["rss"]
            return [f"{x['convert_s']:.1f}", f"{rss['peak_above_start_mb']:.0f} ({rss['peak_above_start_mb'] * MIB / x['weight_bytes']:.2f}×)",
                    f"{rss['rss_at_start_mb']:.0f}", f"{x['tflite_bytes'] / MIB:.1f}"]
        if conv:
            wb = o.get("weight_bytes") or i.get("weight_bytes")
            co, ci = conv_cells(o), conv_cells(i)
            speed = _ratio(i.get("convert_s") if i.get("ok") else None, o.get("convert_s") if o.get("ok") else None)
            if speed:
                targets["convert"].append(speed)
            conv_rows.append([name, f"{r['model']['params'] / 1e6:.1f} M", _fmt(wb and wb / MIB, ".0f"), co[0], ci[0],
                              f"**{speed:.2f}**" if speed else "–", co[1], ci[1], co[2], ci[2], co[3], ci[3]])
        for label, c in (r.get("check") or {}).items():
            if "error" in c:
                check_rows.append([name, label, f"does not run: {c['error'][:200]}", "–", "–"])
            else:
                bad = c["max_rel_err"] > (1e-3 if s["quantize"] == "none" else 0.2)
                check_rows.append([name, label, f"{c['max_rel_err']:.2e}", f"{c['top1_agreement']:.3f}",
                                   "**WRONG**" if bad else "ok"])

    if speed_rows:
        L += ["## Speed (tokens/s, both files in the same runtime with the same threads, invokes interleaved)", "",
              "Runtimes: `interpreter` = ai-edge-litert Interpreter signature runners, default XNNPACK delegate, inputs set",
              "once, Invoke() timed (composites run by the STABLEHLO_COMPOSITE kernel); `compiled` = ai-edge-litert",
              "CompiledModel on the CPU accelerator (XNNPACK, composites inlined) with each cache's TensorBuffer bound",
              "as input and output, run_by_name() timed: LiteRT-LM's CPU executor does this.", ""]
        hdr = ["config", "runtime", "threads", "prefill ours", "prefill inc", "prefill ratio"] + \
              [f"decode @{int(f * 100)}% ours / inc (ratio)" for f in s["fills"]] + ["load 1 min (start → end)"]
        L += ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
        L += ["| " + " | ".join(r) + " |" for r in speed_rows] + [""]
    if conv_rows:
        L += ["## Conversion (fresh process per conversion; time and RSS from the loaded PyTorch model to the written file)", ""]
        hdr = ["config", "params", "weights MiB", "time ours s", "time inc s", "speedup", "peak RSS above loaded model ours MiB (× weights)",
               "… inc", "RSS of loaded model ours MiB", "… inc", "file ours MiB", "file inc MiB"]
        L += ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
        L += ["| " + " | ".join(r) + " |" for r in conv_rows] + [""]
        phases = []
        for name, r in results.items():
            for side in ("ours", "inc"):
                x = r.get("convert", {}).get(side, {})
                if x.get("ok"):
                    ph = ", ".join(f"{k} {v:.1f} s" for k, v in x.get("phase_s", {}).items())
                    pk = ", ".join(f"{k} {v:.0f}" for k, v in x["rss"].get("sampled_peak_by_phase_mb", {}).items())
                    phases.append(f"- {name} {side}: {ph}; sampled peak RSS (MiB) per phase: {pk}")
        L += ["Phases:", ""] + phases + [""]
    if check_rows:
        L += ["## Correctness (teacher-forced decode logits vs Hugging Face float64, 24 steps after an 8-token prefill)", ""]
        L += ["| config | file | max rel err | top-1 agreement | verdict |", "|---|---|---|---|---|"]
        L += ["| " + " | ".join(r) + " |" for r in check_rows] + [""]

    def verdict(vals, target):
        if not vals:
            return "not measured", "–"
        lo = min(vals)
        return ("**hit**" if lo >= target else "**miss**"), f"min {lo:.2f}, median {statistics.median(vals):.2f}"
    L += ["## Targets (issue 12)", "", "| target | result | measured |", "|---|---|---|"]
    v, m = verdict(targets["decode"], TARGET_DECODE)
    L += [f"| decode ≥ {TARGET_DECODE}× export_hf tokens/s | {v} | {m} (every config × fill × threads) |"]
    v, m = verdict(targets["prefill"], TARGET_PREFILL)
    L += [f"| prefill ≥ {TARGET_PREFILL}× | {v} | {m} |"]
    v, m = verdict(targets["convert"], TARGET_CONVERT)
    L += [f"| conversion ≥ {TARGET_CONVERT}× faster | {v} | {m} |"]
    big = results.get(BIG, {}).get("convert", {}).get("ours", {})
    if big.get("ok"):
        x = big["rss"]["peak_above_start_mb"] * MIB / big["weight_bytes"]
        L += [f"| {BIG}: peak RSS above the loaded model ≤ {TARGET_RSS}× weights | {'**hit**' if x <= TARGET_RSS else '**miss**'} | {x:.2f}× |"]
    elif big:
        L += [f"| {BIG}: peak RSS ≤ {TARGET_RSS}× weights | **miss** (did not finish) | {big.get('killed') or big.get('error', '')[:200]} |"]
    else:
        L += [f"| {BIG}: peak RSS ≤ {TARGET_RSS}× weights | not measured (`--big`) | |"]
    L += [""]
    notes = meta.get("notes", [])
    if notes:
        L += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(L)


NOTES = [
    "Both files follow LiteRT-LM's contract. Differences that the numbers include: export_hf's prefill returns no "
    "logits (its default), nor does ours here (`prefill_logits=False`; `--ours-prefill-logits yes` "
    "for [1,T,V]): in both, the last layer's attention output, MLP, final norm and LM head are dead "
    "in prefill and not computed. export_hf takes an additive `mask` "
    "input [1,1,T,S] (set here as LiteRT-LM does, closed at -0.7·FLT_MAX); ours builds the causal mask in the graph "
    "from `input_pos`. export_hf keeps V transposed ([1,K,H,S]); ours keeps Hugging Face's [1,K,S,H].",
    "Both attend over the whole static cache S at every step (masked), so decode cost grows with S, not with the fill.",
    "Speed is the Interpreter's Invoke() alone, the inputs set once per case (the caches are separate input and output "
    "tensors, so DYNAMIC_UPDATE_SLICE copies each cache once per step in both files; LiteRT-LM binds them to one "
    "buffer and skips that copy).",
    "litert-torch 0.10.0's export_hf imports `tensorflow.lite.python.schema_py_generated` (for an unrelated "
    "text-to-image model) without depending on TensorFlow; bench/incumbent_export_hf.py aliases it to ai-edge-litert's "
    "copy of the same generated schema instead of installing TensorFlow.",
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default=",".join(SMALL), help=f"comma-separated, from {', '.join(CONFIGS)}")
    ap.add_argument("--big", action="store_true", help=f"also {BIG} (conversion time and RSS only)")
    ap.add_argument("--quantize", default="none", choices=sorted(INCUMBENT_RECIPE))
    ap.add_argument("--ours-prefill-logits", default="no", choices=["yes", "no"],
                    help="our prefill's logits: no (default, as export_hf's prefill) or all T rows")
    ap.add_argument("--cache-length", type=int, default=1024)
    ap.add_argument("--prefill-length", type=int, default=128)
    ap.add_argument("--fills", default="0.1,0.5,0.9", help="cache fills at which decode is timed")
    ap.add_argument("--attend-bucket", type=int, default=0,
                    help="ours: decode attends over the filled cache rows rounded up to this (export_llm's "
                         "attend_bucket; 0: over all S rows)")
    ap.add_argument("--decode-lengths", default="",
                    help="ours: also decode_{L} signatures for these L (cache-length buckets); decode at position p "
                         "then calls the smallest decode_{L} with L > p, as pt2tflite's runner would")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runtimes", default="interpreter,compiled", help=f"comma-separated, from {', '.join(RUNTIMES)}")
    ap.add_argument("--repeats", type=int, default=3, help="timing passes (the median is reported)")
    ap.add_argument("--prefill-runs", type=int, default=10)
    ap.add_argument("--decode-runs", type=int, default=30)
    ap.add_argument("--no-speed", action="store_true", help="conversion only")
    ap.add_argument("--skip-incumbent", action="store_true")
    ap.add_argument("--skip-ours", action="store_true", help="the incumbent alone (e.g. to repeat its 1B run)")
    ap.add_argument("--timeout", type=float, default=1200, help="seconds per conversion of ours")
    ap.add_argument("--incumbent-timeout", type=float, default=1200, help="seconds per export_hf conversion (20 min)")
    ap.add_argument("--rss-cap-gb", type=float, default=14.0,
                    help="kill a conversion child above this RSS (protects the shared machine; reported as such)")
    ap.add_argument("--include", action="append", default=[],
                    help="a .json of an earlier run of this script whose configs go into this report too (e.g. the "
                         "1B's, measured apart); the note says when and under what load")
    ap.add_argument("--workdir", help="keep the models and files here (default: a temporary directory, removed)")
    ap.add_argument("--out", help="markdown path (default bench/results/llm_<date>[_<quantize>].md)")
    a = ap.parse_args(argv)
    a.fills = [float(x) for x in a.fills.split(",")]
    a.runtimes = [x for x in a.runtimes.split(",") if x]
    for x in a.runtimes:
        if x not in RUNTIMES:
            ap.error(f"unknown runtime {x!r}")
    names = [n for n in a.configs.split(",") if n]
    if a.big and BIG not in names:
        names.append(BIG)
    for n in names:
        if n not in CONFIGS:
            ap.error(f"unknown config {n!r}")

    inc_py = None
    if not a.skip_incumbent:
        inc_py = subprocess.run(["bash", os.path.join(BENCH_DIR, "setup_incumbent_venv.sh")], stdout=subprocess.PIPE,
                                text=True, check=True).stdout.strip().splitlines()[-1]
    meta = machine_and_versions(a, inc_py)
    meta["load_start"] = loadavg()
    meta["notes"] = list(NOTES)
    work = a.workdir or tempfile.mkdtemp(prefix="llm_bench_")
    os.makedirs(work, exist_ok=True)
    day = datetime.date.today().isoformat()
    stem = a.out[:-3] if a.out else os.path.join(BENCH_DIR, "results", f"llm_{day}" + ("" if a.quantize == "none" else f"_{a.quantize}"))
    os.makedirs(os.path.dirname(stem), exist_ok=True)
    results: dict = {}
    for path in a.include:
        with open(path) as f:
            earlier = json.load(f)
        for name, r in earlier["results"].items():
            results[name] = r
        m = earlier["meta"]
        meta["notes"].append(f"{', '.join(earlier['results'])}: from an earlier run of this script ({path}, "
                             f"{m['date']}, `{m['command']}`, load {m.get('load_start')} → {m.get('load_end')}).")

    def save():
        meta["load_end"] = loadavg()
        with open(stem + ".json", "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=1)
        with open(stem + ".md", "w") as f:
            f.write(render(meta, results))

    try:
        for name in names:
            model_dir = os.path.join(work, name)
            log(f"{name}: building the random model")
            r = results[name] = {"model": build_model_dir(name, model_dir)}
            r["convert"] = convert_both(name, model_dir, work, a, inc_py)
            save()
            ok = {side: x["path"] for side, x in r["convert"].items() if x.get("ok")}
            if not name.startswith(BIG) and ok:
                log(f"{name}: checking the files against Hugging Face")
                r["check"] = check_against_hf(model_dir, ok)
                if not a.no_speed:
                    log(f"{name}: timing (load {loadavg()})")
                    r["speed"] = time_both({k: v for k, v in ok.items() if "error" not in r["check"].get(k, {})}, a)
            save()
            if not a.workdir:
                shutil.rmtree(model_dir, ignore_errors=True)
    finally:
        save()
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)
    log(f"wrote {stem}.md and .json")
    print(render(meta, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
