"""Hugging Face mixture-of-experts layers in the form torch.export can capture.

transformers 5 runs MoE experts through a pluggable `experts_implementation`. Its default on the
CPU, "grouped_mm", sorts the tokens by expert and multiplies variable-size groups (histc, sort,
an opaque `grouped_mm_fallback` op): data-dependent shapes that no static graph holds. Its
"batched_mm" computes the same thing densely: every (token, chosen expert) pair gathers its
expert's weights and runs one batched matmul, so the graph is static (GATHER + BATCH_MATMUL).
`convert` exports with "batched_mm" and puts the model's own choice back afterwards.
"""

from __future__ import annotations

import contextlib

EXPORTABLE = "batched_mm"


@contextlib.contextmanager
def exportable_experts(module):
    """Switches every Hugging Face model inside `module` that has pluggable experts to
    "batched_mm" for the duration of the export."""
    switched = []
    for m in module.modules():
        can_set = getattr(type(m), "_can_set_experts_implementation", None)
        if not callable(can_set) or not hasattr(m, "set_experts_implementation"):
            continue
        try:
            if not can_set() or getattr(m.config, "_experts_implementation", None) == EXPORTABLE:
                continue
            before = m.get_experts_implementation()
            m.set_experts_implementation(EXPORTABLE)
        except Exception:  # a model that refuses the switch is exported as it is (and may be refused)
            continue
        switched.append((m, before))
    try:
        yield
    finally:
        for m, before in reversed(switched):
            m.set_experts_implementation(before)
