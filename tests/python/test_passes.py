"""TFLite-level rewrites after lowering: constant folding, BROADCAST_TO removal, TRANSPOSE/RESHAPE
cleanup, matmul → FULLY_CONNECTED, per-channel affine folding, the flatten before a classifier and
PAD → SAME. Each test checks parity with PyTorch and the op it removes (or keeps)."""

import pytest
import torch
import torch.nn as nn

from parity import Fn, check


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


@pytest.mark.parametrize("op", [torch.eq, torch.ne, torch.lt, torch.le, torch.gt, torch.ge, torch.logical_and,
                                torch.logical_or, lambda a, b: torch.logical_not(a > b)])
@pytest.mark.parametrize("dtype", [torch.long, torch.float32])
def test_constant_predicates_and_select_fold(op, dtype):
    a, b = torch.tensor([[0, 1, 2, 3]], dtype=dtype), torch.tensor([[1], [2]], dtype=dtype)
    assert check(Fn(lambda x: x + torch.where(op(a, b), 1.0, 2.0)), (torch.randn(2, 4),)) == {"ADD": 1}


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
