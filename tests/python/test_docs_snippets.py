"""Every Python snippet in README.md and docs/*.md names pt2tflite functions that exist: each
`import pt2tflite...` / `from pt2tflite... import x` resolves, and each `pt2tflite.x` attribute is
there. (A README once imported export helpers from a module that did not export them.)"""

import ast
import glob
import importlib
import os
import re

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
DOCS = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))


def snippets():
    for path in DOCS:
        text = open(path, encoding="utf-8").read()
        for i, m in enumerate(re.finditer(r"```python\n(.*?)```", text, re.S)):
            yield pytest.param(m.group(1), id=f"{os.path.basename(path)}#{i}")


def pt2tflite_names(tree: ast.AST) -> list[tuple[str, str | None]]:
    """(module, attribute or None) for every pt2tflite import and `pt2tflite.x` / `module.x` use."""
    out, aliases = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "pt2tflite":
                    out.append((a.name, None))
                    aliases[a.asname or a.name] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "pt2tflite":
            out += [(node.module, a.name) for a in node.names]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            out.append((aliases[node.value.id], node.attr))
    return out


def test_the_docs_have_python_snippets():
    assert len(list(snippets())) >= 5


@pytest.mark.parametrize("code", snippets())
def test_snippet_names_exist(code):
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        pytest.fail(f"snippet does not parse: {e}")
    for module, attr in pt2tflite_names(tree):
        mod = importlib.import_module(module)
        if attr is not None:
            assert hasattr(mod, attr) or importlib.util.find_spec(f"{module}.{attr}"), f"{module}.{attr} does not exist"
