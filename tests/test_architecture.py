"""The package's import structure (issue 13): no import circle between tfinterp modules, and
no module importing a layer above its own (docs/architecture.md).

Every import counts, at module level or inside a function: a lazy import still couples the
two modules. The registries load their built-in members by module name (importlib), which is
how a family registers without a circle.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# the layer of each top-level package of tfinterp (cli is installed as tfinterp.cli)
KIT = {"errors", "utils", "registry", "params", "checks", "ops", "keras_objects"}
LAYER = {
    "data": 1,
    "models": 2,
    "training": 3, "attacks": 3, "defenses": 3, "explain": 3, "analysis": 3, "featureviz": 3,
    "sequence": 3,
    "metrics": 4, "export": 4,
    "viz": 5,
    "runs": 6,
    "cli": 7,
}
ALGORITHMS = {name for name, rank in LAYER.items() if rank <= 4}


def _module_name(path: Path) -> str:
    if path.parts[len(ROOT.parts)] == "cli":
        rel = ("tfinterp", "cli") + path.relative_to(ROOT / "cli").with_suffix("").parts
    else:
        rel = path.relative_to(ROOT).with_suffix("").parts
    if rel[-1] == "__init__":
        rel = rel[:-1]
    return ".".join(rel)


def _modules() -> dict[str, Path]:
    files = list((ROOT / "tfinterp").rglob("*.py")) + list((ROOT / "cli").rglob("*.py"))
    return {_module_name(p): p for p in files}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The tfinterp modules `name` imports (a `from pkg import mod` counts as the module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name and t.startswith("tfinterp"):
                found.add(t)
    return found


@pytest.fixture(scope="module")
def graph():
    mods = _modules()
    return {name: _imports(name, path, set(mods)) for name, path in mods.items()}


def _top(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_circle(graph):
    # Tarjan's strongly connected components over the module graph
    index, low, stack, on, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import circles: {cycles}"


def test_no_module_imports_a_layer_above_its_own(graph):
    bad = []
    for mod, deps in graph.items():
        src = _top(mod)
        if src in KIT or src == "":
            # the kit (and the package root) import nothing of the layers above them
            bad += [f"{mod} -> {d}" for d in deps if _top(d) not in KIT and _top(d) != ""]
            continue
        assert src in LAYER, f"{mod}: package '{src}' has no layer in docs/architecture.md"
        for d in deps:
            dst = _top(d)
            if dst in KIT or dst == "":
                continue
            if LAYER[dst] > LAYER[src]:
                bad.append(f"{mod} -> {d}")
    assert not bad, "imports of a higher layer:\n" + "\n".join(sorted(bad))


def test_algorithm_packages_import_neither_runs_viz_nor_cli(graph):
    bad = [f"{m} -> {d}" for m, deps in graph.items() if _top(m) in ALGORITHMS
           for d in deps if _top(d) in ("runs", "viz", "cli")]
    assert not bad, "\n".join(sorted(bad))


def test_the_walker_sees_the_known_edges(graph):
    """The walker itself: a known module-level import, a function-level one, and a `from pkg import mod`."""
    assert "tfinterp.errors" in graph["tfinterp.checks"]
    assert "tfinterp.data" in graph["tfinterp.runs.explain"] or "tfinterp.data.imageio" in graph["tfinterp.runs.explain"]
    assert "tfinterp.cli.app" in graph["tfinterp.cli.main"]
