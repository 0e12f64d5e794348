"""The framework must be built from tensor operations only.

No file under ``framework/`` may import or use ``torch.nn`` (functional
included), ``torch.autograd``, ``torch.optim`` or ``torch.func``: the sources
are parsed, so docstrings may still name them. Importing the framework must
leave autograd as it was.
"""

import ast
from pathlib import Path

import torch

FRAMEWORK = Path(__file__).resolve().parents[1] / "framework"
FORBIDDEN = ("nn", "autograd", "optim", "func")


def _forbidden(dotted: str) -> bool:
    parts = dotted.split(".")
    return parts[0] == "torch" and len(parts) > 1 and parts[1] in FORBIDDEN


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for an attribute chain on a name, else ""."""
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(names)]) if isinstance(node, ast.Name) else ""


def _uses(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, name) of every forbidden import or attribute use in ``tree``."""
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Attribute):
            names = [_dotted(node)]
        found += [(node.lineno, name) for name in names if _forbidden(name)]
    return found


def test_the_check_catches_forbidden_imports():
    source = "import torch.nn.functional as F\nfrom torch import optim\ntorch.nn.ReLU"
    lines = {line for line, _ in _uses(ast.parse(source))}
    assert lines == {1, 2, 3}, f"the check missed a forbidden use: {lines}"


def test_framework_uses_no_torch_nn_autograd_optim_or_func():
    sources = sorted(FRAMEWORK.glob("*.py"))
    assert sources, f"no framework sources found under {FRAMEWORK}"
    offending = [
        f"{path.name}:{line}: {name}"
        for path in sources
        for line, name in _uses(ast.parse(path.read_text()))
    ]
    assert not offending, "forbidden torch modules in framework/: " + ", ".join(
        offending
    )


def test_importing_the_framework_leaves_autograd_on():
    import framework  # noqa: F401

    assert torch.is_grad_enabled(), "importing framework must not disable autograd"
