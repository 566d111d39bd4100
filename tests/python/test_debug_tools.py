"""pt2tflite.debug: compare names the layer a planted wrong lowering breaks, find_culprits shrinks
a failing model to that layer and writes a reproducer that fails, inspect reports each op's origin
and XNNPACK verdict. The bug is planted in the core by the test-only switch
PT2TFLITE_TEST_PLANT_BUG=<FX node> (src/lower/plant_bug.h). About 1 min in total."""

import os
import subprocess
import sys

import torch
import torch.nn as nn

import pt2tflite
import pt2tflite.debug as debug
from pt2tflite import _core
from pt2tflite.converter import archive_bytes, export_program
from pt2tflite.debug.inspect_model import ir_name_of

PLANT = "PT2TFLITE_TEST_PLANT_BUG"


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x))


class Stack(nn.Module):
    """A stem and `n` conv+ReLU blocks: FX nodes relu, relu_1, ..., relu_{n-1}."""

    def __init__(self, n, c=4):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 3, padding=1)
        self.blocks = nn.Sequential(*[Block(c) for _ in range(n)])

    def forward(self, x):
        return self.blocks(self.stem(x)).mean((2, 3))


# Channels, height and width differ, so no NHWC shape can pass for an NCHW one.
X = torch.randn(1, 3, 10, 6)


def test_compare_finds_nothing_on_a_correct_conversion():
    report = debug.compare(Stack(6).eval(), (X,))
    assert report.first_bad is None, report.summary()
    assert len(report.rows) >= 6 and all(r.rel < 1e-5 for r in report.rows)
    assert report.outputs and report.outputs[0]["builtin_rel"] < 1e-5


def test_compare_names_the_planted_node(monkeypatch, tmp_path):
    monkeypatch.setenv(PLANT, "relu_3")
    report = debug.compare(Stack(6).eval(), (X,))
    bad = report.first_bad
    assert bad is not None and bad.node == "relu_3", report.table(markdown=False)
    assert bad.module_path == "blocks.3" and bad.op == "aten.relu.default"
    assert bad.source.endswith(f"{os.path.basename(__file__)}:{Block.forward.__code__.co_firstlineno + 1}")
    assert all(not report.past_tolerance(r) for r in report.rows[: bad.depth])  # nothing before it
    assert "relu_3" in report.summary() and "blocks.3" in report.summary()
    assert "<-- first past tolerance" in report.table()
    note = report.plot(tmp_path / "c.png")
    if note is None:
        assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    else:
        assert "matplotlib" in note


def test_derived_tensor_names_never_pass_for_fx_nodes():
    ep = export_program(Stack(12).eval(), (X,))
    fx_names = {n.name for n in ep.graph.nodes}
    tflite = pt2tflite.convert(Stack(12).eval(), (X,)).tflite_bytes
    names = {ir_name_of(t) for op in _core.inspect(tflite)["ops"] for t in op["inputs"] + op["outputs"]}
    assert all("#" in t or t in fx_names for t in names), sorted(t for t in names if "#" not in t and t not in fx_names)


def test_find_culprits_shrinks_50_layers_to_the_planted_node(monkeypatch, tmp_path):
    monkeypatch.setenv(PLANT, "relu_37")
    script = tmp_path / "repro.py"
    result = debug.find_culprits(Stack(50).eval(), (X,), reproducer=str(script))
    assert result.failure is not None and result.failure.kind == "mismatch"
    assert 1 <= len(result.nodes) <= 3 and "relu_37" in result.nodes, str(result)
    assert "blocks.37" in "\n".join(result.origins)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "FAILS" in run.stdout, run.stdout + run.stderr
    # Without the planted bug the same script passes: the failure is the bug, not the script.
    text = script.read_text().replace("os.environ['PT2TFLITE_TEST_PLANT_BUG']", "_unused")
    script.write_text(text)
    monkeypatch.delenv(PLANT)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in os.environ.items() if k != PLANT})
    assert run.returncode == 0 and "does not reproduce" in run.stdout, run.stdout + run.stderr


class Unsupported(nn.Module):
    def forward(self, x):
        y = torch.relu(x) * 2
        return torch.cumprod(y, 1) + 1  # aten.cumprod has no lowering


def test_find_culprits_shrinks_a_conversion_error(tmp_path):
    result = debug.find_culprits(Unsupported().eval(), (torch.randn(2, 5),), reproducer=str(tmp_path / "r.py"))
    assert result.failure.kind == "conversion" and "cumprod" in result.failure.message
    assert result.nodes == ["cumprod"], str(result)
    run = subprocess.run([sys.executable, str(tmp_path / "r.py")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "ConversionError" in run.stdout, run.stdout + run.stderr


def test_find_culprits_on_a_correct_model_finds_nothing():
    result = debug.find_culprits(Stack(2).eval(), (X,), reproducer=None)
    assert result.failure is None and result.piece is None


def test_inspect_gives_origin_and_xnnpack_verdict_per_op(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(0), nn.LogSoftmax(0)).eval()
    x = torch.randn(1, 3, 8, 8)
    ep = export_program(model, (x,))
    tfl = pt2tflite.convert(model, (x,))
    info = pt2tflite.inspect(tfl.tflite_bytes, ep, profile=True)
    assert [o.op for o in info.ops].count("CONV_2D") == 1
    conv = next(o for o in info.ops if o.op == "CONV_2D")
    assert conv.fx_node == "relu" and conv.module_path == "1" and conv.xnnpack_refusal == ""  # ReLU fused
    soft = next(o for o in info.ops if o.op == "LOG_SOFTMAX")
    assert soft.module_path == "3" and "LOG_SOFTMAX" in soft.xnnpack_refusal
    assert any("profiler" in n for n in info.notes)
    assert "no: LOG_SOFTMAX" in str(info)


def test_cli_compare_and_inspect(tmp_path, monkeypatch):
    pt2 = tmp_path / "m.pt2"
    pt2.write_bytes(archive_bytes(export_program(Stack(4).eval(), (X,))))
    cli = pt2tflite.native_cli()
    env = dict(os.environ, **{PLANT: "relu_2"})
    r = subprocess.run([cli, "compare", str(pt2), f"--out={tmp_path}"], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 3, r.stdout + r.stderr  # 3: a layer past the tolerance
    assert "first layer past the tolerance: relu_2" in r.stdout and "blocks.2" in r.stdout
    assert (tmp_path / "compare.md").read_text().count("relu_2 <-- first past tolerance") == 1
    tfl = tmp_path / "m.tflite"
    assert subprocess.run([cli, "convert", str(pt2), "-o", str(tfl)], capture_output=True).returncode == 0
    r = subprocess.run([cli, "inspect", str(tfl), f"--pt2={pt2}"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "blocks.2" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([cli, "inspect", str(tfl), "--ops"], capture_output=True, text=True)
    assert r.returncode == 0 and "CONV_2D -> blocks/2/conv/relu_2  xnnpack" in r.stdout


def test_compare_points_at_a_concatenation_with_a_fused_relu():
    """The file the converter wrote before eb4163d (RELU fused into CONCATENATION, rebuilt by
    tools/concat_relu_before_fix.py): compare names the CONCATENATION and the FX node it writes."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
    from concat_relu_before_fix import ConcatRelu, fuse_relu_into_concat

    model, x = ConcatRelu().eval(), torch.randn(1, 3, 10, 6)
    report = debug.compare(model, (x,), tflite=fuse_relu_into_concat(pt2tflite.convert(model, (x,)).tflite_bytes))
    assert report.runtime_error and "CONCATENATION" in report.runtime_error
    assert report.first_bad.tfl_op == "CONCATENATION" and report.first_bad.node == "relu"
    assert report.outputs[0]["xnnpack_rel"] > 0.1  # XNNPACK runs it and drops the ReLU: wrong answer
