"""LLM export: a Hugging Face causal LM → one .tflite with `prefill_{T}` and `decode` signatures in
the form LiteRT-LM runs, alone or inside a .litertlm bundle with the tokenizer (docs/llm.md):

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
from pathlib import Path

from pt2tflite import litertlm as _litertlm
from pt2tflite.llm_attention import ATTEND_LENGTH, gqa_attention_for
from pt2tflite.model import Model
from pt2tflite.signatures import Signatures


def _signature_module(hf_model, cache_length: int, logits: bool = True, mask_input: bool = False,
                      attend_length: int | None = None, attend_bucket: int | None = None):
    """A module taking (tokens, input_pos[, mask]) whose KV cache buffers are named kv_cache_{k,v}_{i}.

    logits=False: the caches are the only outputs; the LM head is then dead code and is dropped.
    mask_input: a `mask` input, LiteRT-LM's additive float mask [1, 1, T, S] (0 where a query row may
    attend to a cache column, a large negative number elsewhere), used in place of the causal mask
    Hugging Face would build from the positions.
    attend_length: attend over the first L cache rows only (decode_{L}).
    attend_bucket: attend over the first L rows, L = input_pos[0] rounded up to the next multiple of
    the bucket (at most S), decided at run time: a slice whose size LiteRT reads from the graph, so
    one signature costs what the filled part of the cache costs. The rows past input_pos are masked
    anyway; the size changes only every `attend_bucket` steps, and only then does LiteRT re-plan."""
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

        def forward(self, tokens, input_pos, mask=None):
            if mask is None and attend_length is None and attend_bucket is None:
                out = self.lm(input_ids=tokens.long(), cache_position=input_pos.long())
            else:
                # TorchExportableModuleWithStaticCache.forward with the mask given: Hugging Face takes
                # a 4-D mask as it is, for every layer (masking_utils._preprocess_mask_arguments).
                for layer in self.lm.static_cache.layers:
                    layer.cumulative_length.copy_(input_pos[0].long())
                extra = {} if attend_length is None else {ATTEND_LENGTH: attend_length}
                if attend_bucket is not None:  # int32 arithmetic: input_pos is int32
                    rows = torch.clamp((input_pos[0] // attend_bucket + 1) * attend_bucket, max=cache_length)
                    extra = {ATTEND_LENGTH: rows}
                out = self.lm.model(input_ids=tokens.long(), attention_mask=mask, cache=self.lm.static_cache,
                                    use_cache=True, **extra).logits
            return {"logits": out} if logits else {}

    return LiteRtLmSignature().eval()


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


def _scalars_captured():
    """torch.export(strict=True) traces `.item()` (the run-time attention length) into the graph instead of
    breaking the graph there."""
    import torch._dynamo

    return torch._dynamo.config.patch(capture_scalar_outputs=True)


def export_llm(hf_model, *, prefill_lengths=(8,), cache_length: int = 64, verbose: bool = False,
               num_threads: int | None = None, output=None, tokenizer=None,
               prefill_logits: bool | None = None, quantize: str | None = None, block_size: int = 32,
               mask_input: bool = False, decode_lengths=(), attend_bucket: int | None = None) -> Model:
    """Converts a Hugging Face AutoModelForCausalLM (fp32, eval) into a prefill/decode Model.

    prefill_lengths: one `prefill_{T}` signature per length (T tokens written at input_pos[0]).
    cache_length: S, the KV cache length (the longest context).
    prefill_logits: False drops `logits` from the prefill signatures, and with it all the work only
      they need (the LM head, the last layer's attention and MLP): LiteRT-LM never reads them, it
      samples from decode. Default: False for a .litertlm, True otherwise.
    output: also write the result there: `*.litertlm` is the LiteRT-LM bundle (model + tokenizer +
      LlmMetadata, pt2tflite.litertlm), any other name the bare .tflite.
    tokenizer: for a .litertlm, the tokenizer (a directory or a transformers tokenizer); default
      the directory the model was loaded from.
    quantize: None (float32 weights), "int8" (per-channel int8 weights) or "int4" (blockwise int4
      linear and embedding weights, `block_size` elements per float16 scale); pt2tflite.convert's
      weight_quant (docs/llm.md).
    mask_input: add LiteRT-LM's optional `mask` input, float32 [1, 1, T, S], additive (0 = attend, a large
      negative number = do not), used by every layer in place of the causal mask built from input_pos.
      Refused for models with sliding-window layers.
    decode_lengths: extra `decode_{L}` signatures (L < cache_length) that attend over the first L
      cache rows only, on the same caches: valid while input_pos < L, and cheaper than `decode` on a
      long cache that is still mostly empty (LiteRT-LM itself only calls `decode`).
    attend_bucket: `decode` attends over the first L cache rows, L = input_pos[0] rounded up to a
      multiple of this (a size LiteRT reads at run time), not over all S: its cost follows the filled
      part of the cache, in LiteRT-LM too. None: over all S rows.
    """
    if output is not None and Path(output).suffix == ".litertlm":
        if tokenizer is None:
            tokenizer = getattr(hf_model, "name_or_path", "") or None
            if tokenizer is None or not Path(tokenizer).is_dir():
                raise ValueError("a .litertlm bundles the tokenizer: pass tokenizer= (a directory or a "
                                 "transformers tokenizer); the model was not loaded from a local directory")
        _litertlm.require_builder()  # fail before the conversion, not after
        tokenizer = _litertlm.load_tokenizer(tokenizer)
    if prefill_logits is None:
        prefill_logits = output is None or Path(output).suffix != ".litertlm"
    model = _convert(hf_model, prefill_lengths, cache_length, verbose, num_threads, prefill_logits, quantize, block_size,
                     mask_input, decode_lengths, attend_bucket)
    if output is not None:
        if Path(output).suffix == ".litertlm":
            _litertlm.write_litertlm(model.tflite_bytes, output, tokenizer=tokenizer,
                                     generation_config=hf_model.generation_config, cache_length=cache_length)
        else:
            model.export(output)
    return model


def export_llm_file(hf_model, path, *, prefill_lengths=(8,), cache_length: int = 64, verbose: bool = False,
                    prefill_logits: bool = True, quantize: str | None = None, block_size: int = 32,
                    mask_input: bool = False, decode_lengths=(), attend_bucket: int | None = None) -> list[str]:
    """export_llm to a bare .tflite at `path`, without holding the file (or the .pt2 archives) in memory:
    the weights are streamed from the archive files into the output (Signatures.export; docs/memory.md).
    Returns the signature keys."""
    import torch

    sigs = _signatures(hf_model, prefill_lengths, cache_length, prefill_logits, mask_input, decode_lengths,
                       attend_bucket)
    with torch.no_grad(), gqa_attention_for(hf_model), _parameters_not_cloned_by_dynamo(), _scalars_captured():
        sigs.export(path, verbose=verbose, weight_quant=quantize, block_size=block_size)
    return [e.name for e in sigs.entries]


def _convert(hf_model, prefill_lengths, cache_length: int, verbose: bool, num_threads, prefill_logits: bool,
             quantize: str | None, block_size: int, mask_input: bool = False, decode_lengths=(),
             attend_bucket: int | None = None) -> Model:
    import torch

    sigs = _signatures(hf_model, prefill_lengths, cache_length, prefill_logits, mask_input, decode_lengths,
                       attend_bucket)
    # Grouped-query attention as matrix products over the K/V heads, not over K/V repeated to every
    # query head (llm_attention.py); the model's own attention setting is restored afterwards.
    with torch.no_grad(), gqa_attention_for(hf_model), _parameters_not_cloned_by_dynamo(), _scalars_captured():
        return sigs.convert(verbose=verbose, num_threads=num_threads, weight_quant=quantize, block_size=block_size)


def _rope_types(config) -> set[str]:
    """The RoPE variants a Hugging Face config uses (one per layer type in hybrid models)."""
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    types = {rope.get("rope_type") or rope.get("type")}
    types |= {v.get("rope_type") or v.get("type") for v in rope.values() if isinstance(v, dict)}
    return types - {None}


def _refuse_unsupported(hf_model, cache_length: int, mask_input: bool = False) -> None:
    """Architectures whose Hugging Face forward a prefill/decode graph cannot express, refused before the
    export with the reason (not torch.export's error from deep inside the model)."""
    from pt2tflite.errors import ConversionError

    config = hf_model.config.get_text_config() if hasattr(hf_model.config, "get_text_config") else hf_model.config
    dynamic = {t for t in _rope_types(config) if "dynamic" in t}
    if dynamic:
        raise ConversionError(
            f"{type(hf_model).__name__}: rope_type {sorted(dynamic)[0]!r} (dynamic NTK scaling) is not supported: Hugging "
            "Face recomputes the RoPE frequencies whenever a position passes the longest one seen so far and keeps "
            "them for later calls, state that lives outside the KV cache; export the model with its rope_type set to "
            "'default', 'linear', 'llama3', 'yarn' or 'longrope' (all supported), knowing that this changes its outputs "
            "past original_max_position_embeddings")
    window = getattr(config, "sliding_window", None)
    layer_types = set(getattr(config, "layer_types", None) or [])
    sliding_layers = not layer_types or bool(layer_types - {"full_attention"})  # no layer_types: every layer
    if mask_input and window is not None and window < cache_length and sliding_layers:
        raise ConversionError(
            f"{type(hf_model).__name__}: mask_input (--mask-input) is not supported for a model with sliding-window "
            f"attention (window {window} < cache length {cache_length}): the `mask` input is one mask for every "
            "layer, and would drop the window; export without it (the masks are then built in the graph from "
            "input_pos)")


def _signatures(hf_model, prefill_lengths, cache_length: int, prefill_logits: bool,
                mask_input: bool = False, decode_lengths=(), attend_bucket: int | None = None) -> Signatures:
    import torch

    _refuse_unsupported(hf_model, cache_length, mask_input)
    hf_model = hf_model.eval()
    hf_model.generation_config.cache_implementation = "static"
    for t in prefill_lengths:
        if not 1 <= t <= cache_length:
            raise ValueError(f"prefill length {t} must be in [1, cache_length={cache_length}]")
    for length in decode_lengths:
        if not 1 <= length < cache_length:
            raise ValueError(f"decode length {length} must be in [1, cache_length={cache_length})")
    def inputs(t):
        pos = torch.arange(t, dtype=torch.int32)
        mask = (torch.where(torch.arange(cache_length)[None, :] <= pos[:, None], 0.0, -0.7 * torch.finfo(torch.float32).max)
                .reshape(1, 1, t, cache_length))
        return (torch.zeros(1, t, dtype=torch.int32), pos) + ((mask,) if mask_input else ())

    sigs = Signatures()
    for t in prefill_lengths:
        sigs.signature(f"prefill_{t}", _signature_module(hf_model, cache_length, prefill_logits, mask_input), inputs(t),
                       strict=True)
    if attend_bucket is not None and not 1 <= attend_bucket <= cache_length:
        raise ValueError(f"attend bucket {attend_bucket} must be in [1, cache_length={cache_length}]")
    bucket = attend_bucket if attend_bucket is not None and attend_bucket < cache_length else None
    sigs.signature("decode", _signature_module(hf_model, cache_length, mask_input=mask_input, attend_bucket=bucket),
                   inputs(1), strict=True)
    for length in decode_lengths:
        sigs.signature(f"decode_{length}", _signature_module(hf_model, cache_length, mask_input=mask_input,
                                                             attend_length=length), inputs(1), strict=True)
    return sigs


_CLI_EPILOG = """\
output:
  OUT.litertlm  the LiteRT-LM bundle (needs `pip install litert-lm-builder`): the model, the
                tokenizer of MODEL_DIR (tokenizer.json) and LlmMetadata (BOS/EOS, chat template,
                max_num_tokens = --cache-length). Runs as it is in LiteRT-LM, e.g. with
                `pip install litert-lm-api`:
                  import litert_lm
                  engine = litert_lm.Engine("OUT.litertlm")
                  session = engine.create_session(apply_prompt_template=False)
                  session.run_prefill(["Once upon a time"]); print(session.run_decode().texts[0])
  OUT.tflite    the model alone (signatures prefill_{T} and decode, for LiteRT's signature runners)

example:
  pt2tflite export-llm ./my-llama -o my-llama.litertlm --prefill-lengths 32,128 --cache-length 1024
"""


def main(argv: list[str] | None = None) -> int:
    """`python -m pt2tflite.llm MODEL_DIR -o out.litertlm` (also `pt2tflite export-llm ...`)."""
    p = argparse.ArgumentParser(prog="pt2tflite export-llm", description=__doc__.split("\n\n")[0],
                                epilog=_CLI_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir", help="a Hugging Face model directory (config.json + weights; tokenizer for .litertlm)")
    p.add_argument("-o", "--output", required=True, help="OUT.litertlm (LiteRT-LM bundle) or OUT.tflite (model only)")
    p.add_argument("--prefill-lengths", default="8", help="comma-separated prefill lengths (default 8)")
    p.add_argument("--cache-length", type=int, default=64, help="KV cache length S = longest context (default 64)")
    p.add_argument("--prefill-logits", action=argparse.BooleanOptionalAction, default=None,
                   help="logits output on the prefill signatures (default: yes for .tflite, no for .litertlm: "
                        "LiteRT-LM never reads them, and without them prefill skips the LM head)")
    p.add_argument("--quantize", choices=["int8", "int4"], help="weight quantization (default: float32 weights)")
    p.add_argument("--block-size", type=int, default=32, help="int4 elements per float16 scale: 32, 64 or 128")
    p.add_argument("--mask-input", action="store_true",
                   help="a `mask` input (float32 [1,1,T,S], additive) in place of the causal mask built from input_pos")
    p.add_argument("--decode-lengths", default="",
                   help="comma-separated L < cache length: extra decode_{L} signatures that attend over the first L "
                        "cache rows only (valid while input_pos < L; LiteRT-LM itself calls `decode` only)")
    p.add_argument("--attend-bucket", type=int, default=None,
                   help="decode attends over the first L cache rows, L = the position rounded up to a multiple of this, "
                        "read at run time (cost follows the filled cache, in LiteRT-LM too); default: all rows")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    from transformers import AutoModelForCausalLM

    from pt2tflite.errors import ConversionError

    try:
        hf = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype="float32")
        lengths = [int(x) for x in args.prefill_lengths.split(",")]
        decode_lengths = [int(x) for x in args.decode_lengths.split(",") if x]
        if args.output.endswith(".litertlm"):
            keys = list(export_llm(hf, prefill_lengths=lengths, cache_length=args.cache_length, verbose=args.verbose,
                                   output=args.output, prefill_logits=args.prefill_logits, tokenizer=args.model_dir,
                                   quantize=args.quantize, block_size=args.block_size,
                                   mask_input=args.mask_input, decode_lengths=decode_lengths,
                                   attend_bucket=args.attend_bucket).signatures())
        else:
            # Streamed to the file: peak memory stays near the loaded model's (docs/memory.md).
            keys = export_llm_file(hf, args.output, prefill_lengths=lengths, cache_length=args.cache_length,
                                   verbose=args.verbose, quantize=args.quantize, block_size=args.block_size,
                                   mask_input=args.mask_input, decode_lengths=decode_lengths,
                                   attend_bucket=args.attend_bucket,
                                   prefill_logits=True if args.prefill_logits is None else args.prefill_logits)
    except (ConversionError, ValueError, OSError) as e:
        print(f"pt2tflite: error: {e}", file=sys.stderr)
        return 2
    what = "LiteRT-LM bundle (model, tokenizer, LlmMetadata)" if args.output.endswith(".litertlm") else "model"
    print(f"pt2tflite: wrote {args.output}: {what}, {os.path.getsize(args.output)} bytes; signatures "
          f"{', '.join(keys)}; KV cache {args.cache_length} tokens", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
