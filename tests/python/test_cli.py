"""The native CLI: convert and inspect, exit codes, and no partial output on failure."""

import subprocess
import zipfile

import pytest
import torch
import torch.nn as nn

import pt2tflite
from pt2tflite.converter import archive_bytes, export_program

CLI = pt2tflite.native_cli()


def run(*args):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)


def save(module, x, path):
    path.write_bytes(archive_bytes(export_program(module.eval(), (x,))))
    return path


def test_convert_and_inspect(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    x = torch.randn(1, 3, 8, 8)
    pt2 = save(model, x, tmp_path / "m.pt2")
    out = tmp_path / "m.tflite"
    r = run("convert", pt2, "-o", out)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == pt2tflite.convert(model, (x,)).tflite_bytes  # CLI and API agree
    r = run("inspect", out)
    assert r.returncode == 0
    assert "CONV_2D 1" in r.stdout and "FULLY_CONNECTED 1" in r.stdout and "serving_default" in r.stdout
    assert "CONV_2D 1  xnnpack 1/1" in r.stdout and "not delegated" not in r.stdout


def test_inspect_explains_what_xnnpack_refuses(tmp_path):
    pt2 = save(nn.Sequential(nn.Flatten(0), nn.LogSoftmax(0)), torch.randn(2, 3), tmp_path / "m.pt2")
    out = tmp_path / "m.tflite"
    assert run("convert", pt2, "-o", out).returncode == 0
    r = run("inspect", out)
    assert "LOG_SOFTMAX 1  xnnpack 0/1" in r.stdout
    assert "not delegated (1): LOG_SOFTMAX is not in the delegate's op list" in r.stdout


@pytest.mark.parametrize("external", [False, True])
def test_streamed_file_equals_the_api_bytes(tmp_path, external):
    # The CLI streams each weight to the file from where it is (archive mapping or a pass's
    # result); the Python API assembles the file in memory. Both must give the same bytes, with
    # folded (BatchNorm), permuted (conv OHWI) and borrowed (linear) weights alike.
    from pt2tflite import _core

    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 5))
    pt2 = save(model, torch.randn(1, 3, 8, 8), tmp_path / "m.pt2")
    out = tmp_path / "m.tflite"
    flags = ["--external-buffers"] if external else []
    r = run("convert", pt2, "-o", out, *flags)
    assert r.returncode == 0, r.stderr
    api, _ = _core.convert(pt2.read_bytes(), [], False, external, False, False)
    assert out.read_bytes() == api
    assert list(tmp_path.glob("*.tmp*")) == []


def test_unwritable_output_exits_2_and_writes_nothing(tmp_path):
    pt2 = save(nn.Sequential(nn.Linear(3, 3)), torch.randn(1, 3), tmp_path / "m.pt2")
    r = run("convert", pt2, "-o", tmp_path / "missing_dir" / "m.tflite")
    assert r.returncode == 2 and "cannot write" in r.stderr
    assert not (tmp_path / "missing_dir").exists()


def test_unsupported_model_exits_2_and_writes_nothing(tmp_path):
    pt2 = save(nn.Sequential(nn.Linear(3, 3)), torch.randn(1, 3), tmp_path / "ok.pt2")
    bad = tmp_path / "bad.pt2"

    class M(nn.Module):
        def forward(self, x):
            return torch.erfinv(x)

    save(M(), torch.rand(3) * 0.5, bad)
    out = tmp_path / "bad.tflite"
    r = run("convert", bad, "-o", out)
    assert r.returncode == 2
    assert "aten.erfinv.default" in r.stderr
    assert not out.exists() and list(tmp_path.glob("*.tmp*")) == []
    assert run("convert", pt2, "-o", tmp_path / "ok.tflite").returncode == 0


class _ManyUnsupported(nn.Module):
    def forward(self, x):
        for _ in range(5):
            x = torch.erfinv(torch.relu(x) * 0.5)  # unsupported, five times
        return torch.special.bessel_j0(x) + torch.special.bessel_j0(x * 2)  # another op, twice


def test_many_unsupported_nodes_give_a_short_message_and_verbose_lists_all(tmp_path):
    pt2 = save(_ManyUnsupported(), torch.rand(3) * 0.5, tmp_path / "many.pt2")
    r = run("convert", pt2, "-o", tmp_path / "m.tflite")
    assert r.returncode == 2
    assert "7 unsupported nodes (aten.erfinv.default x5, aten.special_bessel_j0.default x2)" in r.stderr, r.stderr
    assert r.stderr.count("\n  - ") == 3 and "... and 4 more" in r.stderr, r.stderr
    assert len(r.stderr) < 1200, r.stderr
    r = run("convert", pt2, "-o", tmp_path / "m.tflite", "--verbose")
    assert r.returncode == 2 and r.stderr.count("\n  - ") == 7, r.stderr
    with pytest.raises(pt2tflite.ConversionError) as info:
        pt2tflite.convert_pt2(str(pt2))
    assert len(info.value.diagnostics) == 7


@pytest.mark.parametrize("content", [b"", b"not a zip at all" * 10])
def test_bad_archive_exits_2(tmp_path, content):
    bad = tmp_path / "bad.pt2"
    bad.write_bytes(content)
    r = run("convert", bad, "-o", tmp_path / "x.tflite")
    assert r.returncode == 2 and "error" in r.stderr
    assert not (tmp_path / "x.tflite").exists()


def test_zip_without_model_exits_2(tmp_path):
    bad = tmp_path / "other.pt2"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("other/hello.txt", "hi")
    r = run("convert", bad, "-o", tmp_path / "x.tflite")
    assert r.returncode == 2 and "not a PT2 archive" in r.stderr


def test_usage_errors_exit_2(tmp_path):
    assert run("convert").returncode == 2
    assert run("frobnicate").returncode == 2
    assert run("inspect", tmp_path / "missing.tflite").returncode == 2


def test_dump_after(tmp_path):
    pt2 = save(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)), torch.randn(1, 3, 8, 8), tmp_path / "m.pt2")
    r = run("convert", pt2, "-o", tmp_path / "m.tflite", "--dump-after=import", "--dump-after=fold_batchnorm")
    assert r.returncode == 0
    before, after = r.stderr.split("// IR after fold_batchnorm")
    op = "aten._native_batch_norm_legit_no_training.default("
    assert op in before and op not in after


def test_unknown_dump_after_pass_exits_2_and_leaves_no_file(tmp_path):
    pt2 = save(nn.Sequential(nn.Conv2d(3, 4, 3)), torch.randn(1, 3, 8, 8), tmp_path / "m.pt2")
    r = run("convert", pt2, "-o", tmp_path / "m.tflite", "--dump-after=fold_bn")
    assert r.returncode == 2 and "unknown pass 'fold_bn'" in r.stderr and "fold_batchnorm" in r.stderr
    assert list(tmp_path.iterdir()) == [pt2]


def test_training_ir_archive_exits_2_and_names_the_fix(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    pt2 = tmp_path / "train.pt2"
    torch.export.save(torch.export.export(model, (torch.randn(1, 3, 8, 8),)), pt2)  # no run_decompositions
    r = run("convert", pt2, "-o", tmp_path / "t.tflite")
    assert r.returncode == 2 and "run_decompositions" in r.stderr
    assert not (tmp_path / "t.tflite").exists()
