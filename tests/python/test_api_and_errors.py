"""The Python API round trip and the errors a user meets: each one names what failed and where."""

import os
import re

import numpy as np
import pytest
import torch
import torch.nn as nn

import pt2tflite

from parity import Fn


class TwoUnsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x):
        a = torch.cumprod(x, dim=1)  # no lowering
        b = torch.erfinv(torch.tanh(self.proj(x)) * 0.5)  # no lowering
        return a + b


def test_export_and_load_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(8, 4), nn.ReLU())
    x = torch.randn(2, 8)
    tfl = pt2tflite.convert(model.eval(), (x,))
    path = tmp_path / "m.tflite"
    tfl.export(path)
    assert path.read_bytes() == tfl.tflite_bytes
    loaded = pt2tflite.load(path)
    np.testing.assert_allclose(loaded(x), model(x).detach().numpy(), atol=1e-6)
    assert [p for p in os.listdir(tmp_path)] == ["m.tflite"]  # no temporary left behind


def test_exported_program_input():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    x = torch.randn(1, 3, 8, 8)
    ep = torch.export.export(model, (x,))
    np.testing.assert_allclose(pt2tflite.convert(ep, (x,))(x), model(x).detach().numpy(), atol=1e-5)


def test_training_mode_is_refused():
    with pytest.raises(pt2tflite.ConversionError, match=r"training mode.*eval\(\)"):
        pt2tflite.convert(nn.Linear(2, 2).train(), (torch.randn(1, 2),))


def test_unsupported_ops_are_all_reported_with_their_origin():
    with pytest.raises(pt2tflite.ConversionError) as info:
        pt2tflite.convert(TwoUnsupported().eval(), (torch.randn(2, 4),))
    diags = info.value.diagnostics
    ops = sorted(d.op for d in diags)
    assert ops == ["aten.cumprod.default", "aten.erfinv.default"], ops
    for d in diags:
        assert d.node
        assert d.source.startswith(__file__ + ":"), d.source
    lines = {d.op: int(d.source.rsplit(":", 1)[1]) for d in diags}
    src = open(__file__).read().splitlines()
    assert "cumprod" in src[lines["aten.cumprod.default"] - 1]
    assert "erfinv" in src[lines["aten.erfinv.default"] - 1]
    assert "aten.cumprod.default" in str(info.value) and "aten.erfinv.default" in str(info.value)


def test_unsupported_op_names_its_module_path():
    class Inner(nn.Module):
        def forward(self, x):
            return torch.erfinv(x)

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.Sequential(nn.Identity(), Inner())

        def forward(self, x):
            return self.block(x)

    with pytest.raises(pt2tflite.ConversionError) as info:
        pt2tflite.convert(Outer().eval(), (torch.rand(3) * 0.5,))
    assert info.value.diagnostics[0].module_path == "block.1"


def test_export_failure_is_a_conversion_error():
    class DataDependent(nn.Module):
        def forward(self, x):
            if x.sum() > 0:  # data-dependent control flow: torch.export cannot capture it
                return x
            return -x

    with pytest.raises(pt2tflite.ConversionError, match="torch.export could not capture"):
        pt2tflite.convert(DataDependent().eval(), (torch.randn(3),))


def test_dump_after_prints_ir(capfd):
    pt2tflite.convert(nn.ReLU().eval(), (torch.randn(2, 3),), dump_after=["lower"])
    err = capfd.readouterr().err
    assert "// IR after lower" in err and "tfl.RELU" in err


def test_every_pass_name_can_be_dumped_and_others_are_refused(capfd):
    names = pt2tflite.pass_names()
    assert names[:6] == ["import", "compute_in_float32", "view_0d_as_1d", "fold_batchnorm", "evaluate_constants", "lower"]
    assert "fold_qdq" in names
    pt2tflite.convert(nn.ReLU().eval(), (torch.randn(2, 3),), dump_after=names)
    err = capfd.readouterr().err
    # weight_quant, float16_weights and quantized_io run only when asked for; every other stage prints its IR.
    for name in names:
        assert (f"// IR after {name}\n" in err) == (name not in ("weight_quant", "float16_weights", "quantized_io")), name
    with pytest.raises(pt2tflite.ConversionError, match="unknown pass 'lowr'.*fold_batchnorm, evaluate_constants, lower"):
        pt2tflite.convert(nn.ReLU().eval(), (torch.randn(2, 3),), dump_after=["lowr"])


def test_supported_ops_table_comes_from_the_core():
    ops = {op for op, _, _ in pt2tflite.supported_ops()}
    assert "aten.convolution.default" in ops and "aten.addmm.default" in ops


def test_ops_doc_is_generated_from_the_registry():
    import subprocess
    import sys

    root = os.path.join(os.path.dirname(__file__), "..", "..")
    r = subprocess.run([sys.executable, os.path.join(root, "tools", "gen_ops_doc.py"), "--check"])
    assert r.returncode == 0, "docs/ops.md is stale: run python tools/gen_ops_doc.py"


def test_passes_doc_is_generated_from_the_pipeline():
    import subprocess
    import sys

    root = os.path.join(os.path.dirname(__file__), "..", "..")
    r = subprocess.run([sys.executable, os.path.join(root, "tools", "gen_passes_doc.py"), "--check"])
    assert r.returncode == 0, "docs/passes.md is stale: run python tools/gen_passes_doc.py"


def test_tied_weights_are_read_once_and_used_twice():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(6, 6)
            self.b = nn.Linear(6, 6)
            self.b.weight = self.a.weight  # one storage, two FQNs in the archive

        def forward(self, x):
            return self.b(torch.relu(self.a(x)))

    model = Tied().eval()
    x = torch.randn(3, 6)
    tfl = pt2tflite.convert(model, (x,))
    np.testing.assert_allclose(tfl(x), model(x).detach().numpy(), atol=1e-5)


def test_external_buffers_run_in_litert_and_match_inline():
    """Weights stored after the flatbuffer (the layout used above 2 GiB) load and give the same output."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 5)).eval()
    x = torch.randn(1, 3, 8, 8)
    inline = pt2tflite.convert(model, (x,))
    outside = pt2tflite.convert(model, (x,), external_buffers=True)
    assert outside.tflite_bytes != inline.tflite_bytes
    assert outside.op_histogram() == inline.op_histogram()
    np.testing.assert_array_equal(outside(x), inline(x))
    np.testing.assert_allclose(outside(x), model(x).detach().numpy(), atol=1e-5)


def test_nodes_after_an_unsupported_node_are_checked_too():
    def f(x):
        y = torch.special.bessel_j0(x)  # unsupported
        y = torch.relu(y) * 2  # supported, fed by the failure
        return torch.special.bessel_j1(y)  # unsupported, downstream of the first

    with pytest.raises(pt2tflite.ConversionError) as info:
        pt2tflite.convert(Fn(f).eval(), (torch.randn(4),))
    ops = [d.op for d in info.value.diagnostics]
    assert ops == ["aten.special_bessel_j0.default", "aten.special_bessel_j1.default"], ops
    src = open(__file__).read().splitlines()
    for d in info.value.diagnostics:
        file, line = d.source.rsplit(":", 1)
        assert file == __file__ and "bessel" in src[int(line) - 1], d.source


def test_stack_traces_keep_the_users_frames_and_drop_torchs():
    from pt2tflite.converter import export_program

    def helper(x):
        return torch.sin(x) * 2  # made in a helper: its frame must stay

    ep = export_program(Fn(lambda x: helper(x) + 1).eval(), (torch.randn(3),))
    torch_dir = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep
    nodes = [n for n in ep.graph.nodes if n.op == "call_function"]
    assert nodes
    for n in nodes:
        files = re.findall(r'File "([^"]+)", line \d+', n.meta["stack_trace"])
        assert __file__ in files, n.meta["stack_trace"]
        assert not any(f.startswith(torch_dir) for f in files), n.meta["stack_trace"]


def test_module_paths_with_commas_are_read_whole():
    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.add_module("a,b", nn.Sequential(nn.Identity(), _Bessel()))

        def forward(self, x):
            return getattr(self, "a,b")(x)

    with pytest.raises(pt2tflite.ConversionError) as info:
        pt2tflite.convert(Outer().eval(), (torch.randn(3),))
    assert [d.module_path for d in info.value.diagnostics] == ["a,b.1"]


class _Bessel(nn.Module):
    def forward(self, x):
        return torch.special.bessel_j0(x)


def test_a_none_output_is_dropped():
    class WithNone(nn.Module):
        def forward(self, x):
            return x * 2, None, x + 1

    x = torch.randn(2, 3)
    model = pt2tflite.convert(WithNone().eval(), (x,))
    a, b = model(x)
    np.testing.assert_allclose(a, (x * 2).numpy())
    np.testing.assert_allclose(b, (x + 1).numpy())


def test_a_torch_return_types_output_is_returned_flat():
    """`x.max(1)` returns a torch.return_types named tuple, which torch.export.save cannot write
    (NotImplementedError: no serialized pytree name); the converter returns its fields flat."""
    x = torch.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    model = pt2tflite.convert(Fn(lambda v: v.max(1)).eval(), (x,))
    values, indices = model(x)
    np.testing.assert_array_equal(values, [5.0, 7.0])
    np.testing.assert_array_equal(indices, [1, 0])


def test_a_failing_decomposition_names_the_op_and_line(monkeypatch):
    from pt2tflite import converter

    def broken(x):
        raise RuntimeError("this decomposition is broken")

    real = converter._decomposition_table
    monkeypatch.setattr(converter, "_decomposition_table",
                        lambda: {**real(), torch.ops.aten.sin.default: broken})

    def f(x):
        return torch.sin(x) + 1  # the node whose decomposition fails

    with pytest.raises(pt2tflite.ConversionError) as info:
        pt2tflite.convert(Fn(f).eval(), (torch.randn(3),))
    (d,) = info.value.diagnostics
    assert d.op == "aten.sin.default" and "this decomposition is broken" in d.message
    file, line = d.source.rsplit(":", 1)
    assert file == __file__ and "torch.sin" in open(__file__).read().splitlines()[int(line) - 1]


def test_export_failure_names_the_line_and_what_to_try():
    class DataDependent(nn.Module):
        def forward(self, x):
            if x.sum() > 0:  # the line that breaks the trace
                return x
            return -x

    with pytest.raises(pt2tflite.ConversionError) as info:
        pt2tflite.convert(DataDependent().eval(), (torch.randn(3),))
    msg = str(info.value)
    file, line = info.value.diagnostics[0].source.rsplit(":", 1)
    assert file == __file__ and "the line that breaks" in open(__file__).read().splitlines()[int(line) - 1]
    assert "data-dependent" in msg and "torch.where" in msg
