"""Hostile .pt2 archives through the public Python API: pt2tflite.convert_pt2 raises
ConversionError (naming the node and field) for malformed input, and never takes the Python
process down. Each archive is a real export (fuzz/seeds/) with one targeted edit, one per crash
class of issue 11."""

import io
import json
import pathlib
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

import pt2tflite

SEEDS = pathlib.Path(__file__).resolve().parents[2] / "fuzz" / "seeds"
ROOT = pathlib.Path(__file__).resolve().parents[2]


def entries(name="convnet"):
    with zipfile.ZipFile(SEEDS / f"{name}.pt2") as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def rezip(items, aligned=True):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, body in items:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            if aligned:
                pad = (-(buf.tell() + 30 + len(name.encode()) + 4)) % 64
                info.extra = struct.pack("<HH", 0x4246, pad) + b"\0" * pad
            elif (buf.tell() + 30 + len(name.encode())) % 4 == 0:
                info.extra = struct.pack("<HH", 0x4246, 1) + b"\0"  # force a misaligned payload
            z.writestr(info, body)
    return buf.getvalue()


def edit_json(suffix, fn, name="convnet"):
    out = []
    for n, body in entries(name):
        if n.endswith(suffix):
            j = json.loads(body)
            fn(j)
            body = json.dumps(j).encode()
        out.append((n, body))
    return rezip(out)


def graph(j):
    return j["graph_module"]["graph"]


def node(j, target):
    return next(n for n in graph(j)["nodes"] if n["target"].endswith(target))


def weight_meta(j, fqn="conv.weight"):
    return j["config"][fqn]["tensor_meta"]


def set_arg(n, name, arg):
    next(i for i in n["inputs"] if i["name"] == name)["arg"] = arg


# (id, archive bytes, regex the message must match)
CASES = [
    ("negative_stride_hides_large_one",
     edit_json("model_weights_config.json", lambda j: weight_meta(j)["strides"].__setitem__(0, {"as_int": -27})),
     r"strides\[0\].*negative"),
    ("numel_wraps_64_bits",
     edit_json("model_weights_config.json",
               lambda j: weight_meta(j)["sizes"].__setitem__(0, {"as_int": 2**62})), r"sizes|overflow|out of range"),
    ("strides_shorter_than_sizes",
     edit_json("model_weights_config.json", lambda j: weight_meta(j)["strides"].pop()), r"4 sizes but 3 strides"),
    ("empty_arg_in_input_spec",
     edit_json("models/model.json",
               lambda j: j["graph_module"]["signature"]["input_specs"][-1]["user_input"].__setitem__("arg", {})),
     r"input_specs\[11\].*non-tensor model input \(empty\)"),
    ("dim_1e308",
     edit_json("models/model.json", lambda j: graph(j)["tensor_values"]["x"]["sizes"].__setitem__(0, {"as_int": 1e308})),
     r"tensor_values\.x\.sizes\[0\]: expected an integer, found a float"),
    ("renamed_argument",
     edit_json("models/model.json", lambda j: node(j, "convolution.default")["inputs"][1].__setitem__("name", "zzz")),
     r"convolution.*'zzz' is not in the schema"),
    ("swapped_target",
     edit_json("models/model.json", lambda j: node(j, "relu.default").__setitem__("target", "torch.ops.aten.linear.default")),
     r"linear.*argument 'self' is not in the schema"),
    ("two_nodes_same_output",
     edit_json("models/model.json",
               lambda j: node(j, "relu.default").__setitem__("outputs", node(j, "convolution.default")["outputs"])),
     r"already has a producer"),
    ("out_of_order_nodes",
     edit_json("models/model.json", lambda j: graph(j)["nodes"].reverse()),
     r"before any node produces it|already has a producer"),
    ("permute_dims_out_of_range",
     edit_json("models/model.json", lambda j: set_arg(node(j, "permute.default"), "dims", {"as_ints": [0, 7, 1]}),
               name="shape_ops"), r"permute.*dims entry 7 is out of range"),
    ("stride_zero",
     edit_json("models/model.json", lambda j: set_arg(node(j, "convolution.default"), "stride", {"as_ints": [0, 0]})),
     r"stride 0 is out of range"),
    ("symbolic_hint_zero",
     edit_json("models/model.json",
               lambda j: graph(j)["tensor_values"]["x"]["sizes"].__setitem__(
                   0, {"as_expr": {"expr_str": "s0", "hint": {"as_int": 0}}})), r"hint 0 is out of range"),
    ("declared_shape_differs",
     edit_json("models/model.json",
               lambda j: graph(j)["tensor_values"]["convolution"]["sizes"].__setitem__(2, {"as_int": 9})),
     r"declared output shape .* differs from the computed"),
    ("changed_payload_dtype",
     edit_json("model_weights_config.json", lambda j: weight_meta(j).__setitem__("dtype", 5)), r"another dtype"),
    ("bias_size_mismatch",
     edit_json("models/model.json",
               lambda j: graph(j)["tensor_values"]["p_fc_bias"]["sizes"].__setitem__(0, {"as_int": 5})),
     r"other sizes|bias"),
    ("million_char_op_name",
     edit_json("models/model.json", lambda j: node(j, "relu.default").__setitem__("target", "torch.ops.aten." + "A" * 10**6)),
     r"string of 1000015 chars"),
    ("deep_nesting",
     rezip([(n, b.replace(b'"graph_module"', b'"deep": ' + b"[" * 300000 + b"]" * 300000 + b', "graph_module"', 1)
             if n.endswith("models/model.json") else b) for n, b in entries()]), r"nests arrays/objects deeper than"),
    ("zip64_claims_2_60_entries", None, r"claims \d+ entries"),
]


def zip64_huge_count():
    data = bytearray(rezip(entries("mlp")))
    at = data.rfind(b"PK\x06\x06")
    assert at >= 0  # python's zipfile writes ZIP64 records only when needed; build one instead
    return bytes(data)


def _zip64_with_count(count):
    data = bytearray(rezip(entries("mlp")))
    eocd = data.rfind(b"PK\x05\x06")
    cd_size, cd_off = struct.unpack_from("<II", data, eocd + 12)
    z64 = len(data) - (len(data) - eocd)
    record = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, cd_size, cd_off)
    locator = struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    return bytes(data[:eocd]) + record + locator + bytes(data[eocd:])


CASES[-1] = ("zip64_claims_2_60_entries", _zip64_with_count(2**60), r"claims \d+ entries")


@pytest.mark.parametrize("data,pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_archive_raises_conversion_error(data, pattern):
    with pytest.raises(pt2tflite.ConversionError, match=pattern) as info:
        pt2tflite.convert_pt2(data)
    assert len(str(info.value)) < 600, str(info.value)[:200]


def test_misaligned_payloads_convert_exactly():
    """Zipped again without PyTorch's 64-byte alignment: payloads are copied, not read misaligned."""
    data = rezip(entries("mlp"), aligned=False)
    aligned = pt2tflite.convert_pt2(rezip(entries("mlp")))
    x = np.random.randn(2, 8).astype(np.float32)
    np.testing.assert_array_equal(pt2tflite.convert_pt2(data)(x), aligned(x))


def test_convert_pt2_matches_convert_from_path_and_bytes(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval()
    x = torch.randn(1, 3, 8, 8)
    ep = pt2tflite.converter.export_program(model, (x,))
    path = tmp_path / "m.pt2"
    torch.export.save(ep, path)
    from_path = pt2tflite.convert_pt2(path)
    from_bytes = pt2tflite.convert_pt2(path.read_bytes())
    assert from_path.tflite_bytes == from_bytes.tflite_bytes == pt2tflite.convert(model, (x,)).tflite_bytes
    np.testing.assert_allclose(from_path(x), model(x).detach().numpy(), atol=1e-5)


def test_convert_pt2_rejects_other_types():
    with pytest.raises(TypeError):
        pt2tflite.convert_pt2(42)


def test_python_process_survives_every_case():
    """All cases in one child process: it must end normally (a crash would kill it)."""
    code = (
        "import sys, pickle, pt2tflite\n"
        "for data in pickle.load(sys.stdin.buffer):\n"
        "    try: pt2tflite.convert_pt2(data)\n"
        "    except pt2tflite.ConversionError: pass\n"
        "print('alive')\n"
    )
    import pickle

    r = subprocess.run([sys.executable, "-c", code], input=pickle.dumps([c[1] for c in CASES]), capture_output=True,
                       timeout=300)
    assert r.returncode == 0 and b"alive" in r.stdout, r.stderr.decode()[-2000:]


def test_op_schema_table_is_up_to_date():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_op_schemas.py"), "--check"], capture_output=True)
    assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()


REGRESSIONS = sorted((ROOT / "tests" / "fuzz" / "regressions").glob("*.pt2"))


@pytest.mark.parametrize("path", REGRESSIONS, ids=lambda p: p.stem)
def test_regression_inputs_are_refused_or_load_in_litert(path):
    """Every committed fuzz/campaign input either raises ConversionError or converts to a file that
    LiteRT loads and allocates with XNNPACK and with the builtin kernels (issue 11's output contract).
    conv_of_integer_input / linear_of_integer_input: an input re-declared as an integer dtype once
    gave CONV_2D / FULLY_CONNECTED files LiteRT refused at prepare (mutation campaign, seed 7).
    runtime_dim_cat_declares_a_static_dim_it_does_not_have, state_buffer_declared_float16_feeds_batch_matmul,
    topk_values_declared_int32_over_float32: RESHAPE, BATCH_MATMUL and TOPK_V2 refused at prepare
    (replay of the fuzz corpus, 2026-12-03)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    try:
        model = pt2tflite.convert_pt2(path)
    except pt2tflite.ConversionError:
        return
    for resolver in (OpResolverType.AUTO, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES):
        Interpreter(model_content=model.tflite_bytes, experimental_op_resolver_type=resolver).allocate_tensors()

