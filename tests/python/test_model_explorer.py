"""A converted model opens in Model Explorer (ai-edge-model-explorer's own TFLite adapter) with
its nodes grouped by PyTorch module: each op's namespace is the nn.Module path that made it."""

import json

import pytest
import torch
import torchvision

import pt2tflite

adapter = pytest.importorskip("ai_edge_model_explorer_adapter")


def explorer_graph(path) -> list[dict]:
    """The nodes Model Explorer shows for a .tflite, from its built-in flatbuffer adapter."""
    graphs = json.loads(adapter.ConvertFlatbufferDirectlyToJson(adapter.VisualizeConfig(), str(path)))
    return graphs[0]["subgraphs"][0]["nodes"]


def test_zoo_model_opens_with_module_names_on_its_nodes(tmp_path):
    model = torchvision.models.mobilenet_v3_small(num_classes=10).eval()
    path = tmp_path / "mobilenet_v3_small.tflite"
    pt2tflite.convert(model, (torch.randn(1, 3, 64, 64),)).export(str(path))
    nodes = explorer_graph(path)
    ops = [n for n in nodes if n["label"] not in ("GraphInputs", "GraphOutputs", "pseudo_const")]
    assert len(ops) > 50
    modules = {name.replace(".", "/") for name, _ in model.named_modules() if name}
    scopes = [n["namespace"].rsplit("/", 1)[0] for n in ops]
    unscoped = [n["label"] for n, s in zip(ops, scopes) if s not in modules]
    assert not unscoped, f"ops outside any nn.Module scope: {unscoped}"
    # The folding Model Explorer offers is the module tree: every block is a group of its own.
    assert {s.split("/")[0] + "/" + s.split("/")[1] for s in scopes if s.startswith("features/")} >= {
        f"features/{i}" for i in range(len(model.features))
    }
    # Weights sit inside the module that reads them, not in one flat list at the top.
    consts = [n for n in nodes if n["label"] == "pseudo_const"]
    assert consts and all("/" in n["namespace"] for n in consts)
