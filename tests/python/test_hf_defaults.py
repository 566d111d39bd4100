"""Hugging Face causal LMs converted the way a new user would call them: the config's defaults,
`use_cache=True` (a DynamicCache that starts as empty tensors) and, for mixture-of-experts models,
transformers' default experts implementation (grouped_mm, which `convert` exports as the
equivalent batched_mm and then restores). Both runtimes, against eager in float64. ~15 s."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import pt2tflite
from test_evaluate_constants import check_both, run_both

TINY = dict(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=64)


class Logits(nn.Module):
    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, ids):
        return self.lm(input_ids=ids, return_dict=False)[0]


def test_llama_with_its_default_dynamic_cache():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    lm = LlamaForCausalLM(LlamaConfig(**TINY)).eval()
    assert lm.config.use_cache
    check_both(Logits(lm).eval(), (torch.randint(0, 128, (1, 8)),))


@pytest.mark.parametrize("arch", ["mixtral", "qwen2_moe"])
def test_mixture_of_experts_with_the_default_experts_implementation(arch):
    import transformers

    torch.manual_seed(0)
    if arch == "mixtral":
        lm = transformers.MixtralForCausalLM(transformers.MixtralConfig(**TINY, num_local_experts=4,
                                                                        num_experts_per_tok=2))
    else:
        lm = transformers.Qwen2MoeForCausalLM(transformers.Qwen2MoeConfig(
            **TINY, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
            shared_expert_intermediate_size=32))
    lm.eval()
    before = lm.get_experts_implementation()
    assert before[""] != "batched_mm", before  # the default is the data-dependent one
    ids = torch.randint(0, 128, (1, 8))
    model = pt2tflite.convert(Logits(lm).eval(), (ids,))
    assert lm.get_experts_implementation() == before  # the user's model is given back unchanged
    assert "BATCH_MATMUL" in model.op_histogram()
    with torch.no_grad():
        want = Logits(lm)(ids).double().numpy()  # the default implementation, in float32
        lm.set_experts_implementation("eager")  # the loop over experts, which runs in float64
        want64 = Logits(lm.double())(ids).numpy()
    scale = float(np.abs(want64).max())
    for got in run_both(model, (ids,)):
        err = float(np.abs(got.astype(np.float64) - want64).max())
        assert err <= max(1e-5 * scale, 3 * float(np.abs(want - want64).max())), (err, scale)
