"""The models of the public sweeps (tools/sweep.py): which ones, and how each is built.

Every builder returns (model, input specs, classifier): the model in eval mode with random weights
(seed 0), a list of input specs for `zoo.make_input` (a float shape, or ("ids", shape) for token
ids), and whether the output is class scores whose argmax must agree.

- timm: one model per architecture module (`timm.models.<module>`): of the 8 names that look smallest,
  the one with the fewest parameters; its default input size capped at 256 px.
- timm-more: a second model per module (the next smallest under 40M parameters), built the same way.
- hf: Hugging Face transformers architectures built from small configs (no hub access).
- hf-lm: every causal language model type of transformers' auto mapping that the hf list lacks, each
  from one generic small config (the same keyword arguments for all), so a new architecture is
  swept the day transformers ships it.
- yolo: Ultralytics YOLO built from the package's yaml configs, no weights, heads in export mode.
"""

from __future__ import annotations

import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zoo  # noqa: E402

MAX_SIDE = 256


# ---------------------------------------------------------------- timm

SIZE_WORDS = ["atto", "zepto", "femto", "pico", "nano", "xxxs", "xxs", "xs", "tiny", "mini", "micro", "small", "lite",
              "s", "t", "n", "b0", "m0", "0"]
CANDIDATES = 8


def size_rank(name: str) -> tuple:
    """How small a timm model name suggests it is (lower: smaller), to try the likely smallest first."""
    import re

    parts = re.split(r"[_.]", name)
    for rank, word in enumerate(SIZE_WORDS):
        if any(p == word or (len(word) > 2 and word in p) or p.endswith(word) for p in parts):
            return rank, len(name)
    return len(SIZE_WORDS), len(name)


def timm_candidates(module: str, count: int) -> list[tuple[int, str]]:
    """(parameters, name) of the first `count` names of a timm module by size_rank, counted on the meta
    device (nothing is allocated); a variant that cannot be built here is not a candidate."""
    import timm

    found = []
    for name in sorted(timm.list_models(module=module), key=size_rank)[:count]:
        try:
            with torch.device("meta"):
                found.append((sum(p.numel() for p in timm.create_model(name, pretrained=False).parameters()), name))
        except Exception:
            continue
    return found


def timm_keys() -> list[str]:
    """One model per timm architecture module: of the names that look smallest (size_rank), the one
    with the fewest parameters."""
    import timm

    keys = []
    for module in sorted(timm.list_modules()):
        found = timm_candidates(module, CANDIDATES)
        if found:
            keys.append(f"timm:{module}/{min(found)[1]}")
    return keys


def timm_more_keys() -> list[str]:
    """A second model per timm module: of a wider set of small-looking names, the one with the fewest
    parameters (under 40 million) other than timm_keys' pick. Variants often differ in more than size:
    attention type, pooling, window shape, input size."""
    import timm

    keys = []
    for module in sorted(timm.list_modules()):
        found = timm_candidates(module, 2 * CANDIDATES)
        first = set(sorted(timm.list_models(module=module), key=size_rank)[:CANDIDATES])  # timm_keys' candidates
        picked = min((c for c in found if c[1] in first), default=(0, ""))[1]
        rest = sorted(c for c in found if c[1] != picked and c[0] < 40_000_000)
        if rest:
            keys.append(f"timm-more:{module}/{rest[0][1]}")
    return keys


def build_timm(name: str):
    import timm

    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False)
    c, h, w = model.pretrained_cfg.get("input_size", (3, 224, 224))
    if max(h, w) > MAX_SIDE:
        scale = MAX_SIDE / max(h, w)
        # A multiple of 32 (the usual total stride) and of the patch size (DeepSeek's ViT: 14).
        patch = next((m.patch_size for m in model.modules() if hasattr(m, "patch_size")), 1)
        step = math.lcm(32, *(int(p) for p in (patch if isinstance(patch, (tuple, list)) else (patch,))))
        h, w = int(h * scale) // step * step or step, int(w * scale) // step * step or step
        try:  # models with a fixed grid (ViT position embeddings, Swin windows) take a new size
            model = timm.create_model(name, pretrained=False, img_size=(h, w))
        except TypeError:
            pass
    zoo.fill_zero_parameters(model)
    return model.eval(), [(1, c, h, w)], True


# ---------------------------------------------------------------- Hugging Face

class FirstOutput(torch.nn.Module):
    """The model's first output (last hidden state or logits) as a plain tensor; inputs by name."""

    def __init__(self, model, names):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, *inputs):
        return self.model(**dict(zip(self.names, inputs)), return_dict=False)[0]


TEXT = dict(vocab_size=1024, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
            max_position_embeddings=128)
LM = dict(TEXT, num_key_value_heads=2, use_cache=False)
VIT = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, image_size=64,
           patch_size=8)
SEQ2SEQ = dict(vocab_size=1024, d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
               decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128, max_position_embeddings=128,
               use_cache=False, pad_token_id=1, decoder_start_token_id=2)
AUDIO = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, conv_dim=(32,) * 7,
             num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
IDS = [("input_ids", ("ids", (1, 16)))]
PIXELS = [("pixel_values", (1, 3, 64, 64))]
SEQ2SEQ_IDS = [("input_ids", ("ids", (1, 16))), ("decoder_input_ids", ("ids", (1, 8)))]

# name → (config class, model class, config kwargs, inputs [(argument, spec)], classifier)
HF = {
    # encoders
    "bert": ("BertConfig", "BertModel", TEXT, IDS, False),
    "roberta": ("RobertaConfig", "RobertaModel", TEXT, IDS, False),
    "xlm_roberta": ("XLMRobertaConfig", "XLMRobertaModel", TEXT, IDS, False),
    "distilbert": ("DistilBertConfig", "DistilBertModel",
                   dict(vocab_size=1024, dim=64, n_layers=2, n_heads=4, hidden_dim=128), IDS, False),
    "albert": ("AlbertConfig", "AlbertModel", dict(TEXT, embedding_size=32), IDS, False),
    "electra": ("ElectraConfig", "ElectraModel", dict(TEXT, embedding_size=32), IDS, False),
    "mobilebert": ("MobileBertConfig", "MobileBertModel",
                   dict(TEXT, embedding_size=32, intra_bottleneck_size=32, true_hidden_size=32), IDS, False),
    "mpnet": ("MPNetConfig", "MPNetModel", TEXT, IDS, False),
    "deberta_v2": ("DebertaV2Config", "DebertaV2Model", TEXT, IDS, False),
    "modernbert": ("ModernBertConfig", "ModernBertModel",
                   dict(TEXT, global_attn_every_n_layers=2, local_attention=8, pad_token_id=0, bos_token_id=1,
                        eos_token_id=2, cls_token_id=1, sep_token_id=2), IDS, False),
    "bert_classifier": ("BertConfig", "BertForSequenceClassification", TEXT, IDS, True),
    # decoder-only language models (logits)
    "llama": ("LlamaConfig", "LlamaForCausalLM", LM, IDS, True),
    "mistral": ("MistralConfig", "MistralForCausalLM", LM, IDS, True),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM", dict(LM, num_local_experts=4, num_experts_per_tok=2),
                IDS, True),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", LM, IDS, True),
    "qwen2_moe": ("Qwen2MoeConfig", "Qwen2MoeForCausalLM",
                  dict(LM, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=64,
                       shared_expert_intermediate_size=64), IDS, True),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", dict(LM, head_dim=16), IDS, True),
    "phi": ("PhiConfig", "PhiForCausalLM", LM, IDS, True),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", dict(LM, pad_token_id=0), IDS, True),
    "gemma": ("GemmaConfig", "GemmaForCausalLM", dict(LM, head_dim=16), IDS, True),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", dict(LM, head_dim=16, sliding_window=8), IDS, True),
    "gemma3": ("Gemma3TextConfig", "Gemma3ForCausalLM", dict(LM, head_dim=16, sliding_window=8), IDS, True),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", dict(vocab_size=1024, n_embd=64, n_layer=2, n_head=4,
                                                    n_positions=128, use_cache=False), IDS, True),
    "gpt_neo": ("GPTNeoConfig", "GPTNeoForCausalLM",
                dict(vocab_size=1024, hidden_size=64, num_layers=2, num_heads=4, attention_types=[[["global", "local"], 1]],
                     window_size=8, max_position_embeddings=128, use_cache=False), IDS, True),
    "gptj": ("GPTJConfig", "GPTJForCausalLM", dict(vocab_size=1024, n_embd=64, n_layer=2, n_head=4, rotary_dim=8,
                                                   n_positions=128, use_cache=False), IDS, True),
    "gpt_neox": ("GPTNeoXConfig", "GPTNeoXForCausalLM", LM, IDS, True),
    "opt": ("OPTConfig", "OPTForCausalLM", dict(vocab_size=1024, hidden_size=64, num_hidden_layers=2,
                                                num_attention_heads=4, ffn_dim=128, word_embed_proj_dim=64,
                                                max_position_embeddings=128, use_cache=False), IDS, True),
    "bloom": ("BloomConfig", "BloomForCausalLM", dict(vocab_size=1024, hidden_size=64, n_layer=2, n_head=4,
                                                      use_cache=False), IDS, True),
    "falcon": ("FalconConfig", "FalconForCausalLM", dict(LM, num_kv_heads=2), IDS, True),
    "olmo": ("OlmoConfig", "OlmoForCausalLM", LM, IDS, True),
    "olmo2": ("Olmo2Config", "Olmo2ForCausalLM", LM, IDS, True),
    "stablelm": ("StableLmConfig", "StableLmForCausalLM", LM, IDS, True),
    "granite": ("GraniteConfig", "GraniteForCausalLM", LM, IDS, True),
    "smollm3": ("SmolLM3Config", "SmolLM3ForCausalLM", dict(LM, pad_token_id=0), IDS, True),
    # sequence to sequence (logits)
    "t5": ("T5Config", "T5ForConditionalGeneration",
           dict(vocab_size=1024, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4, use_cache=False,
                decoder_start_token_id=0), SEQ2SEQ_IDS, True),
    "bart": ("BartConfig", "BartForConditionalGeneration", SEQ2SEQ, SEQ2SEQ_IDS, True),
    "marian": ("MarianConfig", "MarianMTModel", SEQ2SEQ, SEQ2SEQ_IDS, True),
    "whisper": ("WhisperConfig", "WhisperForConditionalGeneration",
                dict(SEQ2SEQ, num_mel_bins=80, max_source_positions=100, max_target_positions=64),
                [("input_features", (1, 80, 200)), ("decoder_input_ids", ("ids", (1, 8)))], True),
    # vision
    "vit": ("ViTConfig", "ViTForImageClassification", VIT, PIXELS, True),
    "deit": ("DeiTConfig", "DeiTModel", VIT, PIXELS, False),
    "beit": ("BeitConfig", "BeitModel", dict(VIT, use_relative_position_bias=True), PIXELS, False),
    "data2vec_vision": ("Data2VecVisionConfig", "Data2VecVisionModel", VIT, PIXELS, False),
    "dinov2": ("Dinov2Config", "Dinov2Model", VIT, PIXELS, False),
    "dinov2_registers": ("Dinov2WithRegistersConfig", "Dinov2WithRegistersModel", VIT, PIXELS, False),
    "swin": ("SwinConfig", "SwinModel", dict(image_size=64, embed_dim=32, depths=[2, 2], num_heads=[2, 4],
                                             window_size=4), PIXELS, False),
    "swinv2": ("Swinv2Config", "Swinv2Model", dict(image_size=64, embed_dim=32, depths=[2, 2], num_heads=[2, 4],
                                                   window_size=4), PIXELS, False),
    "convnext": ("ConvNextConfig", "ConvNextForImageClassification",
                 dict(hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1]), PIXELS, True),
    "convnextv2": ("ConvNextV2Config", "ConvNextV2Model", dict(hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1]),
                   PIXELS, False),
    "mobilevit": ("MobileViTConfig", "MobileViTModel", dict(image_size=64), PIXELS, False),
    "mobilevitv2": ("MobileViTV2Config", "MobileViTV2Model", dict(image_size=64), PIXELS, False),
    "levit": ("LevitConfig", "LevitModel", dict(image_size=224), [("pixel_values", (1, 3, 224, 224))], False),
    "segformer": ("SegformerConfig", "SegformerForSemanticSegmentation", dict(), PIXELS, False),
    "pvt_v2": ("PvtV2Config", "PvtV2Model", dict(), PIXELS, False),
    "resnet": ("ResNetConfig", "ResNetForImageClassification", dict(hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1],
                                                                    embedding_size=16), PIXELS, True),
    "regnet": ("RegNetConfig", "RegNetModel", dict(), PIXELS, False),
    "efficientnet": ("EfficientNetConfig", "EfficientNetModel", dict(image_size=64), PIXELS, False),
    "detr": ("DetrConfig", "DetrModel", dict(use_timm_backbone=True, backbone="resnet18", use_pretrained_backbone=False,
                                             d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                                             decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128,
                                             num_queries=16), PIXELS, False),
    "yolos": ("YolosConfig", "YolosModel", dict(VIT, image_size=[64, 64], num_detection_tokens=10), PIXELS, False),
    "dpt": ("DPTConfig", "DPTForDepthEstimation", dict(VIT, image_size=64, patch_size=8, neck_hidden_sizes=[16, 32, 64, 64],
                                                        num_hidden_layers=4, fusion_hidden_size=32,
                                                        backbone_out_indices=[0, 1, 2, 3]),
            PIXELS, False),
    "clip_text": ("CLIPTextConfig", "CLIPTextModel", TEXT, IDS, False),
    "clip_vision": ("CLIPVisionConfig", "CLIPVisionModel", dict(VIT, image_size=32), [("pixel_values", (1, 3, 32, 32))],
                    False),
    "siglip_text": ("SiglipTextConfig", "SiglipTextModel", TEXT, IDS, False),
    "siglip_vision": ("SiglipVisionConfig", "SiglipVisionModel", dict(VIT, image_size=32),
                      [("pixel_values", (1, 3, 32, 32))], False),
    # audio
    "wav2vec2": ("Wav2Vec2Config", "Wav2Vec2Model", AUDIO, [("input_values", (1, 4000))], False),
    "hubert": ("HubertConfig", "HubertModel", AUDIO, [("input_values", (1, 4000))], False),
}


def hf_keys() -> list[str]:
    return [f"hf:{name}" for name in HF]


def build_hf_model(config_cls: str, model_cls: str, kwargs: dict, inputs: list, classifier: bool):
    """A transformers model from its class names and config keywords, as every hf builder returns it."""
    import transformers as T

    torch.manual_seed(0)
    model = getattr(T, model_cls)(getattr(T, config_cls)(**kwargs)).eval()
    zoo.fill_zero_parameters(model)
    return FirstOutput(model, [a for a, _ in inputs]).eval(), [s for _, s in inputs], classifier


def build_hf(name: str):
    return build_hf_model(*HF[name])


GENERIC_LM = dict(LM, head_dim=16, pad_token_id=0, bos_token_id=1, eos_token_id=2)
# Types the generic config cannot give a small model, and why (they stay out of the sweep).
HF_LM_SKIPPED = {
    "blt": "its default hash-byte embeddings alone need more than 20 GB at any hidden size",
    # Multimodal wrappers: the generic keywords do not reach their text and vision sub-configs, whose
    # defaults are full size (out of memory on 24 GB); their text models are swept (gemma3 in hf,
    # gemma3n_text and gemma4_text here; mllama is Llama 3.2 Vision).
    **dict.fromkeys(["gemma3", "gemma3n", "gemma4", "gemma4_unified", "mllama"],
                    "a multimodal wrapper with full-size default sub-configs"),
}


MLA = dict(num_key_value_heads=None, head_dim=None, qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=16,
           kv_lora_rank=32, q_lora_rank=32)
ROUTED_MOE = dict(n_routed_experts=4, num_experts_per_tok=2, moe_intermediate_size=32, n_group=1, topk_group=1,
                  first_k_dense_replace=1)
SMALL_MOE = dict(num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32, shared_expert_intermediate_size=32)
# Where the generic config does not give a small model PyTorch can run: the keyword arguments to
# change (None drops one of the generic ones).
HF_LM_OVERRIDES = {
    "axk1": dict(MLA, **ROUTED_MOE),
    "axk2": dict(MLA, **ROUTED_MOE),
    "codegen": dict(rotary_dim=8, n_embd=64, n_layer=2, n_head=4, n_positions=128),
    "deepseek_v2": dict(MLA, **ROUTED_MOE),
    "deepseek_v3": dict(MLA, **ROUTED_MOE),
    "deepseek_v32": dict(MLA, **ROUTED_MOE),
    "dots1": dict(ROUTED_MOE, n_shared_experts=1),
    "glm4_moe_lite": dict(MLA, **ROUTED_MOE),
    "glm_moe_dsa": dict(MLA, **ROUTED_MOE),
    "mamba2": dict(num_heads=8, head_dim=16, expand=2, n_groups=1, state_size=16, num_key_value_heads=None),
    "minicpm3": dict(MLA, **ROUTED_MOE),
    "plbart": dict(d_model=64, encoder_attention_heads=4, decoder_attention_heads=4, encoder_layers=2,
                   decoder_layers=2, encoder_ffn_dim=128, decoder_ffn_dim=128),
    # 512 experts of 512 by default: 400 MB of weights, past the timeout on the builtin kernels.
    "qwen3_next": SMALL_MOE,
    "qwen4_exp_text": SMALL_MOE,
    "sarvam_mla": dict(MLA, **ROUTED_MOE),
}


def hf_lm_keys() -> list[str]:
    from transformers.models.auto import configuration_auto, modeling_auto

    curated = {config for config, *_ in HF.values()}
    return [f"hf-lm:{t}" for t in sorted(modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)
            if configuration_auto.CONFIG_MAPPING_NAMES.get(t) not in curated and t not in HF_LM_SKIPPED]


def build_hf_lm(model_type: str):
    from transformers.models.auto import configuration_auto, modeling_auto

    kwargs = {k: v for k, v in dict(GENERIC_LM, **HF_LM_OVERRIDES.get(model_type, {})).items() if v is not None}
    return build_hf_model(configuration_auto.CONFIG_MAPPING_NAMES[model_type],
                          modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[model_type], kwargs, IDS, True)


# ---------------------------------------------------------------- Ultralytics

YOLO = ["yolov3-tiny", "yolov5nu", "yolov6n", "yolov8n", "yolov8n-seg", "yolov8n-pose", "yolov8n-obb", "yolov8n-cls",
        "yolov8n-p2", "yolov8n-ghost", "yolov9t", "yolov9c-seg", "yolov10n", "yolo11n", "yolo11n-seg", "yolo11n-pose",
        "yolo11n-obb", "yolo11n-cls", "yolo12n", "yolo12n-seg", "yolo12n-pose", "yolo12n-obb", "yolo12n-cls",
        "yolo26n", "yolo26n-seg", "yolo26n-pose", "yolo26n-obb", "yolo26n-cls", "rtdetr-l", "yolov8n-rtdetr"]
YOLO_SIZE = 320


def yolo_keys() -> list[str]:
    return [f"yolo:{name}" for name in YOLO]


class TupleOutputs(torch.nn.Module):
    """Flattens nested list/tuple outputs into one tuple of tensors."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return tuple(flatten(self.model(x)))


def flatten(y) -> list[torch.Tensor]:
    if isinstance(y, torch.Tensor):
        return [y]
    if isinstance(y, dict):
        return [t for _, v in sorted(y.items()) for t in flatten(v)]
    if isinstance(y, (list, tuple)):
        return [t for v in y for t in flatten(v)]
    return []  # None and non-tensor outputs carry nothing to compare


def build_yolo(name: str):
    import ultralytics

    torch.manual_seed(0)
    wrapper = ultralytics.RTDETR if "rtdetr" in name else ultralytics.YOLO
    model = wrapper(f"{name}.yaml").model.eval()
    for m in model.modules():  # as Ultralytics' own exporter does: heads return their decoded output only
        if hasattr(m, "export"):
            m.export = True
        if hasattr(m, "dynamic"):
            m.dynamic = False
    zoo.fill_zero_parameters(model)
    size = 224 if name.endswith("-cls") else YOLO_SIZE
    return TupleOutputs(model).eval(), [(1, 3, size, size)], name.endswith("-cls")


# Per family: the models left out of it on purpose, and why (rendered in docs/coverage.md).
SKIPPED = {"hf-lm": HF_LM_SKIPPED}
FAMILIES = {"timm": (timm_keys, build_timm), "timm-more": (timm_more_keys, build_timm), "hf": (hf_keys, build_hf),
            "hf-lm": (hf_lm_keys, build_hf_lm), "yolo": (yolo_keys, build_yolo)}


def build(key: str):
    family, name = key.split(":", 1)
    if family.startswith("timm"):
        name = name.split("/", 1)[1]
    return FAMILIES[family][1](name)
