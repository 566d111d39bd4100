"""Benchmark model zoo shared by the pt2tflite and incumbent benchmark runs.

Imports only torch, torchvision and timm so that both the project's
environment and the incumbent's venv (bench/setup_incumbent_venv.sh) can use
it and build bit-identical models.

    from models import build, NAMES
    model, sample_args = build("tv_resnet18")

    python bench/models.py            # list the names
"""

from __future__ import annotations

import torch

# Registry key -> (source library, constructor name in that library).
# Keys carry the library prefix because both libraries have a resnet18.
_TORCHVISION = [
    "resnet18",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "efficientnet_b0",
    "convnext_tiny",
    "vit_b_16",
]
_TIMM = [
    "resnet18",
    "convnextv2_tiny",
    "tf_efficientnetv2_s",
    "efficientnet_lite0",
    "mobilenetv4_conv_small",
    "mobilenetv4_hybrid_medium",
    "maxvit_small_tf_224",
    "efficientformerv2_s0",
]
_REGISTRY: dict[str, tuple[str, str]] = {
    **{f"tv_{n}": ("torchvision", n) for n in _TORCHVISION},
    **{f"timm_{n}": ("timm", n) for n in _TIMM},
}
NAMES: list[str] = list(_REGISTRY)

_DEFAULT_INPUT_SIZE = (3, 224, 224)


def _fill_zero_parameters(model: torch.nn.Module) -> None:
    """Give every all-zero parameter small random values, as training would.

    Libraries zero-init some tensors on purpose: timm's ResNet zero-inits the
    last BatchNorm weight of each residual block (zero_init_last), ConvNeXt-V2
    its GRN weight/bias, torchvision's ViT its classifier weight, and most
    biases start at 0. With such weights a converter may legally constant-fold
    whole branches away (litert-torch turns timm resnet18 into 14 ops and
    2.8 MB instead of 37 ops and 47 MB), which makes size, op-count and
    latency comparisons meaningless. Nonzero constants (e.g. layer-scale 1e-6)
    are left alone: they do not remove any computation.
    """
    with torch.no_grad():
        for p in model.parameters():
            if p.is_floating_point() and not p.any():
                p.normal_(0.0, 0.02)


def build(name: str, seed: int = 0) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...]]:
    """Return (model in eval mode with seeded random weights, sample_args).

    Weights are the library's own random init, except that all-zero
    parameters are filled (see _fill_zero_parameters).

    The same seed gives the same weights and the same sample input in any
    environment with the same torch/torchvision/timm versions.
    """
    try:
        lib, ctor = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(NAMES)}") from None

    # Seed right before construction: weight init consumes the global RNG.
    torch.manual_seed(seed)
    if lib == "torchvision":
        import torchvision

        model = torchvision.models.get_model(ctor, weights=None)
        input_size = _DEFAULT_INPUT_SIZE
    else:
        import timm

        model = timm.create_model(ctor, pretrained=False)
        # Some timm models are defined for another resolution (e.g.
        # tf_efficientnetv2_s: 300, mobilenetv4_hybrid_medium: 256).
        input_size = tuple(model.pretrained_cfg.get("input_size", _DEFAULT_INPUT_SIZE))
    _fill_zero_parameters(model)
    model.eval()

    # A separate generator so the input does not depend on how many random
    # numbers the constructor drew.
    gen = torch.Generator().manual_seed(seed)
    sample = torch.randn((1, *input_size), generator=gen, dtype=torch.float32)
    return model, (sample,)


if __name__ == "__main__":
    print("\n".join(NAMES))
