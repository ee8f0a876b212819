"""The package's surface: lazy public names, a fast import, and what an EM fit loads.

Run in fresh interpreters (subprocesses), since this test process has long imported
everything.
"""

import json
import subprocess
import sys

import bayesgmm


def _fresh(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    ).stdout


def test_every_public_name_resolves_to_what_its_module_defines():
    import importlib

    for name, module in bayesgmm._PUBLIC.items():
        assert getattr(bayesgmm, name) is getattr(importlib.import_module(module), name)
    assert set(bayesgmm.__all__) == {*bayesgmm._PUBLIC, "__version__"}


def test_import_loads_no_heavy_module():
    """``import bayesgmm`` loads none of numpy's heavier neighbours (< 0.3 s on any machine:
    what it imports is a few small modules of the package)."""
    loaded = json.loads(_fresh("import sys, bayesgmm, json; print(json.dumps(list(sys.modules)))"))
    heavy = {"numpy", "scipy", "xarray", "pandas", "numba", "pymc", "pytensor", "matplotlib"}
    assert not heavy & {name.split(".")[0] for name in loaded}


def test_an_em_fit_loads_neither_pymc_nor_matplotlib():
    code = (
        "import sys, numpy as np, bayesgmm\n"
        "X = np.random.default_rng(0).normal(size=(200, 2))\n"
        "gm = bayesgmm.GaussianMixture(2, random_state=0).fit(X)\n"
        "gm.predict(X); gm.bic(X); gm.result_.means\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pymc', 'pytensor', "
        "'matplotlib', 'arviz'}))\n"
    )
    assert _fresh(code).strip() == "[]"


def test_a_submodule_import_does_not_shadow_a_public_function():
    """``bayesgmm.compare`` stays the function after its module has been imported."""
    import bayesgmm.comparison  # noqa: F401

    assert callable(bayesgmm.compare) and bayesgmm.compare.__name__ == "compare"


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (at any level, in functions too)."""
    import ast
    from pathlib import Path

    root = Path(bayesgmm.__file__).resolve().parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = ["bayesgmm", *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    graph = {}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                targets |= {module} | {f"{module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
        graph[name] = {
            t for t in targets if t in modules and t != name and not name.startswith(t + ".")
        }
    return graph


def test_no_import_cycles():
    """Imports run downhill (function-level imports count): a cycle is a failure."""
    graph = _import_graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert not cycles, cycles


def test_the_engine_never_imports_results_or_bayes():
    """em/'s engine (all but its estimator) is arrays in, arrays out."""
    graph = _import_graph()
    engine = [m for m in graph if m.startswith("bayesgmm.em.") and m != "bayesgmm.em.estimator"]
    for module in engine:
        assert not {t for t in graph[module] if t.startswith(("bayesgmm.result", "bayesgmm.bayes"))}
