"""Pretrained EfficientNet-Lite0 on packaged natural images: TFLite's top-5 equals PyTorch's."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import real_weights_check  # noqa: E402


def test_pretrained_efficientnet_lite0_agrees_on_natural_images():
    rows = real_weights_check.evaluate()
    assert len(rows) >= 10
    for r in rows:
        assert r["got"][0] == r["ref"][0], f"{r['image']}: top-1 differs"
        assert r["got"] == r["ref"], f"{r['image']}: top-5 differs"
        assert r["max_err"] <= 1e-4, f"{r['image']}: max |diff| {r['max_err']}"
