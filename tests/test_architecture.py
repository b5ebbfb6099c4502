"""The tree is the architecture: each layer imports only the layers below it, and no import goes round in a circle.

Layers, lowest first: ``text/`` (no model), ``hub/`` (the Hub), ``model/`` (NLLB and its adapters), ``training/``
(LoRA runs, for the command line and the page), ``service/`` (the engine and its limits), ``web/`` (the page). Only ``app.py`` imports ``web/``; the trainer, the benchmarks and
the test Hub are clients of the layers below it. Imports for type annotations count too: a circle there still ties
two files into one.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("nllb_space", "train", "bench", "docs")
LAYERS = ("text", "hub", "model", "training", "service", "web")
"""The package's layers, lowest first."""
TOP_LEVEL = {"settings", "errors", "results", "lora_config", "visitors"}
"""What every layer shares (configuration, errors, plain results, who is asking): the only modules outside a layer."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The project modules ``path`` imports, wherever the import stands (module level, function, TYPE_CHECKING)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {target for target in targets if target in modules}
    return found - {name}


def graph() -> dict[str, set[str]]:
    paths = [p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py")] + [ROOT / "app.py"]
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def test_no_two_modules_import_each_other_and_no_circle():
    edges = graph()
    circles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                circles.append(" -> ".join(path[path.index(target):] + [node, target]) if target in path
                               else f"{node} -> {target}")
            elif target not in state:
                visit(target, [*path, node])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    assert not circles, "import circles:\n" + "\n".join(circles)


def layer_of(module: str) -> int | None:
    """The rank of the layer ``module`` belongs to (``None``: not in a layer)."""
    parts = module.split(".")
    if parts[0] == "nllb_space" and len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return None


def test_each_layer_imports_only_the_layers_below_it():
    wrong = [f"{module} imports {target}" for module, targets in graph().items() for target in sorted(targets)
             if layer_of(module) is not None and layer_of(target) is not None and layer_of(target) > layer_of(module)]
    assert not wrong, "an import goes up a layer:\n" + "\n".join(wrong)


def test_the_shared_top_level_imports_no_model_service_or_web():
    shared = {f"nllb_space.{name}" for name in TOP_LEVEL}
    wrong = [f"{module} imports {target}" for module, targets in graph().items() if module in shared
             for target in sorted(targets) if (layer_of(target) or 0) >= LAYERS.index("model")]
    assert not wrong, "\n".join(wrong)


def test_only_app_py_imports_the_web_layer():
    web = LAYERS.index("web")
    wrong = [f"{module} imports {target}" for module, targets in graph().items()
             if module != "app" and layer_of(module) != web for target in sorted(targets) if layer_of(target) == web]
    assert not wrong, "only app.py may import nllb_space.web:\n" + "\n".join(wrong)


def test_every_module_of_the_package_is_in_a_layer_or_shared_by_all():
    package = ROOT / "nllb_space"
    top = {p.stem for p in package.glob("*.py")} - {"__init__"}
    folders = {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    assert top == TOP_LEVEL, f"put {sorted(top - TOP_LEVEL)} in one of {LAYERS}"
    assert folders == {*LAYERS, "testing"}
