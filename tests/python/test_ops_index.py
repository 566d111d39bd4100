"""Indexing: slice (stepped slices included), select, split / chunk, embedding, index.Tensor (GATHER with int32 indices)."""

import pytest
import torch
import torch.nn as nn

from parity import Fn, check, undelegated

import pt2tflite


@pytest.mark.parametrize(
    "shape, fn",
    [
        ((4, 6), lambda x: x[1:3]),
        ((4, 6), lambda x: x[:, -4:-1]),
        ((2, 3, 8), lambda x: x[..., 2:]),
        ((2, 3, 8), lambda x: x[:, 1:100]),
    ],
)
def test_slice_is_slice(shape, fn):
    check(Fn(fn), (torch.randn(shape),), has=["SLICE"], lacks=["STRIDED_SLICE"])


@pytest.mark.parametrize("fn", [lambda x: x[:, 1:3] * 2, lambda x: x.select(2, 1) * 2, lambda x: x.split([1, 3], 1)[1] * 2])
def test_slice_sizes_are_explicit_so_xnnpack_takes_it(fn):
    """A SLICE size of -1 ("to the end") makes XNNPACK refuse the op; static shapes give exact sizes."""
    x = torch.randn(2, 4, 3)
    check(Fn(fn), (x,), has=["SLICE"])
    assert undelegated(pt2tflite.convert(Fn(fn).eval(), (x,))) == {}


@pytest.mark.parametrize(
    "shape, fn",
    [
        ((4, 9), lambda x: x[:, 1::2]),  # the last group of 2 is cut short: PAD first
        ((2, 9, 3), lambda x: x[:, 1::2]),
        ((2, 8, 3), lambda x: x[:, 1::2]),
        ((2, 8, 3), lambda x: x[:, 0:7:3]),
        ((2, 8, 3), lambda x: x[:, 2::3]),
        ((3, 10), lambda x: x[:, -7::4]),
        ((1, 6, 6, 4), lambda x: x[:, 1::2, ::2]),
    ],
)
def test_slice_with_step_runs_in_xnnpack(shape, fn):
    """XNNPACK takes no STRIDED_SLICE with a stride other than 1; a stepped slice is one position of
    [count, step] groups instead: RESHAPE + SLICE."""
    x = torch.randn(shape)
    check(Fn(lambda x: fn(x) * 2), (x,), has=["SLICE"], lacks=["STRIDED_SLICE"])
    assert undelegated(pt2tflite.convert(Fn(lambda x: fn(x) * 2).eval(), (x,))) == {}


@pytest.mark.parametrize(
    "fn",
    [
        # Swin's patch merging (H offset counts fastest).
        lambda x: torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1),
        lambda x: torch.cat([x[:, 0::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 0::2], x[:, 1::2, 1::2]], -1),
        lambda x: torch.cat([x[:, :, 0::3], x[:, :, 1::3], x[:, :, 2::3]], 1),
        lambda x: torch.cat([x[..., 0::2, :], x[..., 1::2, :]], 0),
    ],
)
def test_cat_of_stepped_slices_tiling_a_tensor_is_one_transpose(fn):
    """A space-to-depth written with stepped slices becomes RESHAPE + TRANSPOSE + RESHAPE."""
    hist = check(Fn(fn), (torch.randn(1, 6, 6, 5),), lacks=["SLICE", "STRIDED_SLICE", "CONCATENATION"])
    assert hist.get("TRANSPOSE", 0) <= 1


def test_cat_of_stepped_slices_of_an_nhwc_feature_map():
    conv = nn.Conv2d(3, 8, 1)

    def merge(x):
        y = conv(x)
        return torch.cat([y[:, :, 0::2, 0::2], y[:, :, 1::2, 0::2], y[:, :, 0::2, 1::2], y[:, :, 1::2, 1::2]], 1)

    hist = check(Fn(merge), (torch.randn(1, 3, 6, 4),), atol=1e-5, lacks=["SLICE", "CONCATENATION"])
    assert hist["TRANSPOSE"] == 2  # the model's input, and the space-to-depth merged with the output's


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: torch.cat([x[:, 0::2], x[:, 0::2]], -1),  # not a tiling
        lambda x: torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2]], -1),  # W is subsampled
        lambda x: torch.cat([x[:, 1::2], x[:, 0::2]], -1),  # offsets in no counting order
    ],
)
def test_cat_of_stepped_slices_that_do_not_tile_stays_concatenation(fn):
    check(Fn(fn), (torch.randn(1, 6, 6, 5),), has=["CONCATENATION"], lacks=["STRIDED_SLICE"])


def test_slice_of_nhwc_channels_needs_no_transpose():
    conv = nn.Conv2d(3, 8, 1)
    hist = check(Fn(lambda x: conv(x)[:, 2:5] * 2), (torch.randn(1, 3, 5, 5),), atol=1e-5, has=["SLICE"])
    assert hist["TRANSPOSE"] == 2


@pytest.mark.parametrize("shape, dim, index", [((4, 6), 0, 2), ((4, 6), 1, -1), ((2, 3, 5), 1, 0), ((2, 3, 5), 2, 4)])
def test_select(shape, dim, index):
    check(Fn(lambda x: x.select(dim, index) + 1), (torch.randn(shape),), has=["SLICE"], lacks=["STRIDED_SLICE"])


@pytest.mark.parametrize("shape, chunks, dim", [((6, 4), 3, 0), ((2, 8, 3), 2, 1), ((2, 3, 8), 4, -1)])
def test_chunk_equal_is_split(shape, chunks, dim):
    check(Fn(lambda x: tuple(c * (i + 1) for i, c in enumerate(x.chunk(chunks, dim)))), (torch.randn(shape),), has=["SPLIT"], lacks=["SLICE"])


@pytest.mark.parametrize("shape, sizes, dim", [((7, 4), [2, 5], 0), ((2, 9, 3), [4, 4, 1], 1)])
def test_split_unequal_is_slices(shape, sizes, dim):
    check(Fn(lambda x: tuple(x.split(sizes, dim))), (torch.randn(shape),), has=["SLICE"])


@pytest.mark.parametrize("ids_shape", [(5,), (2, 7)])
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32])
def test_embedding(ids_shape, dtype):
    emb = nn.Embedding(11, 4)
    ids = torch.randint(0, 11, ids_shape, dtype=dtype)
    assert check(emb, (ids,)) == {"GATHER": 1}  # int64 ids feed GATHER directly: no CAST


def test_index_constant_negative_indices():
    idx = torch.tensor([2, -1, 0, -3])
    check(Fn(lambda x: x[:, idx]), (torch.randn(3, 5),), has=["GATHER"])


@pytest.mark.parametrize("idx_shape", [(4,), (2, 3)])
def test_index_runtime(idx_shape):
    check(Fn(lambda x, i: x[i]), (torch.randn(6, 3), torch.randint(0, 6, idx_shape)), has=["GATHER"], lacks=["CAST"])


def test_index_in_nhwc_layout():
    conv = nn.Conv2d(3, 6, 1)
    idx = torch.tensor([5, 0, 3])
    hist = check(Fn(lambda x: conv(x)[:, idx]), (torch.randn(1, 3, 4, 4),), atol=1e-5, has=["GATHER"])
    assert hist["TRANSPOSE"] == 2


class GatherBuffer(nn.Module):
    """torch.gather over constant buffers, as BERT's token-type embedding does."""

    def __init__(self):
        super().__init__()
        self.register_buffer("table", torch.arange(24.0).reshape(2, 12))
        self.register_buffer("positions", torch.tensor([[3, 0, 11, 7]]))

    def forward(self, x):
        return x + torch.gather(self.table[:1], 1, self.positions)


def test_gather_of_constants():
    check(GatherBuffer(), (torch.randn(1, 4),))


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4)])
def test_gather_with_runtime_index(dim, shape):
    x = torch.randn(*shape)
    index = torch.randint(0, shape[dim], shape)
    check(Fn(lambda a, i: torch.gather(a, dim, i)), (x, index), has=("GATHER_ND",))


@pytest.mark.parametrize("dim", [0, 1])
def test_gather_with_constant_index(dim):
    index = torch.tensor([[0, 2, 1], [1, 0, 0]])
    check(Fn(lambda a: torch.gather(a, dim, index)), (torch.randn(3, 3),), has=("GATHER_ND",))


@pytest.mark.parametrize("dim", [0, 1])
def test_index_select(dim):
    index = torch.tensor([2, 0, 2])
    check(Fn(lambda a: torch.index_select(a, dim, index) * 2), (torch.randn(3, 4),), has=("GATHER",))


class ShiftedWindowMask(nn.Module):
    """Swin's attention-mask construction: slice writes, in-place adds and fmod on index math."""

    def forward(self, x):
        mask = x.new_zeros(6, 6)
        mask[:2] = 1.0
        mask[:, 4:] += 2.0
        shifts = torch.fmod(torch.arange(6) + 3, 6)
        return x + torch.index_select(mask, 0, shifts)


def test_swin_style_mask():
    """Every step depends only on constants: the whole mask folds into the ADD's operand."""
    assert check(ShiftedWindowMask(), (torch.randn(6, 6),)) == {"ADD": 1}


@pytest.mark.parametrize("start,end", [(0, 2), (1, 3), (2, 5)])
def test_slice_scatter_at_run_time(start, end):
    def write(a, b):
        a = a.clone()
        a[:, start:end] = b[:, : end - start]
        return a * 1.0

    check(Fn(write), (torch.randn(3, 5), torch.randn(3, 5)), has=("CONCATENATION",))


# ---- several index tensors (issue 10): GATHER_ND with the indexed dims moved first.

@pytest.mark.parametrize("make_index", [
    lambda x: x[torch.tensor([0, 1, 1]), torch.tensor([1, 1, 2])],
    lambda x: x[:, torch.tensor([[0], [2]]), torch.tensor([1, -1, 3])],
    lambda x: x[:, :, torch.tensor([3, 0]), torch.tensor([1, 4])],
    lambda x: x[torch.tensor([1]), torch.tensor([0, 2]), torch.tensor([[3], [0]])],
])
def test_index_several_constant_indices(make_index):
    check(Fn(lambda x: make_index(x) * 2), (torch.randn(2, 3, 4, 5),))


def test_index_several_run_time_indices():
    def fn(x, i, j):
        return x[:, i, j]

    i = torch.tensor([[0, 2], [1, 1]])
    j = torch.tensor([3, 0])
    check(Fn(fn), (torch.randn(2, 3, 4), i, j))


def test_unfold_functional_im2col():
    # F.unfold decomposes into index.Tensor with two constant index tensors on H and W.
    check(Fn(lambda x: torch.nn.functional.unfold(x, 2, stride=1)), (torch.randn(1, 3, 5, 4),))


# ---- run-time slice_scatter with step > 1 (YOLO pose head: y[:, 2::3] = y[:, 2::3].sigmoid()).

@pytest.mark.parametrize("size, start, step", [(9, 2, 3), (10, 2, 3), (8, 0, 2), (7, 1, 4), (6, 5, 2)])
def test_slice_scatter_step(size, start, step):
    def fn(x):
        y = x.clone()
        y[:, start::step] = y[:, start::step].sigmoid()
        return y * 1.0

    check(Fn(fn), (torch.randn(2, size, 3),))
