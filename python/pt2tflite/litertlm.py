"""The .litertlm bundle that LiteRT-LM runs: our prefill/decode .tflite, the tokenizer and LlmMetadata,
packed with Google's `litert-lm-builder` (PyPI). docs/llm.md shows the commands.

    TFLiteModel        the .tflite, model type PREFILL_DECODE
    HF_Tokenizer_Zlib  the Hugging Face tokenizer.json (a SentencePiece tokenizer.model when there is
                       no tokenizer.json: SP_Tokenizer)
    LlmMetadataProto   start token (only when the tokenizer really prepends BOS), stop tokens (the
                       generation config's and the tokenizer's EOS), the chat template,
                       max_num_tokens = the KV cache length

Nothing here changes the model: the .tflite inside is byte for byte what `export_llm` writes.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path


class BundleError(ValueError):
    """The bundle cannot be made (missing tokenizer, builder not installed, ...)."""


def _builder():
    try:
        from litert_lm_builder import litertlm_builder
        from litert_lm_builder.runtime.proto import llm_metadata_pb2
    except ImportError as e:
        raise BundleError("writing a .litertlm needs Google's litert-lm-builder: pip install litert-lm-builder") from e
    return litertlm_builder, llm_metadata_pb2


def require_builder() -> None:
    """Raises BundleError when litert-lm-builder is not installed."""
    _builder()


def _as_id_list(x) -> list[int]:
    if x is None:
        return []
    return [int(i) for i in (x if isinstance(x, (list, tuple)) else [x])]


def _runtime_chat_template(template: str) -> str:
    """LiteRT-LM renders the template with its own Jinja subset: drop the `{% generation %}` markers
    (a Hugging Face training extension) and turn `x.get('k')` into `x['k']`, as litert-torch does."""
    template = re.sub(r"\{%-?\s*(end)?generation\s*-?%\}", "", template)
    return re.sub(r"\.get\(\s*(['\"][^'\"]*['\"])\s*\)", r"[\1]", template)


def load_tokenizer(tokenizer):
    """A transformers tokenizer from a directory (or the tokenizer object itself)."""
    if not isinstance(tokenizer, (str, os.PathLike)):
        return tokenizer
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(tokenizer))
    except (OSError, ValueError) as e:
        raise BundleError(f"no tokenizer in {tokenizer}: a .litertlm needs one ({e})") from e


def llm_metadata(tokenizer, generation_config, cache_length: int):
    """LlmMetadata for LiteRT-LM from a transformers tokenizer and GenerationConfig."""
    _, pb = _builder()
    md = pb.LlmMetadata()
    bos = tokenizer.bos_token_id
    # The engine prepends start_token to every prompt; set it only if the tokenizer itself does,
    # so that the engine sees the same ids as the model's own pipeline (Llama yes, Qwen no).
    probe = tokenizer("a")["input_ids"]
    if bos is not None and probe and probe[0] == bos:
        md.start_token.token_ids.ids.append(int(bos))
    stops = _as_id_list(getattr(generation_config, "eos_token_id", None)) + _as_id_list(tokenizer.eos_token_id)
    for stop in dict.fromkeys(stops):
        md.stop_tokens.add().token_ids.ids.append(stop)
    if getattr(tokenizer, "chat_template", None):
        template = tokenizer.chat_template
        if not isinstance(template, str):  # several named templates: LiteRT-LM takes one
            template = template.get("default") or next(iter(template.values()))
        md.jinja_prompt_template = _runtime_chat_template(template)
    md.max_num_tokens = int(cache_length)
    md.llm_model_type.generic_model.SetInParent()
    return md


def write_litertlm(tflite_bytes: bytes, output, *, tokenizer, generation_config, cache_length: int) -> None:
    """Writes the bundle to `output` (atomically: no partial file on error).

    tokenizer: a Hugging Face model/tokenizer directory or a transformers tokenizer object.
    """
    builder_mod, _ = _builder()
    tok = load_tokenizer(tokenizer)
    output = Path(output)
    with tempfile.TemporaryDirectory(prefix="pt2tflite_litertlm_") as tmp:
        tmp = Path(tmp)
        (tmp / "model.tflite").write_bytes(tflite_bytes)
        (tmp / "llm_metadata.pb").write_bytes(llm_metadata(tok, generation_config, cache_length).SerializeToString())
        tok.save_pretrained(tmp / "tokenizer")
        b = builder_mod.LitertLmFileBuilder()
        b.add_system_metadata(builder_mod.Metadata("Authors", "pt2tflite", builder_mod.DType.STRING))
        b.add_llm_metadata(str(tmp / "llm_metadata.pb"))
        if (tmp / "tokenizer" / "tokenizer.json").exists():
            b.add_hf_tokenizer(str(tmp / "tokenizer" / "tokenizer.json"))
        elif (tmp / "tokenizer" / "tokenizer.model").exists():
            b.add_sentencepiece_tokenizer(str(tmp / "tokenizer" / "tokenizer.model"))
        else:
            raise BundleError(f"the tokenizer ({type(tok).__name__}) saves neither tokenizer.json nor tokenizer.model")
        b.add_tflite_model(str(tmp / "model.tflite"), builder_mod.TfLiteModelType.PREFILL_DECODE)
        part = tmp / "model.litertlm"
        with open(part, "wb") as f:
            b.build(f)
        # Same directory as the output, then an atomic rename: no partial .litertlm on error.
        staged = output.with_name(f".{output.name}.partial")
        try:
            with open(part, "rb") as src, open(staged, "wb") as dst:
                while chunk := src.read(1 << 24):
                    dst.write(chunk)
            os.replace(staged, output)
        finally:
            staged.unlink(missing_ok=True)
