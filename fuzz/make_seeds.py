"""Writes the fuzzers' seed corpus: tiny real torch.export archives (fuzz/seeds/*.pt2).

Each model is small (a few hundred weights) so the whole corpus stays well under 100 KB, yet
together they cover the archive features the reader checks: parameters and buffers (payloads
with strides), a channels-last (strided) weight, convolution/pooling/linear schemas, views,
permutes, slices, concatenation and reductions, and a run-time scalar (`.item()`, its symbol,
torch._check assertions and slices it sizes). Run: python fuzz/make_seeds.py

Later seeds widen what the mutators start from: gathers and index_put, sorting ops, pooling and
grid_sample, a dynamic batch (symbolic sizes everywhere), a PT2E int8 model, a KV cache (buffer
mutation, state inputs and outputs), and data movement with elementwise math.

Each node's `stack_trace` keeps only the user's frames (export_program drops torch's): the full
trace is ~4 KB of torch internals per node, 90% of a seed's model.json, and an execution's cost
grows with the JSON it parses. `python fuzz/make_seeds.py --trim-corpus DIR` trims a grown corpus
(archives, or model.json text; other files stay as they are), keeping the user's frames and the
torch frame just inside them.
"""

from __future__ import annotations

import argparse
import io
import json
import pathlib
import re
import zipfile

import torch
from torch import nn

from pt2tflite.converter import archive_bytes, export_program

OUT = pathlib.Path(__file__).resolve().parent / "seeds"


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.dw = nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        y = nn.functional.max_pool2d(self.dw(y), 2)
        y = nn.functional.avg_pool2d(y, 2).mean(dim=(2, 3))
        return self.fc(y)


class ShapeOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("table", torch.arange(24, dtype=torch.float32).reshape(2, 3, 4).permute(0, 2, 1))

    def forward(self, x):
        y = x.permute(0, 2, 1) + self.table
        z = torch.cat([y[:, 1:3], y[:, :2] * 2.0], dim=1)
        return z.reshape(2, -1).softmax(dim=-1), z.sum(dim=1, keepdim=True)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 6)
        self.fc2 = nn.Linear(6, 2)
        self.ln = nn.LayerNorm(6)

    def forward(self, x):
        return self.fc2(nn.functional.gelu(self.ln(self.fc1(x)))).tanh()


class Upsample(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 1)
        self.w = nn.Parameter(torch.randn(1, 2, 4, 4).contiguous(memory_format=torch.channels_last))

    def forward(self, x):
        y = nn.functional.interpolate(self.conv(x), scale_factor=2, mode="bilinear")
        y = nn.functional.pad(y, (1, 0, 0, 1)) * 0.5
        return y[:, :, :4, :4] + self.w


class RuntimeLength(nn.Module):
    """Attention over the first n rows of a cache, n read from an input at run time (export_llm's
    attend_bucket)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("cache", torch.randn(1, 2, 16, 4))

    def forward(self, q, pos):
        n = torch.clamp((pos[0] // 4 + 1) * 4, max=16).item()
        torch._check(n >= 1)
        torch._check(n <= 16)
        k = self.cache[:, :, :n]
        return torch.softmax(q @ k.transpose(2, 3), dim=-1) @ k


class Indexing(nn.Module):
    """Gathers of every kind: several adjacent index tensors (Hugging Face's mask[b, kv]), one
    index tensor, index_select, gather, an embedding, and an index_put that is not a cache write."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.register_buffer("table", torch.randn(3, 5, 4))

    def forward(self, x, ids):
        rows = torch.arange(3).unsqueeze(1)
        y = self.table[rows, ids]  # [3, 2, 4]
        z = torch.index_select(x, 1, torch.tensor([0, 2])) + y[:, :, :1].sum(-1)
        g = torch.gather(x, 1, ids.clamp(max=3))
        e = self.emb(ids) * 0.5
        w = x.clone()
        w[:, torch.tensor([1, 3])] = g
        return z, e, w + x[torch.tensor([2, 0, 1])]


class Sorting(nn.Module):
    """Ops whose output jumps with the input: topk, sort, argmax, max over a dim, and a cumsum."""

    def forward(self, x):
        v, i = torch.topk(x, 2, dim=-1)
        s, _ = torch.sort(x, dim=1, descending=True)
        m, j = torch.max(x, dim=0)
        return v + s[:, :2], i, torch.argmax(x, dim=-1), m * j, torch.cumsum(x, 1)


class Sampling(nn.Module):
    """Windows and samplers: average pooling with padding and ceil_mode, adaptive pooling, a
    bilinear grid_sample, and a strided, dilated, grouped convolution."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, stride=2, padding=2, dilation=2, groups=2)

    def forward(self, x, grid):
        y = nn.functional.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
        y = nn.functional.adaptive_avg_pool2d(self.conv(x), (2, 3)) + y[:, :, :2, :3]
        return nn.functional.grid_sample(x, grid, mode="bilinear", align_corners=False), y.flatten(1)


class DynamicBatch(nn.Module):
    """A model exported with a dynamic batch (a Dim): symbolic sizes through linear, softmax,
    reshape with -1, cat, expand and a mean."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x):
        h = torch.softmax(self.fc(x), dim=-1)
        t = torch.cat([h, x], dim=1).reshape(x.shape[0], -1, 3)
        return t.mean(dim=1, keepdim=True).expand(-1, 4, -1) + 1


class QuantizedConv(nn.Module):
    """PT2E int8 (quantize/dequantize pairs around a convolution, a linear and an add)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return self.fc(y.mean(dim=(2, 3)) + 1.0)


class KvCache(nn.Module):
    """State: a key/value cache written at input_pos (index_copy_, becomes DYNAMIC_UPDATE_SLICE and a
    cache input/output pair), then attention over the whole cache with a causal mask."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(4, 12)
        self.register_buffer("k_cache", torch.zeros(1, 8, 4))
        self.register_buffer("v_cache", torch.zeros(1, 8, 4))

    def forward(self, x, input_pos):
        q, k, v = self.qkv(x).split(4, dim=-1)
        rows = torch.arange(x.shape[1]) + input_pos[0]  # a block write at arange(T) + start
        self.k_cache.index_copy_(1, rows, k)
        self.v_cache.index_copy_(1, rows, v)
        mask = torch.arange(8).unsqueeze(0) <= rows.unsqueeze(1)
        scores = (q @ self.k_cache.transpose(1, 2)).masked_fill(~mask, -1e9)
        return torch.softmax(scores, dim=-1) @ self.v_cache


class Rearrange(nn.Module):
    """Data movement and elementwise math: pixel_shuffle, roll, flip, group_norm, where, floor
    division, fmod, sin/cos, pow, clamp and a slice_scatter."""

    def __init__(self):
        super().__init__()
        self.gn = nn.GroupNorm(2, 4)

    def forward(self, x):
        y = nn.functional.pixel_shuffle(self.gn(x), 2)  # [1, 1, 8, 8]
        y = torch.roll(y, shifts=(1, -2), dims=(2, 3)).flip(3)
        z = torch.where(y > 0, torch.sin(y), torch.cos(y) ** 2)
        z = z + torch.floor_divide(y, 0.7) * 0.1 + torch.fmod(y, 0.5)
        s = torch.slice_scatter(z, y[:, :, :2].clamp(-1, 1), dim=2, start=0, end=2)
        return s, torch.pow(y.abs() + 1, 1.5).mean(dim=(2, 3))


def quantized(model: nn.Module, args: tuple) -> nn.Module:
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from pt2tflite.quantize import PT2EQuantizer, get_symmetric_quantization_config

    m = torch.export.export(model.eval(), args).module()
    m = prepare_pt2e(m, PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True)))
    for _ in range(4):
        m(*[torch.randn_like(a) for a in args])
    return convert_pt2e(m)


_FRAME = re.compile(r'^  File "([^"]*)", line \d+, in .*$')


def short_trace(trace: str) -> str:
    """The frames of `trace` outside torch's package, plus the first torch frame after the
    innermost of them (the reader must skip it to find the user's line)."""
    frames: list[list[str]] = []
    for line in trace.splitlines():
        if _FRAME.match(line) or not frames:
            frames.append([line])
        else:
            frames[-1].append(line)
    user = [i for i, f in enumerate(frames) if "/torch/" not in f[0]]
    if not user:
        return "\n".join(sum(frames[-1:], []))
    keep = user + ([user[-1] + 1] if user[-1] + 1 < len(frames) else [])
    return "\n".join(line for i in keep for line in frames[i])


_TRACE_FIELD = re.compile(rb'"stack_trace": *"((?:[^"\\]|\\.)*)"')


def trim_model_json(text: bytes) -> bytes:
    """Shortens every stack_trace string in the text, so that a mutant whose JSON no longer parses
    is trimmed too."""

    def shorten(m: re.Match) -> bytes:
        try:
            trace = json.loads(b'"' + m.group(1) + b'"')
        except ValueError:
            return m.group(0)
        return b'"stack_trace": ' + json.dumps(short_trace(trace)).encode()

    return _TRACE_FIELD.sub(shorten, text)


def _stored_body(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """A stored entry's bytes, read past its CRC (the fuzz mutators edit entries without fixing
    CRCs, and the reader does not check them)."""
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError("compressed entry")
    start = info.header_offset + 30
    name_len, extra_len = int.from_bytes(data[start - 4 : start - 2], "little"), int.from_bytes(data[start - 2 : start], "little")
    start += name_len + extra_len
    return data[start : start + info.compress_size]


def trim_archive(data: bytes) -> bytes | None:
    """`data` with every models/*.json trimmed, or None when it is not a readable archive."""
    try:
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
            for info in src.infolist():
                body = _stored_body(data, info)
                if re.search(r"/models/[^/]*\.json$", info.filename):
                    body = trim_model_json(body)
                dst.writestr(info.filename, body)
        return out.getvalue()
    except Exception:  # noqa: BLE001 - a mutated corpus file may be anything; it stays as it is
        return None


def trim_corpus(directory: pathlib.Path) -> None:
    before = after = 0
    for path in sorted(directory.iterdir()):
        data = path.read_bytes()
        trimmed = trim_archive(data)
        if trimmed is None and data.lstrip().startswith(b"{"):  # fuzz_json_import's corpus: model.json text
            trimmed = trim_model_json(data)
        before += len(data)
        if trimmed is not None and len(trimmed) < len(data):
            path.write_bytes(trimmed)
            data = trimmed
        after += len(data)
    print(f"{directory}: {before} -> {after} bytes")


def write_seeds():
    torch.manual_seed(0)
    OUT.mkdir(exist_ok=True)
    image = torch.randn(1, 3, 16, 16)
    cases = {
        "convnet": (ConvNet(), (image,)),
        "shape_ops": (ShapeOps(), (torch.randn(2, 3, 4),)),
        "mlp": (Mlp(), (torch.randn(2, 8),)),
        "upsample": (Upsample(), (torch.randn(1, 2, 2, 2),)),
        "runtime_length": (RuntimeLength(), (torch.randn(1, 2, 3, 4), torch.tensor([5], dtype=torch.int32))),
        "indexing": (Indexing(), (torch.randn(3, 5), torch.randint(0, 5, (3, 2)))),
        "sorting": (Sorting(), (torch.randn(3, 5),)),
        "sampling": (Sampling(), (torch.randn(1, 4, 8, 8), torch.rand(1, 5, 5, 2) * 2 - 1)),
        "dynamic_batch": (DynamicBatch(), (torch.randn(3, 6),), ({0: torch.export.Dim("batch", min=2, max=64)},)),
        "quantized_conv": (quantized(QuantizedConv(), (image,)), (image,)),
        "kv_cache": (KvCache(), (torch.randn(1, 2, 4), torch.tensor([3, 4]))),
        "rearrange": (Rearrange(), (torch.randn(1, 4, 4, 4),)),
    }
    for name, (model, args, *dynamic) in cases.items():
        # export_program keeps only the user's frames of each node's stack trace.
        ep = export_program(model if isinstance(model, torch.fx.GraphModule) else model.eval(), args,
                            dynamic_shapes=dynamic[0] if dynamic else None)
        data = archive_bytes(ep)
        (OUT / f"{name}.pt2").write_bytes(data)
        print(f"{name}.pt2: {len(data)} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trim-corpus", type=pathlib.Path, metavar="DIR", help="trim a corpus directory instead")
    args = parser.parse_args()
    if args.trim_corpus:
        trim_corpus(args.trim_corpus)
    else:
        write_seeds()


if __name__ == "__main__":
    main()
