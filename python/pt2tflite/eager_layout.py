"""Where torch's tracing gives a tensor another memory layout than eager PyTorch does.

A layout is invisible to the converter (the graph has no strides), but not to torch: a `.view()`
that eager allows on its contiguous result fails while tracing if the traced result kept a permuted
input's strides ("Cannot view a tensor with shape ... and strides ..."), and the model does not
convert at all. Each fix here gives the traced tensor the layout eager gives it, decided by asking
eager itself on empty real tensors of the same shapes, strides and dtypes; the copy that may add is
free for us (a contiguous() is lowered as an identity).
"""

from __future__ import annotations

import contextlib


def sdpa_in_eager_layout(decomposition, *args, **kwargs):
    """scaled_dot_product_attention's decomposition (wrapped into the table run_decompositions uses)
    with its result in eager's layout: the query's when eager runs the flash kernel, contiguous when
    it runs the math kernel; the decomposition alone returns one fixed layout. Cases: `sdpa(x, x,
    x).view(n)` on a 3-D x (difftest 11:196) and, for heads split by a transpose (BEiT,
    data2vec-vision), `sdpa(q, k, v).transpose(1, 2).view(b, l, h * d)`."""
    from torch.nn.attention import SDPBackend

    out = decomposition(*args, **kwargs)
    query = args[0]
    try:
        heads_inside_sequence = query.dim() == 4 and _hint(query.stride(1)) < _hint(query.stride(2))  # [B, L, H, D]
        flash = heads_inside_sequence and _eager_sdp_choice(args, kwargs) == SDPBackend.FLASH_ATTENTION.value
    except TypeError:  # a size without a hint (an unbacked symbol): eager's layout is unknown
        flash = False
    return out.transpose(1, 2).contiguous().transpose(1, 2) if flash else out.contiguous()


def _eager_sdp_choice(args: tuple, kwargs: dict) -> int:
    """The kernel eager would run: _fused_sdp_choice on real (empty) tensors of the same shapes,
    strides and dtypes. On the fake tensors run_decompositions traces with it answers differently
    (math), while export saw eager's flash layout."""
    import torch
    from torch._subclasses.fake_tensor import unset_fake_temporarily
    from torch.fx.experimental.proxy_tensor import disable_proxy_modes_tracing

    with unset_fake_temporarily(), disable_proxy_modes_tracing():
        return int(torch.ops.aten._fused_sdp_choice.default(*[_real(a) for a in args],
                                                            **{k: _real(v) for k, v in kwargs.items()}))


@contextlib.contextmanager
def batch_norm_in_eager_layout():
    """While exporting and decomposing, batch norm's traced result takes eager's layout.

    torch has no meta kernel for batch norm; tracing runs its decomposition
    (`torch._decomp.decompositions.native_batch_norm_helper`), whose elementwise arithmetic keeps
    the input's strides, while eager's CPU kernel allocates its result in the input's suggested
    memory format: contiguous for a permuted input (pytorch/pytorch#192668, open in torch 2.14). So
    `F.batch_norm(x.permute(1, 0, 2, 3), ...).view(-1)` runs in eager and fails in torch.export
    (difftest long run 0:79215). The helper's result is given the memory format of eager's result
    for a non-contiguous CPU input (eager asked on empty real tensors; the input is not read
    meaningfully, only its layout matters). If torch moves the helper, nothing is patched."""
    try:
        from torch._decomp import decompositions
    except ImportError:
        yield
        return
    original = getattr(decompositions, "native_batch_norm_helper", None)
    if original is None:
        yield
        return

    def helper_in_eager_layout(input, weight, bias, running_mean, running_var, training, momentum, eps,
                               functional):
        result = original(input, weight, bias, running_mean, running_var, training, momentum, eps, functional)
        fmt = _eager_batch_norm_format(input, training) if input.device.type == "cpu" else None
        if fmt is None:
            return result
        return (result[0].contiguous(memory_format=fmt),) + tuple(result[1:])

    decompositions.native_batch_norm_helper = helper_in_eager_layout
    try:
        yield
    finally:
        decompositions.native_batch_norm_helper = original


def _eager_batch_norm_format(input, training: bool):
    """The memory format of eager's CPU batch norm result for `input`'s shape and strides, or None
    when there is nothing to change (a contiguous input: both keep it) or it cannot be known (a size
    without a hint) or is none of the named formats."""
    import torch
    from torch._subclasses.fake_tensor import unset_fake_temporarily
    from torch.fx.experimental.proxy_tensor import disable_proxy_modes_tracing

    try:
        if input.is_contiguous() or input.dim() < 2:
            return None
        with unset_fake_temporarily(), disable_proxy_modes_tracing():
            x = _real(input)
            channels = x.shape[1]
            stats = torch.zeros(channels, dtype=x.dtype), torch.ones(channels, dtype=x.dtype)
            out = torch.nn.functional.batch_norm(x, *stats, training=training)
    except (TypeError, RuntimeError):  # a size without a hint, or eager refuses what tracing took
        return None
    if out.is_contiguous():
        return torch.contiguous_format
    if out.dim() == 4 and out.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    if out.dim() == 5 and out.is_contiguous(memory_format=torch.channels_last_3d):
        return torch.channels_last_3d
    return None


def _real(a):
    """An empty real tensor of a (fake) tensor's shape, strides and dtype; anything else as it is."""
    import torch

    if not isinstance(a, torch.Tensor):
        return a
    return torch.empty_strided([_hint(d) for d in a.shape], [_hint(d) for d in a.stride()], dtype=a.dtype)


def _hint(n) -> int:
    """A size or stride as an int: a symbolic one (a dynamic dim) by the value export traced with."""
    import torch

    if isinstance(n, torch.SymInt):
        if n.node.hint is None:
            raise TypeError("a symbolic size without a hint")
        return int(n.node.hint)
    return int(n)
