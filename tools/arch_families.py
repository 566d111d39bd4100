"""Which public architecture families convert and match: small random configs, no hub access.

Each family is built from a tiny config with random weights (`model.eval()`), converted with
pt2tflite, run in LiteRT with XNNPACK and with the builtin kernels only, and compared with PyTorch
eager: a row passes when max|diff| <= 1e-4 * max|ref| on both runtimes.

    python tools/arch_families.py              # every family, a Markdown table on stdout
    python tools/arch_families.py llama t5     # some families
"""

from __future__ import annotations

import sys
import time
import traceback

import numpy as np
import torch

import pt2tflite

TOL = 1e-4


class FirstOutput(torch.nn.Module):
    """The model's first output (logits / last hidden state) as one tensor."""

    def __init__(self, model, **fixed):
        super().__init__()
        self.model = model
        self.fixed = fixed

    def forward(self, *args):
        out = self.model(*args, **self.fixed)
        if isinstance(out, (tuple, list)):
            return out[0]
        if isinstance(out, dict):
            return next(iter(out.values()))
        return out


def _ids(n=8, vocab=100):
    return torch.randint(3, vocab, (1, n), generator=torch.Generator().manual_seed(0))


def _decoder(model_cls, config):
    config.use_cache = False
    return FirstOutput(model_cls(config), use_cache=False, return_dict=False), (_ids(),)


def gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel
    return _decoder(GPT2LMHeadModel, GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=100, n_positions=64))


_LM = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
           num_key_value_heads=2, vocab_size=100, max_position_embeddings=64)


def llama():
    from transformers import LlamaConfig, LlamaForCausalLM
    return _decoder(LlamaForCausalLM, LlamaConfig(**_LM))


def qwen3():
    from transformers import Qwen3Config, Qwen3ForCausalLM
    return _decoder(Qwen3ForCausalLM, Qwen3Config(**_LM, head_dim=16))


def gemma3():
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig
    return _decoder(Gemma3ForCausalLM, Gemma3TextConfig(**_LM, head_dim=16, sliding_window=4))


def phi3():
    from transformers import Phi3Config, Phi3ForCausalLM
    return _decoder(Phi3ForCausalLM, Phi3Config(**_LM, pad_token_id=0))


def t5():
    from transformers import T5Config, T5ForConditionalGeneration
    cfg = T5Config(d_model=64, d_ff=128, num_layers=2, num_heads=4, d_kv=16, vocab_size=100, use_cache=False)
    class Seq2Seq(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = T5ForConditionalGeneration(cfg)

        def forward(self, input_ids, decoder_input_ids):
            return self.model(input_ids=input_ids, decoder_input_ids=decoder_input_ids, use_cache=False,
                              return_dict=False)[0]

    return Seq2Seq(), (_ids(), _ids(5))


def clip_text():
    from transformers import CLIPTextConfig, CLIPTextModel
    cfg = CLIPTextConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         vocab_size=100, max_position_embeddings=32)
    return FirstOutput(CLIPTextModel(cfg), return_dict=False), (_ids(),)


def deberta_v2():
    from transformers import DebertaV2Config, DebertaV2Model
    cfg = DebertaV2Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                          vocab_size=100, max_position_embeddings=64)
    return FirstOutput(DebertaV2Model(cfg), return_dict=False), (_ids(),)


def detr():
    from transformers import DetrConfig, DetrForObjectDetection
    cfg = DetrConfig(use_timm_backbone=True, backbone="resnet18", use_pretrained_backbone=False, d_model=64,
                     encoder_layers=1, decoder_layers=1, encoder_attention_heads=4, decoder_attention_heads=4,
                     encoder_ffn_dim=128, decoder_ffn_dim=128, num_queries=10, num_labels=5)
    return FirstOutput(DetrForObjectDetection(cfg), return_dict=False), (torch.randn(1, 3, 64, 64),)


def beit():
    import timm
    m = timm.create_model("beit_base_patch16_224", pretrained=False, img_size=64, embed_dim=64, depth=2,
                          num_heads=4, num_classes=10)
    return m, (torch.randn(1, 3, 64, 64),)


FAMILIES = {
    "gpt2": gpt2, "llama": llama, "qwen3": qwen3, "gemma3": gemma3, "phi3": phi3, "t5": t5,
    "clip_text": clip_text, "deberta_v2": deberta_v2, "detr": detr, "beit": beit,
}


def _run(model, inputs, builtin_only):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    kw = {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES} if builtin_only else {}
    itp = Interpreter(model_content=model.tflite_bytes, num_threads=1, **kw)
    itp.allocate_tensors()
    for d, x in zip(itp.get_input_details(), inputs):
        itp.set_tensor(d["index"], x.numpy().astype(d["dtype"]))
    itp.invoke()
    return itp.get_tensor(itp.get_output_details()[0]["index"])


def check(name):
    torch.manual_seed(0)
    model, inputs = FAMILIES[name]()
    model = model.eval()
    with torch.no_grad():
        ref = model(*inputs).numpy()
    t0 = time.time()
    try:
        tfl = pt2tflite.convert(model, inputs)
    except Exception as e:  # the reason is the row's content
        diags = getattr(e, "diagnostics", [])
        if diags:
            reason = "; ".join(sorted({f"{d.op}: {d.message[:70]}" for d in diags}))
        else:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return {"status": "refused", "reason": f"{type(e).__name__}: {reason[:300]}"}
    secs = time.time() - t0
    scale = float(np.abs(ref).max())
    diffs = []
    for builtin_only in (False, True):
        try:
            got = _run(tfl, inputs, builtin_only)
            diffs.append(float(np.abs(got.astype(np.float64) - ref).max()) if got.shape == ref.shape else float("inf"))
        except Exception as e:
            return {"status": "runtime error", "reason": f"{'builtin' if builtin_only else 'xnnpack'}: {e}"[:160]}
    ok = max(diffs) <= TOL * scale
    return {"status": "match" if ok else "MISMATCH", "xnnpack": diffs[0] / scale, "builtin": diffs[1] / scale,
            "secs": secs, "ops": sum(tfl.op_histogram().values())}


def main(names):
    names = names or list(FAMILIES)
    print("| family | status | max|diff|/max|ref| XNNPACK | builtin | ops | reason |")
    print("|---|---|---|---|---|---|")
    n_ok = 0
    for name in names:
        try:
            r = check(name)
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            r = {"status": "build error", "reason": f"{type(e).__name__}: {e}"[:160]}
        n_ok += r["status"] == "match"
        x = f"{r['xnnpack']:.1e}" if "xnnpack" in r else ""
        b = f"{r['builtin']:.1e}" if "builtin" in r else ""
        print(f"| {name} | {r['status']} | {x} | {b} | {r.get('ops', '')} | {r.get('reason', '')} |", flush=True)
    print(f"\n{n_ok}/{len(names)} convert and match (max|diff| <= {TOL:g}·max|ref| on XNNPACK and builtin kernels)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
