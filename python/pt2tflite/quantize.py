"""PT2E quantizer for TFLite int8: annotates a torch.export graph so that torchao's
prepare_pt2e / convert_pt2e produce the Q/DQ graph pt2tflite turns into native int8 ops.

    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e, convert_pt2e
    from pt2tflite.quantize import PT2EQuantizer, get_symmetric_quantization_config

    m = torch.export.export(model.eval(), sample).module()
    m = prepare_pt2e(m, PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True)))
    for batch in calibration: m(*batch)
    m = convert_pt2e(m)
    tfl = pt2tflite.convert(m, sample)

The annotations follow TFLite's int8 quantization spec: activations int8 per-tensor asymmetric
[-128, 127]; weights int8 symmetric [-127, 127] (zero point 0), per output channel or per tensor;
biases stay float (the converter makes them int32 with scale s_in·s_w[c]); max/avg pooling,
concatenation and data movement share their input's parameters; sigmoid and softmax output
(1/256, -128), tanh (1/128, 0). See docs/quantization.md.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch.fx import GraphModule, Node
from torchao.quantization.pt2e import (
    FakeQuantize,
    FusedMovingAvgObsFakeQuantize,
    HistogramObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver,
    PerChannelMinMaxObserver,
    PlaceholderObserver,
)
from torchao.quantization.pt2e.quantizer import (
    FixedQParamsQuantizationSpec,
    QuantizationAnnotation,
    QuantizationConfig,
    QuantizationSpec,
    Quantizer,
    SharedQuantizationSpec,
)

__all__ = ["PT2EQuantizer", "get_symmetric_quantization_config", "QuantizationConfig"]

_ANNOTATION = "quantization_annotation"
_EPS = 2**-12  # smallest scale the observers may choose (as ExecuTorch's XNNPACK quantizer)

aten = torch.ops.aten


def get_symmetric_quantization_config(
    is_per_channel: bool = False,
    is_dynamic: bool = False,
    is_qat: bool = False,
) -> QuantizationConfig:
    """TFLite int8: activations int8 per-tensor asymmetric [-128, 127] (observed over calibration, or
    chosen per run when `is_dynamic`), weights int8 symmetric [-127, 127] per output channel when
    `is_per_channel` else per tensor, biases float. `is_qat` uses fake-quantize modules for
    prepare_qat_pt2e."""
    act_args: dict[str, Any] = {"eps": _EPS}
    if is_qat:
        if is_dynamic:
            act_ctr = FakeQuantize
            act_args["observer"] = MovingAverageMinMaxObserver.with_args(averaging_constant=1)
        else:
            act_ctr = FusedMovingAvgObsFakeQuantize
    else:
        act_ctr = PlaceholderObserver if is_dynamic else HistogramObserver
    act = QuantizationSpec(
        dtype=torch.int8,
        quant_min=-128,
        quant_max=127,
        qscheme=torch.per_tensor_affine,
        is_dynamic=is_dynamic,
        observer_or_fake_quant_ctr=act_ctr.with_args(**act_args),
    )
    weight_args: dict[str, Any] = {"eps": _EPS}
    if is_qat:
        weight_ctr = FusedMovingAvgObsFakeQuantize
        weight_args["observer"] = MovingAveragePerChannelMinMaxObserver if is_per_channel else MovingAverageMinMaxObserver
    else:
        weight_ctr = PerChannelMinMaxObserver if is_per_channel else MinMaxObserver
    weight = QuantizationSpec(
        dtype=torch.int8,
        quant_min=-127,  # symmetric around 0: TFLite's int8 kernels require weight zero point 0
        quant_max=127,
        qscheme=torch.per_channel_symmetric if is_per_channel else torch.per_tensor_symmetric,
        ch_axis=0,
        is_dynamic=False,
        observer_or_fake_quant_ctr=weight_ctr.with_args(**weight_args),
    )
    # Dynamic: only the inputs of linear layers are quantized, per run; their outputs stay float.
    return QuantizationConfig(act, None if is_dynamic else act, weight, None, is_qat)


# The TFLite int8 kernels of these produce fixed output parameters (quantization spec).
_FIXED_OUTPUT = {
    aten.sigmoid.default: (1.0 / 256.0, -128),
    aten.sigmoid_.default: (1.0 / 256.0, -128),
    aten.softmax.int: (1.0 / 256.0, -128),
    aten._softmax.default: (1.0 / 256.0, -128),
    aten.tanh.default: (1.0 / 128.0, 0),
    aten.tanh_.default: (1.0 / 128.0, 0),
}
# Output parameters equal to the input's: the int8 kernels (pooling, data movement) require it.
_SHARED = {
    aten.max_pool2d.default,
    aten.avg_pool2d.default,
    aten.adaptive_avg_pool2d.default,
    aten.mean.dim,
    aten.flatten.using_ints,
    aten.view.default,
    aten.reshape.default,
    aten.permute.default,
    aten.transpose.int,
    aten.squeeze.dim,
    aten.unsqueeze.default,
    aten.pad.default,
    aten.constant_pad_nd.default,
    aten.dropout.default,
}
_WEIGHTED = {
    aten.conv1d.default,
    aten.conv2d.default,
    aten.conv_transpose1d.default,
    aten.conv_transpose2d.input,
    aten.linear.default,
}
_BINARY = {aten.add.Tensor, aten.add_.Tensor, aten.mul.Tensor, aten.mul_.Tensor}
# Ops with their own output observer: the int8 kernels take any input and output parameters.
_FREE_OUTPUT = {
    aten.hardswish.default,
    aten.hardswish_.default,
    aten.relu.default,
    aten.relu_.default,
    aten.hardtanh.default,
    aten.hardtanh_.default,
}
_RELU = {aten.relu.default, aten.relu_.default}
_HARDTANH = {aten.hardtanh.default, aten.hardtanh_.default}
_BATCH_NORM = {aten.batch_norm.default, aten._native_batch_norm_legit_no_training.default}


def _is_fusable_activation(node: Node) -> bool:
    """ReLU, ReLU6 and ReLU(-1, 1) become a fused activation of the TFLite op before them."""
    if node.op != "call_function":
        return False
    if node.target in _RELU:
        return True
    if node.target in _HARDTANH:
        lo = node.args[1] if len(node.args) > 1 else node.kwargs.get("min_val", -1.0)
        hi = node.args[2] if len(node.args) > 2 else node.kwargs.get("max_val", 1.0)
        return (lo, hi) in ((0.0, 6.0), (-1.0, 1.0))
    return False


def _break_sharing_cycles(model: GraphModule) -> None:
    """Gives cat inputs (then cat outputs) their own parameters, last cat first, until prepare_pt2e's
    grouping of shared parameters terminates. Sharings that each look fine can still meet in a
    cycle through the implicit sharing between a tensor's readers: cat([b, a]) and cat([a, b])
    (difftest 0:48192), or cats and views reading the same tensors in different orders. Then
    prepare_pt2e recursed until RecursionError. Own parameters cost a requantization on that
    edge, never a wrong answer."""
    try:  # the grouping prepare_pt2e runs; private to torchao, so without it there is no check
        from torchao.quantization.pt2e.prepare import _get_edge_or_node_to_group_id, _get_edge_or_node_to_qspec
    except ImportError:
        return

    def terminates() -> bool:
        try:
            _get_edge_or_node_to_group_id(_get_edge_or_node_to_qspec(model))
            return True
        except RecursionError:
            return False

    if terminates():
        return
    cats = [n for n in reversed(model.graph.nodes) if n.target == aten.cat.default and _ANNOTATION in n.meta]
    for demote_outputs in (False, True):
        for node in cats:
            ann = node.meta[_ANNOTATION]
            own = next(s for s in ann.input_qspec_map.values() if not isinstance(s, SharedQuantizationSpec))
            if demote_outputs:
                if isinstance(ann.output_qspec, SharedQuantizationSpec):
                    ann.output_qspec = own
            else:
                for t, spec in ann.input_qspec_map.items():
                    if isinstance(spec, SharedQuantizationSpec):
                        ann.input_qspec_map[t] = own
            if terminates():
                return
    raise RuntimeError("pt2tflite's quantizer could not break a cycle of shared parameters (a bug)")


def _single_user(node: Node) -> Node | None:
    users = list(node.users)
    return users[0] if len(users) == 1 else None


class PT2EQuantizer(Quantizer):
    """Annotates conv (+BN in QAT, +ReLU/ReLU6), linear (+ReLU), add/mul (+ReLU), cat, max/avg
    pooling, adaptive avg pooling and mean, data movement (view/reshape/flatten/permute/pad/...),
    hardswish, sigmoid, softmax and tanh for TFLite int8. Other ops run in float between a
    dequantize and the next quantize."""

    def __init__(self) -> None:
        super().__init__()
        self.global_config: QuantizationConfig | None = None
        self.module_type_config: dict[type, QuantizationConfig | None] = {}
        self.module_name_config: dict[str, QuantizationConfig | None] = {}

    def set_global(self, config: QuantizationConfig | None) -> PT2EQuantizer:
        self.global_config = config
        return self

    def set_module_type(self, module_type: type, config: QuantizationConfig | None) -> PT2EQuantizer:
        """`config` (None: keep float) for every submodule of this type; overrides the global one."""
        self.module_type_config[module_type] = config
        return self

    def set_module_name(self, name: str, config: QuantizationConfig | None) -> PT2EQuantizer:
        """`config` (None: keep float) for the submodule at this path and below; overrides the others."""
        self.module_name_config[name] = config
        return self

    def _config_for(self, node: Node) -> QuantizationConfig | None:
        stack = list(node.meta.get("nn_module_stack", {}).values())
        for name, config in self.module_name_config.items():
            if any(path == name or path.startswith(name + ".") for path, _ in stack):
                return config
        for module_type, config in self.module_type_config.items():
            qualified = f"{module_type.__module__}.{module_type.__qualname__}"
            if any(t is module_type or t == qualified for _, t in stack):
                return config
        return self.global_config

    def annotate(self, model: GraphModule) -> GraphModule:
        for node in model.graph.nodes:
            if node.op != "call_function" or _ANNOTATION in node.meta:
                continue
            config = self._config_for(node)
            if config is None:
                continue
            if config.input_activation is not None and config.input_activation.is_dynamic:
                if node.target == aten.linear.default:
                    self._annotate_weighted(node, config)
                continue
            if node.target in _WEIGHTED:
                self._annotate_weighted(node, config)
            elif node.target in _BINARY:
                self._annotate_binary(node, config)
            elif node.target == aten.cat.default:
                self._annotate_cat(node, config)
            elif node.target in _SHARED:
                self._annotate_shared(node, config)
            elif node.target in _FIXED_OUTPUT:
                self._annotate_fixed(node, config)
            elif node.target in _FREE_OUTPUT:
                self._annotate_unary(node, config)
        _break_sharing_cycles(model)
        return model

    def validate(self, model: GraphModule) -> None:
        pass

    # -- annotation helpers ------------------------------------------------------------------

    @staticmethod
    def _set(node: Node, inputs: dict, output) -> None:
        node.meta[_ANNOTATION] = QuantizationAnnotation(input_qspec_map=inputs, output_qspec=output, _annotated=True)

    @staticmethod
    def _is_quantized(node: Any) -> bool:
        """Whether `node`'s output is quantized, so an op reading it can share its parameters."""
        ann = node.meta.get(_ANNOTATION) if isinstance(node, Node) else None
        return ann is not None and ann.output_qspec is not None

    def _observe_output(self, node: Node, config: QuantizationConfig) -> None:
        """Observes `node`'s output, or the output of the activation (and QAT batch norm) after it
        that TFLite fuses into the op, so the op and its activation become one int8 op."""
        if config.output_activation is None:
            return
        last, user = node, _single_user(node)
        if config.is_qat and user is not None and user.target in _BATCH_NORM:
            self._set(user, {}, None)
            last, user = user, _single_user(user)
        if user is not None and _is_fusable_activation(user) and _ANNOTATION not in user.meta:
            self._set(user, {}, None)
            last = user
        last.meta[_ANNOTATION].output_qspec = config.output_activation

    def _annotate_weighted(self, node: Node, config: QuantizationConfig) -> None:
        x, w = node.args[0], node.args[1]
        if not isinstance(x, Node) or not isinstance(w, Node):
            return
        weight_spec = config.weight
        if node.target in (aten.conv_transpose1d.default, aten.conv_transpose2d.input):
            # PyTorch keeps transposed-conv weights as [Cin, Cout/g, k...]; TFLite quantizes
            # TRANSPOSE_CONV per output channel, which is PyTorch dim 1.
            if weight_spec is not None and weight_spec.qscheme == torch.per_channel_symmetric:
                weight_spec = dataclasses.replace(weight_spec, ch_axis=1)
        self._set(node, {x: config.input_activation, w: weight_spec}, None)
        self._observe_output(node, config)

    def _annotate_binary(self, node: Node, config: QuantizationConfig) -> None:
        a, b = node.args[0], node.args[1]
        # A Python scalar operand would need a quantized constant; such ops stay float.
        if not all(isinstance(t, Node) and isinstance(t.meta.get("val"), torch.Tensor) for t in (a, b)):
            return
        self._set(node, {a: config.input_activation, b: config.input_activation}, None)
        self._observe_output(node, config)

    def _annotate_cat(self, node: Node, config: QuantizationConfig) -> None:
        tensors = [t for t in node.args[0] if isinstance(t, Node)]
        if not tensors:
            return
        first = tensors[0]
        inputs = {first: config.input_activation}
        for t in tensors[1:]:
            if t not in inputs:  # cat([x, x, y]): x keeps its own spec (sharing with itself recurses)
                inputs[t] = SharedQuantizationSpec((first, node))
        self._set(node, inputs, SharedQuantizationSpec((first, node)))

    def _annotate_shared(self, node: Node, config: QuantizationConfig) -> None:
        x = node.args[0]
        if not self._is_quantized(x):  # inside a float region: stay float
            return
        self._set(node, {x: config.input_activation}, SharedQuantizationSpec((x, node)))

    def _annotate_fixed(self, node: Node, config: QuantizationConfig) -> None:
        x = node.args[0]
        if not isinstance(x, Node):
            return
        scale, zero_point = _FIXED_OUTPUT[node.target]
        out = FixedQParamsQuantizationSpec(
            dtype=torch.int8, scale=scale, zero_point=zero_point, quant_min=-128, quant_max=127,
            qscheme=torch.per_tensor_affine,
        )
        self._set(node, {x: config.input_activation}, out)

    def _annotate_unary(self, node: Node, config: QuantizationConfig) -> None:
        x = node.args[0]
        if not isinstance(x, Node):
            return
        self._set(node, {x: config.input_activation}, config.output_activation)

