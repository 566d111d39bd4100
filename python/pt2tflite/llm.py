"""LLM export: a Hugging Face causal LM → one .tflite with `prefill_{T}` and `decode` signatures in
the form LiteRT-LM runs (docs/llm.md):

    tokens      int32 [1, T]      input
    input_pos   int32 [T]         input; the rows are input_pos[0] .. input_pos[0] + T - 1
    kv_cache_k_{i}, kv_cache_v_{i} float32 [1, K, S, H]  input and output of the same name
    logits      float32 [1, T, V] output

The model is exported as it is, through Hugging Face's own static cache
(transformers.integrations.executorch): its cache buffers become the kv_cache state, its cache
write a DYNAMIC_UPDATE_SLICE at input_pos[0], and its cumulative_length buffer folds away.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from pt2tflite.llm_attention import gqa_attention_for
from pt2tflite.model import Model
from pt2tflite.signatures import Signatures


def _signature_module(hf_model, cache_length: int, logits: str = "all"):
    """A module taking (tokens, input_pos) whose KV cache buffers are named kv_cache_{k,v}_{i}.
    logits: "all" ([1, T, V]); "last" (the last position only, [1, 1, V], the LM head computed for that
    row alone: Hugging Face's `logits_to_keep=1`); "none" (only the caches: what the last layer computes
    after its K/V projections, the final norm and the LM head are dead and not converted)."""
    import torch
    from transformers.integrations.executorch import TorchExportableModuleWithStaticCache

    class LiteRtLmSignature(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lm = TorchExportableModuleWithStaticCache(hf_model, batch_size=1, max_cache_len=cache_length)
            # Move the cache tensors to LiteRT-LM's names; the static cache still uses the same tensors.
            for i, _layer in enumerate(self.lm.static_cache.layers):
                self.register_buffer(f"kv_cache_k_{i}", self.lm._buffers.pop(f"key_cache_{i}"), persistent=False)
                self.register_buffer(f"kv_cache_v_{i}", self.lm._buffers.pop(f"value_cache_{i}"), persistent=False)

        def forward(self, tokens, input_pos):
            if logits == "all":
                return {"logits": self.lm(input_ids=tokens.long(), cache_position=input_pos.long())}
            # TorchExportableModuleWithStaticCache.forward, with logits_to_keep=1 passed to the model.
            for layer in self.lm.static_cache.layers:
                layer.cumulative_length.copy_(input_pos[0].long())
            outs = self.lm.model(input_ids=tokens.long(), attention_mask=None, cache=self.lm.static_cache,
                                 use_cache=True, logits_to_keep=1)
            return {} if logits == "none" else {"logits": outs.logits[:, -1:, :]}

    return LiteRtLmSignature().eval()


def _llm_signatures(hf_model, prefill_lengths, cache_length: int, prefill_logits: str) -> Signatures:
    import torch

    hf_model = hf_model.eval()
    hf_model.generation_config.cache_implementation = "static"
    for t in prefill_lengths:
        if not 1 <= t <= cache_length:
            raise ValueError(f"prefill length {t} must be in [1, cache_length={cache_length}]")
    if prefill_logits not in ("all", "last", "none"):
        raise ValueError(f"prefill_logits must be 'all', 'last' or 'none', not {prefill_logits!r}")
    sigs = Signatures()
    for t in prefill_lengths:
        sigs.signature(f"prefill_{t}", _signature_module(hf_model, cache_length, prefill_logits),
                       (torch.zeros(1, t, dtype=torch.int32), torch.arange(t, dtype=torch.int32)), strict=True)
    sigs.signature("decode", _signature_module(hf_model, cache_length),
                   (torch.zeros(1, 1, dtype=torch.int32), torch.zeros(1, dtype=torch.int32)), strict=True)
    return sigs


@contextlib.contextmanager
def _parameters_not_cloned_by_dynamo():
    """torch.export(strict=True) runs dynamo, which in export mode keeps a clone of every real tensor it
    meets as a graph input, parameters included (torch/_dynamo/variables/builder.py `_clone_input`,
    for `real_value_cache`): a transient copy of all the weights (measured 1.5x the weight bytes on a
    1.4 GB Llama). The clone protects the cached value from in-place updates made while dynamo
    evaluates real values; a model's parameters are not updated by its inference forward (this runs
    under no_grad, the caches are buffers and keep their clone), so parameters are cached as they are.
    If torch moves this function, nothing is patched and the export is the same, only bigger."""
    import torch

    try:
        from torch._dynamo.variables import builder
    except ImportError:
        yield
        return
    original = getattr(builder, "_clone_input", None)
    if original is None:
        yield
        return

    def clone_unless_parameter(value, fake_mode):
        if isinstance(value, torch.nn.Parameter):
            return value
        return original(value, fake_mode)

    builder._clone_input = clone_unless_parameter
    try:
        yield
    finally:
        builder._clone_input = original


def export_llm(hf_model, *, prefill_lengths=(8,), cache_length: int = 64, prefill_logits: str = "all",
               verbose: bool = False, num_threads: int | None = None) -> Model:
    """Converts a Hugging Face AutoModelForCausalLM (fp32, eval) into a prefill/decode Model.

    prefill_lengths: one `prefill_{T}` signature per length (T tokens written at input_pos[0]).
    cache_length: S, the KV cache length (the longest context).
    prefill_logits: "all" (logits [1, T, V] for every prefill position), "last" ([1, 1, V] for the
        last position, the LM head computed for that row only) or "none" (prefill returns only the
        caches, so the last layer's attention output, its MLP, the final norm and the LM head are not
        computed at all). LiteRT-LM samples from decode and never reads prefill logits.
    """
    import torch

    sigs = _llm_signatures(hf_model, prefill_lengths, cache_length, prefill_logits)
    # Grouped-query attention as matrix products over the K/V heads, not over K/V repeated to every
    # query head (llm_attention.py); the model's own attention setting is restored afterwards.
    with torch.no_grad(), gqa_attention_for(hf_model), _parameters_not_cloned_by_dynamo():
        return sigs.convert(verbose=verbose, num_threads=num_threads)


def export_llm_file(hf_model, path, *, prefill_lengths=(8,), cache_length: int = 64, prefill_logits: str = "all",
                    verbose: bool = False) -> list[str]:
    """export_llm, writing the .tflite to `path` without holding it (or the .pt2 archives) in memory:
    the weights are streamed from the archive files into the output (Signatures.export). Returns the
    signature keys."""
    import torch

    sigs = _llm_signatures(hf_model, prefill_lengths, cache_length, prefill_logits)
    with torch.no_grad(), gqa_attention_for(hf_model), _parameters_not_cloned_by_dynamo():
        sigs.export(path, verbose=verbose)
    return [e.name for e in sigs.entries]


def main(argv: list[str] | None = None) -> int:
    """`python -m pt2tflite.llm MODEL_DIR -o out.tflite` (also `pt2tflite export-llm ...`)."""
    p = argparse.ArgumentParser(prog="pt2tflite export-llm", description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir", help="a Hugging Face model directory (config.json + weights)")
    p.add_argument("-o", "--output", required=True, help="the .tflite file to write")
    p.add_argument("--prefill-lengths", default="8", help="comma-separated prefill lengths (default 8)")
    p.add_argument("--cache-length", type=int, default=64, help="KV cache length S (default 64)")
    p.add_argument("--prefill-logits", choices=["all", "last", "none"], default="all",
                   help="prefill returns logits for every position (all, default), the last one only, or none "
                        "(LiteRT-LM never reads them; the last layer's dead part is not converted)")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    from transformers import AutoModelForCausalLM

    from pt2tflite.errors import ConversionError

    try:
        hf = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype="float32")
        # Streamed to the file: peak memory stays near the loaded model's.
        keys = export_llm_file(hf, args.output, prefill_lengths=[int(x) for x in args.prefill_lengths.split(",")],
                               cache_length=args.cache_length, prefill_logits=args.prefill_logits,
                               verbose=args.verbose)
    except (ConversionError, ValueError, OSError) as e:
        print(f"pt2tflite: error: {e}", file=sys.stderr)
        return 2
    print(f"pt2tflite: wrote {args.output} ({os.path.getsize(args.output)} bytes), signatures {', '.join(keys)}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
