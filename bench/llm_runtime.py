"""Run and time LLM .tflite files with prefill/decode signatures (ours or litert-torch export_hf's).

Both tools write LiteRT-LM's contract (llm-export.md 2.3) with small differences this module hides:

- inputs `tokens` [1,T] int32, `input_pos` [T] int32, caches `kv_cache_{k,v}_{i}` (any layout; the
  shapes are read from the file), and export_hf's additive `mask` [1,1,T,S] (ours builds its causal
  mask in the graph and has none);
- `logits` on decode; on prefill ours returns [1,T,V], export_hf none (by default).

Speed is measured in the ai-edge-litert Interpreter with its default XNNPACK delegate, one
Interpreter per file, through the signature runners: the inputs of a signature are set once
(the caches as at a given fill), then only Invoke() is timed, so the numpy copies of the caches
that SignatureRunner.__call__ makes are not counted for either file. Invokes of the files being
compared are interleaved (A, B, A, B, ...) so that load changes on the shared machine hit both.

Needs only numpy and ai-edge-litert (it runs in either venv).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter

# LiteRT-LM's "closed" mask value (runtime/executor: -0.7 * FLT_MAX), not -inf.
MASK_CLOSED = np.float32(-0.7 * np.finfo(np.float32).max)


def signature_keys(interp: Interpreter) -> tuple[str, str]:
    """(prefill key, decode key) of a file with one prefill_* signature and decode."""
    keys = list(interp.get_signature_list())
    prefill = [k for k in keys if k.startswith("prefill")]
    if "decode" not in keys or len(prefill) != 1:
        raise ValueError(f"expected one prefill_* signature and decode, got {keys}")
    return prefill[0], "decode"


def decode_key_for(interp: Interpreter, position: int) -> str:
    """The decode signature to call for a token at `position`: the smallest `decode_{L}` (export_llm's
    decode_lengths, attention over the first L cache rows) with L > position, else `decode`."""
    lengths = sorted(int(k.split("_")[1]) for k in interp.get_signature_list()
                     if k.startswith("decode_") and k.split("_")[1].isdigit())
    return next((f"decode_{n}" for n in lengths if n > position), "decode")


def _mask(detail: dict, positions: np.ndarray) -> np.ndarray:
    """Additive causal mask [1,1,T,S]: row t sees cache slots 0..positions[t]."""
    shape = detail["shape"]
    cols = np.arange(shape[-1])[None, :]
    allowed = cols <= positions[:, None]
    m = np.where(allowed, np.float32(0), MASK_CLOSED).astype(np.float32)
    if detail["dtype"] == np.bool_:
        return allowed.reshape(shape)
    return m.reshape(shape)


def inputs_for(runner, tokens: np.ndarray, positions: np.ndarray, caches: dict | None) -> dict:
    """The signature's inputs: tokens [1,T], input_pos [T], the mask if it takes one, and the caches
    (zeros when `caches` is None)."""
    details = runner.get_input_details()
    feed = {"tokens": tokens.reshape(1, -1).astype(np.int32), "input_pos": positions.astype(np.int32)}
    for name, d in details.items():
        if name in feed:
            continue
        if name in ("mask", "attn_mask"):
            feed[name] = _mask(d, positions)
        elif name.startswith("kv_cache_"):
            feed[name] = caches[name] if caches is not None else np.zeros(d["shape"], d["dtype"])
        else:
            raise ValueError(f"unexpected input {name!r} {d['shape']}")
    return feed


def teacher_forced_decode_logits(path: str, seq: np.ndarray, prefill_len: int, num_threads: int = 1) -> np.ndarray:
    """Prefill seq[:prefill_len] (padded with token 0 to the signature's length, as LiteRT-LM does),
    then decode seq[p] for every later p; returns the decode logits [len(seq) - prefill_len, V]:
    row j predicts the token after seq[prefill_len + j]."""
    interp = Interpreter(model_path=path, num_threads=num_threads)
    pk, dk = signature_keys(interp)
    prefill, decode = interp.get_signature_runner(pk), interp.get_signature_runner(dk)
    t = prefill.get_input_details()["tokens"]["shape"][1]
    tokens = np.zeros(t, np.int32)
    tokens[:prefill_len] = seq[:prefill_len]
    out = prefill(**inputs_for(prefill, tokens, np.arange(t), None))
    caches = {n: out[n] for n in out if n.startswith("kv_cache_")}
    got = []
    for p in range(prefill_len, len(seq)):
        out = decode(**inputs_for(decode, seq[p:p + 1], np.array([p]), caches))
        caches = {n: out[n] for n in out if n.startswith("kv_cache_")}
        got.append(out["logits"].reshape(-1))
    return np.stack(got)


class _Prepared:
    """One signature of one file with its inputs set, ready for timed Invoke()s."""

    def __init__(self, interp: Interpreter, key: str, tokens: np.ndarray, positions: np.ndarray, fill: int,
                 rng: np.random.Generator):
        self.runner = interp.get_signature_runner(key)
        caches = {}
        for name, d in self.runner.get_input_details().items():
            if name.startswith("kv_cache_"):
                # Filled rows hold values; the rest zeros (the kernels do not depend on them).
                caches[name] = rng.standard_normal(d["shape"]).astype(d["dtype"]) if fill else np.zeros(d["shape"], d["dtype"])
        self.runner(**inputs_for(self.runner, tokens, positions, caches))  # resize, allocate, set, one invoke
        self._wrapper, self._subgraph = self.runner._interpreter_wrapper, self.runner._subgraph_index

    def invoke_ns(self) -> int:
        t0 = time.perf_counter_ns()
        self._wrapper.Invoke(self._subgraph)
        return time.perf_counter_ns() - t0


def _summary(samples_ns: list[int]) -> dict:
    ms = sorted(s / 1e6 for s in samples_ns)
    return {"median_ms": statistics.median(ms), "min_ms": ms[0], "p90_ms": ms[min(len(ms) - 1, int(0.9 * len(ms)))],
            "runs": len(ms)}


def time_signatures(paths: dict[str, str], *, num_threads: int, prefill_len: int, fills: list[float],
                    prefill_runs: int = 10, decode_runs: int = 50, warmup: int = 3, seed: int = 0) -> dict:
    """Prefill and decode latency of every file, interleaved.

    Prefill: prefill_len real tokens at position 0 (the signature's full length).
    Decode: one token at position int(fill * S) with the cache rows before it filled, per fill.
    Returns {label: {"prefill": summary, "decode@0.1": summary, ..., "xnnpack_partitions": n}}.
    """
    interps = {label: Interpreter(model_path=p, num_threads=num_threads) for label, p in paths.items()}
    out: dict = {label: {} for label in paths}
    for label, interp in interps.items():
        out[label]["xnnpack_partitions"] = sum(1 for d in interp._get_ops_details() if d["op_name"] == "DELEGATE")
    rng = np.random.default_rng(seed)
    cases = [("prefill", None, prefill_runs)] + [(f"decode@{f:g}", f, decode_runs) for f in fills]
    for case, fill, runs in cases:
        prepared = {}
        for label, interp in interps.items():
            pk, dk = signature_keys(interp)
            if fill is None:
                t = interp.get_signature_runner(pk).get_input_details()["tokens"]["shape"][1]
                if t != prefill_len:
                    raise ValueError(f"{label}: prefill signature {pk} has length {t}, expected {prefill_len}")
                tokens = rng.integers(1, 100, t).astype(np.int32)
                prepared[label] = _Prepared(interp, pk, tokens, np.arange(t), 0, rng)
            else:
                s = cache_length(interp)
                pos = min(s - 1, int(fill * s))
                dk = decode_key_for(interp, pos)
                out[label][f"key@{fill:g}"] = dk
                prepared[label] = _Prepared(interp, dk, np.array([7], np.int32), np.array([pos]), pos, rng)
        for _ in range(warmup):
            for p in prepared.values():
                p.invoke_ns()
        samples: dict[str, list[int]] = {label: [] for label in prepared}
        for _ in range(runs):
            for label, p in prepared.items():
                samples[label].append(p.invoke_ns())
        for label, s in samples.items():
            out[label][case] = _summary(s)
        del prepared
    return out


def cache_length(interp: Interpreter) -> int:
    """S: the mask's last dim if the decode signature has a mask, else dim 2 of kv_cache_k_0 (the rule
    LiteRT-LM uses)."""
    d = interp.get_signature_runner("decode").get_input_details()
    if "mask" in d:
        return int(d["mask"]["shape"][-1])
    return int(d["kv_cache_k_0"]["shape"][2])


def time_compiled(paths: dict[str, str], *, num_threads: int, prefill_len: int, fills: list[float],
                  prefill_runs: int = 10, decode_runs: int = 50, warmup: int = 3, seed: int = 0) -> dict:
    """As time_signatures, in LiteRT-LM's way: ai-edge-litert CompiledModel on the CPU accelerator
    (XNNPACK, composites inlined), one TensorBuffer per cache bound as the input and the output of
    the same name (in place, as LiteRT-LM's CPU executor does), run_by_name timed whole."""
    from ai_edge_litert.compiled_model import CompiledModel, CpuOptions, HardwareAccelerator, Options

    rng = np.random.default_rng(seed)
    models = {}
    for label, path in paths.items():
        options = Options(hardware_accelerators=HardwareAccelerator.CPU, cpu_options=CpuOptions(num_threads=num_threads))
        cm = CompiledModel.from_file(path, options=options)
        shapes = Interpreter(model_path=path)  # shapes and dtypes of every signature's tensors
        models[label] = (cm, shapes)
    out: dict = {label: {} for label in paths}
    cases = [("prefill", None, prefill_runs)] + [(f"decode@{f:g}", f, decode_runs) for f in fills]
    for case, fill, runs in cases:
        runners = {}
        for label, (cm, shapes) in models.items():
            pk, _ = signature_keys(shapes)
            if fill is None:
                key = pk
                t = shapes.get_signature_runner(key).get_input_details()["tokens"]["shape"][1]
                tokens, positions, filled = rng.integers(1, 100, t).astype(np.int32), np.arange(t), 0
            else:
                s = cache_length(shapes)
                pos = min(s - 1, int(fill * s))
                key = decode_key_for(shapes, pos)
                out[label][f"key@{fill:g}"] = key
                tokens, positions, filled = np.array([7], np.int32), np.array([pos]), pos
            runner = shapes.get_signature_runner(key)
            caches = {}
            for name, d in runner.get_input_details().items():
                if name.startswith("kv_cache_"):
                    caches[name] = rng.standard_normal(d["shape"]).astype(d["dtype"]) if filled else np.zeros(d["shape"], d["dtype"])
            feed = inputs_for(runner, tokens, positions, caches)
            ins = {}
            for name, value in feed.items():
                ins[name] = cm.create_input_buffer_by_name(key, name)
                ins[name].write(np.ascontiguousarray(value).reshape(-1))
            outs = {name: ins[name] if name in ins else cm.create_output_buffer_by_name(key, name)
                    for name in runner.get_output_details()}

            def run(cm=cm, key=key, ins=ins, outs=outs):
                t0 = time.perf_counter_ns()
                cm.run_by_name(key, ins, outs)
                return time.perf_counter_ns() - t0

            runners[label] = run
        for _ in range(warmup):
            for run in runners.values():
                run()
        samples: dict[str, list[int]] = {label: [] for label in runners}
        for _ in range(runs):
            for label, run in runners.items():
                samples[label].append(run())
        for label, s in samples.items():
            out[label][case] = _summary(s)
        del runners
    return out
