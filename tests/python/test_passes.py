"""TFLite-level rewrites after lowering: constant folding (masks, position-bias tables), BROADCAST_TO removal, TRANSPOSE/RESHAPE
cleanup, matmul → FULLY_CONNECTED, per-channel affine folding, the flatten before a classifier and
PAD → SAME. Each test checks parity with PyTorch and the op it removes (or keeps)."""

import pytest
import torch
import torch.nn as nn

import pt2tflite
from parity import Fn, check, undelegated


class BiasTable(nn.Module):
    """efficientformer-style attention bias: a parameter table indexed by a constant index buffer."""

    def __init__(self):
        super().__init__()
        self.table = nn.Parameter(torch.randn(4, 9))
        self.register_buffer("idx", torch.tensor([[0, 3, 8], [8, 1, 1], [2, 2, 5]]))

    def forward(self, x):
        return x + self.table[:, self.idx]


def test_gather_of_constants_is_folded():
    assert check(BiasTable(), (torch.randn(2, 4, 3, 3),)) == {"ADD": 1}


def test_arithmetic_of_constant_tensors_is_folded():
    a, b = torch.randn(3, 1), torch.randn(1, 4)
    assert check(Fn(lambda x: x * (a * b + a)), (torch.randn(2, 3, 4),)) == {"MUL": 1}


def test_matmul_of_constant_tables_is_folded():
    """maxvit's relative position bias: products of constant tables, the same on every invoke."""
    a, b = torch.randn(2, 3, 4), torch.randn(1, 5, 4)
    assert check(Fn(lambda x: x + a @ b.transpose(1, 2)), (torch.randn(2, 3, 5),)) == {"ADD": 1}


class ArangeMaskAttention(nn.Module):
    """Hugging Face's bidirectional mask with no attention_mask: built from aranges (all true),
    expanded and applied through where(); it and the ADD of the all-zero bias it becomes fold."""

    def forward(self, q):
        n = q.shape[-2]
        keep = (torch.arange(n)[None, :] + torch.zeros(n, 1, dtype=torch.long)) >= 0
        bias = torch.where(keep.expand(q.shape[0], 1, n, n), 0.0, float("-inf"))
        return torch.softmax(q @ q.transpose(-1, -2) + bias, dim=-1)


def test_constant_mask_and_its_zero_bias_fold_away():
    hist = check(ArangeMaskAttention(), (torch.randn(2, 1, 6, 4),))
    assert not {"SELECT_V2", "GREATER_EQUAL", "BROADCAST_TO", "ADD"} & set(hist), hist


class PositionSlice(nn.Module):
    """BERT-style position ids: a slice of a constant buffer, then an embedding lookup."""

    def __init__(self):
        super().__init__()
        self.register_buffer("ids", torch.arange(10)[None, :])
        self.table = nn.Embedding(10, 4)

    def forward(self, x):
        return x + self.table(self.ids[:, 2 : 2 + x.shape[1]])


def test_slice_of_a_constant_buffer_and_its_lookup_fold():
    assert check(PositionSlice(), (torch.randn(1, 5, 4),)) == {"ADD": 1}


class TokenTypeLookup(nn.Module):
    """BERT's token types with no token_type_ids: torch.gather of a constant buffer by sliced
    constant position ids (GATHER_ND of constant coordinates), then an embedding lookup."""

    def __init__(self):
        super().__init__()
        self.register_buffer("types", torch.tensor([[0, 1, 1, 0, 1, 0, 0, 1]]))
        self.register_buffer("positions", torch.arange(8)[None, :])
        self.table = nn.Embedding(2, 4)

    def forward(self, x):
        n = x.shape[1]
        types = torch.gather(self.types.expand(1, -1), 1, self.positions[:, 1 : 1 + n])
        return x + self.table(types.expand(x.shape[0], n))


def test_token_type_gather_of_a_constant_buffer_folds():
    assert check(TokenTypeLookup(), (torch.randn(2, 5, 4),)) == {"ADD": 1}


@pytest.mark.parametrize("reduce", [torch.sum, torch.mean, torch.amax, torch.amin])
@pytest.mark.parametrize("unary", [torch.sqrt, torch.rsqrt, torch.exp, torch.log, torch.abs, torch.neg, torch.square])
def test_unary_and_reductions_of_constants_fold(reduce, unary):
    table = torch.rand(3, 4, 5) + 0.5
    hist = check(Fn(lambda x: x * unary(reduce(table, dim=(0, 2), keepdim=True))), (torch.randn(2, 3, 4, 5),))
    assert hist == {"MUL": 1}, hist


def test_weight_normalized_conv_filter_folds_and_is_delegated():
    """wav2vec2's positional conv: weight = g · v / ‖v‖ from parameters, recomputed on every invoke
    (and refused by XNNPACK, whose CONV_2D needs a constant filter) unless it folds."""
    conv = nn.utils.parametrizations.weight_norm(nn.Conv1d(8, 8, 5, padding=2, groups=2), dim=2)
    model = pt2tflite.convert(conv.eval(), (torch.randn(1, 8, 16),))
    assert model.op_histogram().keys() <= {"CONV_2D", "RESHAPE", "TRANSPOSE", "PAD"}, model.op_histogram()
    assert undelegated(model) == {}
    check(conv, (torch.randn(1, 8, 16),))


def test_concatenation_of_constants_folds():
    a, b = torch.randn(2, 3), torch.randn(2, 1)
    assert check(Fn(lambda x: x * torch.cat([a, b, a], dim=1)), (torch.randn(4, 2, 7),)) == {"MUL": 1}


@pytest.mark.parametrize("op", [torch.eq, torch.ne, torch.lt, torch.le, torch.gt, torch.ge, torch.logical_and,
                                torch.logical_or, lambda a, b: torch.logical_not(a > b)])
@pytest.mark.parametrize("dtype", [torch.long, torch.float32])
def test_constant_predicates_and_select_fold(op, dtype):
    a, b = torch.tensor([[0, 1, 2, 3]], dtype=dtype), torch.tensor([[1], [2]], dtype=dtype)
    assert check(Fn(lambda x: x + torch.where(op(a, b), 1.0, 2.0)), (torch.randn(2, 4),)) == {"ADD": 1}


class ShiftedWindowMask(nn.Module):
    """torchvision Swin's attention mask: zeros written region by region (slice_scatter of
    constants), split into windows, pairwise differences, then two masked_fills. It depends only on
    shapes, so the whole chain folds into one constant."""

    def forward(self, x):
        h = w = 8
        window, shift = 4, 2
        mask = x.new_zeros((h, w))
        cnt = 0
        for hs in ((0, -window), (-window, -shift), (-shift, None)):
            for ws in ((0, -window), (-window, -shift), (-shift, None)):
                mask[hs[0] : hs[1], ws[0] : ws[1]] = cnt
                cnt += 1
        mask = mask.view(h // window, window, w // window, window).permute(0, 2, 1, 3).reshape(4, window * window)
        mask = mask.unsqueeze(1) - mask.unsqueeze(2)
        mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
        return torch.softmax(x + mask.unsqueeze(1), -1)


def test_shifted_window_mask_folds_to_one_constant():
    assert check(ShiftedWindowMask(), (torch.randn(4, 2, 16, 16),)) == {"ADD": 1, "SOFTMAX": 1}


class ContinuousPositionBias(nn.Module):
    """Swin V2's position bias: an MLP of a constant coordinate table, gathered by a constant index,
    squashed by a sigmoid; the logit scale is exp of a clamped parameter. All of it folds."""

    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2, bias=False))
        self.register_buffer("table", torch.randn(1, 3, 3, 2))
        self.register_buffer("index", torch.randint(0, 9, (16,)))
        self.logit_scale = nn.Parameter(torch.randn(2, 1, 1))

    def forward(self, x):
        bias = self.mlp(self.table).view(-1, 2)[self.index].view(4, 4, 2).permute(2, 0, 1)
        scale = torch.clamp(self.logit_scale, max=1.0).exp()
        return x * scale + 16 * torch.sigmoid(bias)


def test_position_bias_mlp_of_constants_folds():
    assert check(ContinuousPositionBias(), (torch.randn(3, 2, 4, 4),)) == {"ADD": 1, "MUL": 1}


@pytest.mark.parametrize("fn", [torch.tanh, torch.sqrt, torch.rsqrt, torch.exp, torch.log, torch.abs, torch.neg,
                                torch.relu, lambda t: torch.clamp(t, 0, 6)])
def test_unary_math_of_constants_folds(fn):
    c = torch.rand(3, 4) + 0.5
    assert check(Fn(lambda x: x + fn(c)), (torch.randn(2, 3, 4),)) == {"ADD": 1}


def test_pad_of_a_constant_folds():
    c = torch.randn(2, 3)
    assert check(Fn(lambda x: x + torch.nn.functional.pad(c, (1, 2, 0, 1))), (torch.randn(3, 6),)) == {"ADD": 1}


@pytest.mark.parametrize("x_shape, w_shape", [((1, 3, 4), (1, 4, 5)), ((2, 3, 4), (1, 4, 5)), ((2, 2, 3, 4), (1, 1, 4, 5))])
def test_matmul_by_one_constant_matrix_is_fully_connected(x_shape, w_shape):
    w = torch.randn(w_shape)
    hist = check(Fn(lambda x: x @ w), (torch.randn(x_shape),))
    assert "BATCH_MATMUL" not in hist and hist["FULLY_CONNECTED"] == 1


def test_matmul_by_a_different_matrix_per_batch_stays_batch_matmul():
    w = torch.randn(2, 4, 5)
    check(Fn(lambda x: x @ w), (torch.randn(2, 3, 4),), has=["BATCH_MATMUL"])


def test_transpose_of_unit_dims_is_a_reshape():
    hist = check(Fn(lambda x: x.permute(2, 1, 0, 3) + 1), (torch.randn(1, 3, 1, 4),))
    assert "TRANSPOSE" not in hist


def test_transposes_cancel():
    # softmax over dim 1 stores dim 1 last; the permute back restores PyTorch's order for free.
    hist = check(Fn(lambda x: torch.softmax(x, 1).permute(0, 2, 1).permute(0, 2, 1) * 2), (torch.randn(2, 5, 3),))
    assert hist.get("TRANSPOSE", 0) <= 2


def test_hardsigmoid_shift_folds_into_conv_bias():
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Hardsigmoid())
    hist = check(m, (torch.randn(1, 3, 6, 6),))
    assert "ADD" not in hist and hist["MUL"] == 1


def test_layer_scale_folds_into_conv():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    gamma = torch.rand(8) + 0.5
    hist = check(Fn(lambda x: conv(x) * gamma.view(1, -1, 1, 1) + x.sum(1, keepdim=True)), (torch.randn(1, 3, 6, 6),), atol=1e-5)
    assert "MUL" not in hist


def test_scalar_scale_folds_through_reshapes():
    lin = nn.Linear(8, 8)
    hist = check(Fn(lambda x: torch.softmax(lin(x).view(2, 5, 2, 4).transpose(1, 2) * 0.5, -1)), (torch.randn(2, 5, 8),))
    assert "MUL" not in hist


def test_per_channel_add_folds_into_linear_bias():
    lin = nn.Linear(5, 4)
    shift = torch.randn(4)
    assert check(Fn(lambda x: torch.relu(lin(x) + shift)), (torch.randn(3, 5),)) == {"FULLY_CONNECTED": 1}


def test_add_that_broadcasts_the_output_is_kept():
    lin = nn.Linear(5, 4)
    shift = torch.randn(2, 1, 4)
    check(Fn(lambda x: lin(x) - shift), (torch.randn(3, 5),), has=["SUB"])


def test_flatten_before_classifier_is_dropped():
    m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    hist = check(m, (torch.randn(2, 3, 8, 8),), atol=1e-5)
    assert "RESHAPE" not in hist


def test_multi_query_attention_needs_no_broadcast_to():
    """One key/value head expanded to every query head (timm's MobileNetV4 attention)."""

    def mqa(q, k, v):
        k = k.unsqueeze(2).expand(1, 1, 4, 16, 8).reshape(1, 4, 16, 8)
        v = v.unsqueeze(2).expand(1, 1, 4, 16, 8).reshape(1, 4, 16, 8)
        attn = torch.softmax((q * 0.5) @ (k * 0.5).transpose(-2, -1), -1)
        return attn @ v

    shapes = [(1, 4, 32, 8), (1, 1, 16, 8), (1, 1, 16, 8)]
    hist = check(Fn(mqa), tuple(torch.randn(s) for s in shapes))
    assert "BROADCAST_TO" not in hist


def test_broadcast_to_that_a_reader_needs_is_kept():
    check(Fn(lambda x: x.expand(3, 4, 5).reshape(3, 20).sum(0)), (torch.randn(1, 4, 5),), has=["BROADCAST_TO"])


def test_batch_norm_after_transposed_conv_folds():
    m = nn.Sequential(nn.ConvTranspose2d(3, 4, 4, stride=2, padding=1), nn.BatchNorm2d(4)).eval()
    with torch.no_grad():
        m[1].running_mean.normal_()
        m[1].running_var.uniform_(0.5, 2)
    assert check(m, (torch.randn(1, 3, 5, 5),), atol=1e-5).keys() <= {"TRANSPOSE_CONV", "TRANSPOSE"}


def test_batch_norm_after_linear_folds():
    m = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4)).eval()
    with torch.no_grad():
        m[1].running_mean.normal_()
        m[1].running_var.uniform_(0.5, 2)
    assert check(m, (torch.randn(3, 6),), atol=1e-5) == {"FULLY_CONNECTED": 1}


def test_explicit_same_padding_becomes_same():
    """timm's Conv2dSame pads explicitly like TensorFlow's SAME (the extra pixel at the end)."""
    stem, conv = nn.Conv2d(3, 3, 1), nn.Conv2d(3, 4, 3, stride=2)
    hist = check(Fn(lambda x: conv(torch.nn.functional.pad(stem(x), (0, 1, 0, 1)))), (torch.randn(1, 3, 8, 8),), atol=1e-5)
    assert "PAD" not in hist


def test_padding_other_than_same_is_kept():
    conv = nn.Conv2d(3, 4, 3, stride=2)
    check(Fn(lambda x: conv(torch.nn.functional.pad(x, (1, 0, 1, 0)))), (torch.randn(1, 3, 8, 8),), atol=1e-5, has=["PAD"])


_FUSED = {"relu": nn.ReLU(), "relu6": nn.ReLU6(), "relu_n1_to_1": nn.Hardtanh(-1.0, 1.0)}
_PRODUCERS = {
    "conv": (nn.Conv2d(4, 6, 3), "CONV_2D"),
    "depthwise": (nn.Conv2d(4, 4, 3, groups=4), "DEPTHWISE_CONV_2D"),
}


@pytest.mark.parametrize("act", list(_FUSED))
@pytest.mark.parametrize("producer", list(_PRODUCERS))
def test_clamping_activations_fuse_into_their_producer(act, producer):
    layer, op = _PRODUCERS[producer]
    hist = check(nn.Sequential(layer, _FUSED[act]), (torch.randn(1, 4, 8, 8) * 3,))
    assert hist == {"TRANSPOSE": 2, op: 1}, hist


def test_tanh_stays_a_separate_op():
    """TFLite's float and int8 kernels turn a fused activation into a clamp range and have none
    for TANH (they would silently skip it), and XNNPACK refuses it: TANH is never fused."""
    hist = check(nn.Sequential(nn.Conv2d(4, 6, 3), nn.Tanh()), (torch.randn(1, 4, 8, 8),))
    assert hist == {"TRANSPOSE": 2, "CONV_2D": 1, "TANH": 1}, hist


class PreNormMLP(nn.Module):
    """A pre-norm transformer MLP: the layer norm's weight and bias fold into the linear layer."""

    def __init__(self, post_norm_residual=False):
        super().__init__()
        self.norm, self.fc = nn.LayerNorm(8), nn.Linear(8, 6)
        self.post_norm_residual = post_norm_residual
        with torch.no_grad():
            self.norm.weight.uniform_(0.5, 1.5)
            self.norm.bias.normal_()

    def forward(self, x):
        y = self.norm(x)
        out = self.fc(y.reshape(-1, 8)).reshape(*x.shape[:-1], 6)
        return (out, y + 1.0) if self.post_norm_residual else out


def test_layer_norm_affine_folds_into_the_next_linear():
    hist = check(PreNormMLP(), (torch.randn(2, 5, 8),), atol=2e-5)
    with_affine = check(PreNormMLP(post_norm_residual=True), (torch.randn(2, 5, 8),), atol=2e-5)
    # folded: only the normalization's own ADD (eps) is left; kept when another op reads the norm
    assert hist["ADD"] == 1 and hist["MUL"] == 2, hist
    assert with_affine["ADD"] == 3 and with_affine["MUL"] == 3, with_affine


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_channel_affine_before_a_linear_folds(op):
    lin, c = nn.Linear(5, 3), torch.randn(5)
    fn = {"add": lambda x: lin(x + c), "sub": lambda x: lin(x - c), "mul": lambda x: lin(x * c)}[op]
    assert check(Fn(fn), (torch.randn(2, 4, 5),)) == {"FULLY_CONNECTED": 1}


class GlobalResponseNorm(nn.Module):
    """ConvNeXt-V2's GRN in NHWC, then the block's pointwise linear: x + (γ · (x · n) + β)."""

    def __init__(self, c=8):
        super().__init__()
        self.gamma, self.beta = nn.Parameter(torch.randn(c)), nn.Parameter(torch.randn(c))
        self.fc = nn.Linear(c, 4)

    def forward(self, x):
        gx = x.norm(p=2, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.fc(x + torch.addcmul(self.beta, self.gamma, x * nx))


def test_global_response_norm_touches_the_activation_twice():
    """x·x for the norm and one x·(γ·n + 1); β folds into the linear layer."""
    hist = check(GlobalResponseNorm(), (torch.randn(1, 5, 6, 8),), atol=2e-5)
    assert hist == {"ADD": 2, "DIV": 1, "FULLY_CONNECTED": 1, "MEAN": 1, "MUL": 3, "SQRT": 1, "SUM": 1}, hist


def full_size_arithmetic(model, shape) -> int:
    """ADD / SUB / MUL ops of the LiteRT model whose output has the activation's full `shape`."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    itp = Interpreter(model_content=model.tflite_bytes,
                      experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    shapes = {t["index"]: tuple(t["shape"]) for t in itp.get_tensor_details()}
    return sum(1 for o in itp._get_ops_details()
               if o["op_name"] in ("ADD", "SUB", "MUL") and shapes[o["outputs"][0]] == tuple(shape))


_LIN = nn.Linear(6, 3)
_C = torch.randn(1, 1, 6)
_REGROUPED = {  # name: (function, full-size ADD/SUB/MUL left: was one more)
    "(x·v)·c → x·(v·c)": (lambda x: (x * x.mean(dim=1, keepdim=True)) * _C, 1),
    "(z+b)+w → (z+w)+b, b into the FC": (lambda x: _LIN((x * 2.0 + _C) + torch.relu(x)), 2),
    "(x·s)+x → x·(s+1)": (lambda x: x * torch.sigmoid(x.mean(dim=1, keepdim=True)) + x, 1),
}


@pytest.mark.parametrize("case", list(_REGROUPED))
def test_small_operands_combine_before_meeting_the_activation(case):
    fn, full_size = _REGROUPED[case]
    x = torch.randn(2, 5, 6)
    check(Fn(fn), (x,))
    assert full_size_arithmetic(pt2tflite.convert(Fn(fn).eval(), (x,)), x.shape) == full_size


class NormRollWindowsLinear(nn.Module):
    """Swin's attention input: layer norm, cyclic shift, window partition, then the qkv linear.
    With `pad`, the feature map is zero-padded to the window size first."""

    def __init__(self, pad=False):
        super().__init__()
        self.norm, self.qkv, self.pad = nn.LayerNorm(4), nn.Linear(4, 12), pad
        with torch.no_grad():
            self.norm.weight.uniform_(0.5, 1.5)
            self.norm.bias.normal_()

    def forward(self, x):  # x: [B, H, W, C]
        x = torch.roll(self.norm(x), shifts=(-1, -1), dims=(1, 2))
        if self.pad:
            x = nn.functional.pad(x, (0, 0, 0, 2, 0, 2))
        b, h, w, c = x.shape
        windows = x.view(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, 4, c)
        return self.qkv(windows)


@pytest.mark.parametrize("pad", [False, True])
def test_layer_norm_affine_folds_through_a_roll_and_window_partition_but_not_a_pad(pad):
    hist = check(NormRollWindowsLinear(pad), (torch.randn(1, 4, 4, 4),), atol=2e-5)
    # the normalization's own ops: ADD (eps) and 2 MUL; γ and β add a MUL and an ADD when kept
    assert (hist["ADD"], hist["MUL"]) == ((2, 3) if pad else (1, 2)), hist


# ---- Attention data movement: one TRANSPOSE where the model moves data once ----


class FusedQkvAttention(nn.Module):
    """timm / swin style: one qkv projection, reshape to (3, heads), permute, unbind. Lowering gives
    q, k and v a TRANSPOSE each after the split; they become one TRANSPOSE before it (k's with
    adj_y instead of its own order), and the head merge keeps its one."""

    def __init__(self, dim=32, heads=2):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        attn = ((q * 0.25) @ k.transpose(-2, -1)).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


def test_qkv_moves_once_before_the_unbind():
    assert check(FusedQkvAttention(), (torch.randn(2, 5, 32),), atol=1e-5)["TRANSPOSE"] == 2


class ChunkedQkvAttention(nn.Module):
    """torchvision maxvit style: qkv chunked along channels (one SPLIT), each piece split into heads."""

    def __init__(self, dim=32, heads=2):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)

    def forward(self, x):
        b, g, n, c = x.shape
        q, k, v = (t.reshape(b, g, n, self.heads, -1).transpose(2, 3) for t in self.qkv(x).chunk(3, dim=-1))
        attn = ((q * 0.25) @ k.transpose(-2, -1)).softmax(-1)
        return (attn @ v).transpose(2, 3).reshape(b, g, n, c)


def test_chunked_qkv_moves_once_before_the_split():
    hist = check(ChunkedQkvAttention(), (torch.randn(1, 3, 5, 32),), atol=1e-5, has=["SPLIT"])
    assert hist["TRANSPOSE"] == 2, hist


class WindowAttention(nn.Module):
    """Window partition → attention → window reverse on a [B, H, W, C] map (swin, timm maxvit). The
    partition moves through the qkv projection into the head split, and the head merge through the
    output projection into the reverse: one TRANSPOSE on each side."""

    def __init__(self, dim=16, window=2):
        super().__init__()
        self.window = window
        self.attn = FusedQkvAttention(dim, heads=2)

    def forward(self, x):
        b, h, w, c = x.shape
        p = self.window
        win = x.view(b, h // p, p, w // p, p, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, p * p, c)
        y = self.attn(win).view(b, h // p, w // p, p, p, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
        return x + y


def test_window_partition_and_reverse_merge_with_the_heads():
    assert check(WindowAttention(), (torch.randn(1, 4, 6, 16),), atol=1e-5)["TRANSPOSE"] == 2


def test_transposes_on_both_sides_of_a_reshape_merge():
    """efficientformer's head merge into an NCHW map for a convolution: heads-first to PyTorch order,
    then to NHWC, is one TRANSPOSE."""
    conv = nn.Conv2d(8, 4, 1)

    def head_merge(a):  # a: [B, heads, N, d], N = 3·3
        return conv(a.transpose(2, 3).reshape(1, 8, 3, 3))

    hist = check(Fn(head_merge), (torch.randn(1, 2, 9, 4),), atol=1e-5)
    assert hist["TRANSPOSE"] == 2, hist  # the merge, and the NCHW output


def test_transposes_cancel_through_linear_layers():
    """torchvision maxvit's grid attention swaps two axes around its MLP: the swap back cancels
    the first across FULLY_CONNECTED (which only reads the last dim) and the activation."""
    mlp = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 8))
    hist = check(Fn(lambda x: mlp(x.transpose(1, 2)).transpose(1, 2)), (torch.randn(1, 3, 5, 8),), atol=1e-5)
    assert "TRANSPOSE" not in hist, hist


def test_int8_attention_moves_qkv_once():
    """The moves touch only float tensors between DEQUANTIZE and QUANTIZE, so PT2E graphs take them too."""
    from quant_parity import check_int8

    hist, _, _ = check_int8(FusedQkvAttention(), (torch.randn(2, 5, 32),))
    assert hist["TRANSPOSE"] == 2, hist


def test_movement_after_a_residual_add_moves_into_both_inputs():
    """efficientformer v2's attention output: heads merged into an NCHW map, plus a depthwise conv
    of v (NHWC, so a TRANSPOSE back to NCHW), then NHWC again for the next op. Moving that last
    TRANSPOSE above the ADD cancels the one on the conv branch and merges with the head merge."""
    dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
    up = nn.Upsample(scale_factor=2, mode="bilinear")

    def block(a, v):  # a: [1, heads, N, d] attention output, v: [1, 8, 3, 3]
        return up(a.transpose(2, 3).reshape(1, 8, 3, 3) + dw(v))

    hist = check(Fn(block), (torch.randn(1, 2, 9, 4), torch.randn(1, 8, 3, 3)), atol=1e-5)
    assert hist["TRANSPOSE"] == 3, hist  # v to NHWC, the head merge, and the NCHW output


class WindowsToMBConv(nn.Module):
    """torchvision maxvit between blocks: windows back to an NCHW map, read by an MBConv (batch norm,
    then a convolution that wants NHWC) and by that MBConv's residual ADD, then split into windows
    again. Stored NHWC from the start, the map needs no TRANSPOSE of its own: the batch-norm
    constants are permuted instead, and the conv output adds in place."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(8)
        self.conv = nn.Conv2d(8, 8, 1)
        with torch.no_grad():
            self.bn.running_mean.normal_()
            self.bn.running_var.uniform_(0.5, 2)

    def forward(self, y):  # y: [1, 2, 2, 2, 2, 8], 2x2 windows of 2x2 pixels
        a = y.permute(0, 5, 1, 3, 2, 4).reshape(1, 8, 4, 4)
        b = a + self.conv(self.bn(a))
        return b.reshape(1, 8, 2, 2, 2, 2).permute(0, 2, 4, 3, 5, 1)


def test_map_read_by_two_branches_is_stored_in_the_order_they_want():
    hist = check(WindowsToMBConv(), (torch.randn(1, 2, 2, 2, 2, 8),), atol=1e-5)
    assert hist["TRANSPOSE"] == 2, hist  # windows → NHWC map, and the map → windows
