"""Programs that once converted, ran and returned a wrong answer. Each is minimized from a report
or a differential-testing run, and is checked against PyTorch on XNNPACK and on the builtin
kernels (parity.check runs both)."""

import torch

from parity import Fn, check


def test_relu_after_concat_is_not_fused_into_concatenation():
    """CONCATENATION's builtin kernel refuses a fused activation and XNNPACK ignores it: the RELU
    must stay an op of its own (timm efficientvit_m0, shvit_s1)."""
    hist = check(Fn(lambda a, b: torch.relu(torch.cat([a, b], 1))), (torch.randn(2, 3, 4), torch.randn(2, 5, 4)))
    assert hist.get("RELU") == 1


def test_relu_after_concat_and_transpose():
    hist = check(Fn(lambda v: torch.relu(torch.cat([v, v], 0).transpose(1, 0))), (torch.randn(3, 5),))
    assert hist.get("RELU") == 1


def test_relu6_after_concat_through_a_dropped_identity_mul():
    check(Fn(lambda a, b: torch.clamp(torch.cat([a, b * 1.0], 1), 0, 6)), (torch.randn(1, 4, 3), torch.randn(1, 2, 3) * 8))


def test_relu_after_concat_of_conv_outputs():
    """The NCHW case: the concat runs on NHWC activations, the RELU after it must survive."""

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.b = torch.nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return torch.relu(torch.cat([self.a(x), self.b(x)], 1))

    hist = check(Net(), (torch.randn(1, 3, 8, 8),))
    assert hist.get("RELU") == 1


def test_expand_whose_readers_combine_it_with_itself():
    """(v·2 + v) with v = x.expand(...): both ADD operands derive from the broadcast, so dropping
    it would add two un-broadcast tensors and sum(0) would return a third of the answer."""

    def f(x):
        v = x.expand(3, 4, 4)
        return (v * 2 + v).sum(0)

    check(Fn(f), (torch.randn(1, 4, 4),))


def test_expand_multiplied_by_itself_then_reduced_over_the_broadcast_dim():
    def f(x):
        v = x.expand(3, 4, 4)
        return (v * v + v).sum(0)

    check(Fn(f), (torch.randn(1, 4, 4),))


def test_expand_into_matmul_with_itself_then_reduced():
    def f(x):
        v = x.expand(3, 4, 4)
        return torch.matmul(v * 0.5, v).sum(0)

    check(Fn(f), (torch.randn(1, 4, 4),))


def test_expand_that_adds_a_dim_then_reduced():
    def f(x):
        v = x.expand(3, 4, 4)
        w = v + 1.0
        return (w * v).sum(0)

    check(Fn(f), (torch.randn(4, 4),))


def test_softmax_between_reshapes_whose_input_is_read_again():
    """Builtin kernels only: RESHAPE → SOFTMAX → RESHAPE with the first RESHAPE's input read again
    (by a SUB) returned zeros (LiteRT's arena reused a live buffer, LiteRT issue 8889)."""

    def f(x):
        y = torch.softmax(x.reshape(6, 4), -1).reshape(2, 3, 4)
        return y - x

    check(Fn(f), (torch.randn(2, 3, 4),))


def test_softmax_over_merged_dims_whose_input_is_read_again():
    def f(x):
        y = torch.softmax(x.reshape(2, 12), -1).reshape(2, 3, 4)
        return x - y

    check(Fn(f), (torch.randn(2, 3, 4),))


def test_linear_of_a_1d_input_keeps_its_shape():
    """difftest 0:34: FULLY_CONNECTED returns [1, out] for a 1-D input; PyTorch's linear returns
    [out]. The model's output had the wrong shape."""
    check(torch.nn.Linear(8, 16), (torch.randn(8),))
    check(Fn(lambda x: torch.relu(torch.nn.functional.linear(x, torch.ones(3, 5))) + x.sum()), (torch.randn(5),))


def test_reshapes_of_a_shared_tensor_feeding_in_place_kernels():
    """timm GCViT, builtin kernels only: q = x.view(...) * scale three times from one x. LiteRT's
    arena planner let each MUL write over x's buffer (the RESHAPE aliases it, and the planner
    counts only the alias's readers), so the second and third q read an already scaled x
    (1.3e-2 off). passes/guard_inplace_aliases.cc copies the alias first."""

    def f(a, b):
        x = a * 2.0 + b  # an in-place ADD: x shares the buffer of a * 2
        q1 = x.reshape(4, 2, 8) * 0.5
        q2 = x.reshape(4, 2, 8) * 3.0
        return q1 + q2, x.reshape(8, 8).softmax(-1) - x.reshape(8, 8)

    check(Fn(f), (torch.randn(8, 8), torch.randn(8, 8)))
