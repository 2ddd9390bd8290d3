"""The package's imports point down the layers of DESIGN.md, and no module imports itself back.

Every import statement counts, also one inside a function: an import deferred to dodge
a cycle is still a dependency.  The layers, lowest first (a module may import its own
layer and the ones below):
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "aekit"

LAYERS = [
    "aekit.utils",  # atomic file writes, argument checks, devices and seeding
    "aekit.data",  # loaders, datasets, preprocessing, corruption
    "aekit.nn",  # network blocks and likelihoods
    "aekit.models",  # torch modules and loss terms
    "aekit.train",  # the training loop, checkpoints, DDP
    "aekit.estimators",  # the scikit-learn face, parameters, registry, model files, fit callbacks
    "aekit.tracking",  # TensorBoard and MLflow loggers (fit callbacks)
    "aekit.uses",  # anomaly detection, navigation of the latent space
    "aekit.model_files",  # aekit.load: model files and saved clusterers
    "aekit.metrics",  # evaluation functions
    "aekit.viz",  # figures, the HTML report and its latent explorer
    "aekit",  # the public namespace (aekit/__init__.py)
    "aekit.runs",  # the run-folder format (and its ONNX export)
    "aekit.table_runs",  # the run folder of a table model (schema, embeddings)
    "aekit.run_config",  # aekit train --config and the run folder's config.toml
    "aekit.tour_latents",  # the report's sections on a VAE-family code (KL, traversals, disentanglement)
    "aekit.tour_samples",  # the report's samples of every generative model, with their offline quality
    "aekit.tour",  # aekit tour / aekit report
    "aekit.cluster_report",  # aekit cluster --report
    "aekit.table_tour",  # aekit tour on a table
    "aekit.cli",  # the command line
    "aekit.__main__",
]
__doc__ += "\n".join(f"    {i}. {layer}" for i, layer in enumerate(LAYERS)) + "\n"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _layer(module: str) -> int:
    """The index of the longest layer prefix of ``module``."""
    matches = [i for i, layer in enumerate(LAYERS) if module == layer or module.startswith(layer + ".")]
    if module == "aekit":
        return LAYERS.index("aekit")
    return max((i for i in matches if LAYERS[i] != "aekit"), default=LAYERS.index("aekit"))


def _imports(module: str) -> set[str]:
    """The aekit modules that ``module`` imports (``from package import submodule`` names the submodule)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "aekit"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] == "aekit":
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return found - {module}


GRAPH = {module: _imports(module) for module in MODULES}


def test_every_module_has_a_layer():
    assert all(m in MODULES for deps in GRAPH.values() for m in deps), "imports of modules that do not exist"
    unplaced = [m for m in MODULES if _layer(m) == LAYERS.index("aekit") and m != "aekit"]
    assert not unplaced, f"modules outside every layer: {unplaced}; add them to LAYERS"


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} ({LAYERS[_layer(module)]}) imports {dep} ({LAYERS[_layer(dep)]})"
        for module, deps in graph.items()
        for dep in deps
        if _layer(dep) > _layer(module)
    )


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for dep in sorted(graph.get(module, ())):
            if state.get(dep) == 1:
                cycle = path + [module, dep]
                return cycle[cycle.index(dep) :]
            if dep not in state and (cycle := visit(dep, path + [module])):
                return cycle
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module, [])):
            return cycle
    return None


def test_imports_point_down_the_layers():
    upward = upward_imports(GRAPH)
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_the_import_graph_has_no_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_checks_catch_an_upward_import_and_a_cycle():
    graph = {"aekit.models.vae": {"aekit.estimators.base"}, "aekit.estimators.base": {"aekit.models.vae"}}
    assert upward_imports(graph) == ["aekit.models.vae (aekit.models) imports aekit.estimators.base (aekit.estimators)"]
    assert find_cycle(graph) == ["aekit.estimators.base", "aekit.models.vae", "aekit.estimators.base"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


# The first parallel operation after the import starts torch's worker threads: they copy the
# denormal flags of that moment, so a 2-thread multiply of denormals shows any flushing.
IMPORT_CHECK = """
import torch
import aekit
x = torch.full((1 << 20,), 1e-40)
print(int((x * 1.0 == 0).sum()), torch.get_num_threads())
"""


def test_import_leaves_torchs_numerics_alone():
    """``import aekit`` flushes no denormals, on the calling thread or on torch's worker threads."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK], capture_output=True, text=True, check=True,
        env={**os.environ, "OMP_NUM_THREADS": "2"},
    )
    flushed, threads = map(int, result.stdout.split())
    assert flushed == 0, f"denormals flushed to zero after import: {flushed} of {1 << 20} ({threads} threads)"


FIT_CHECK = """
import torch, aekit
X, _ = aekit.datasets.load_digits()
aekit.AutoEncoder(epochs=1, random_state=0).fit(X[:200])
x = torch.full((1 << 20,), 1e-40)
print(int(torch.tensor([1e-40]).mul(1.0).item() == 0.0), int((x * 1.0 == 0).sum()), torch.get_num_threads())
"""


def test_fit_keeps_its_speed_and_gives_the_callers_denormal_setting_back():
    """The worker threads a first fit starts flush denormals (Adam's speed); the calling thread is restored."""
    result = subprocess.run(
        [sys.executable, "-c", FIT_CHECK], capture_output=True, text=True, check=True,
        env={**os.environ, "OMP_NUM_THREADS": "2"},
    )
    caller_flushes, flushed, threads = map(int, result.stdout.split())
    assert caller_flushes == 0
    if threads > 1 and torch_has_ftz():
        assert 0 < flushed < 1 << 20  # the workers' share of the multiply, not the caller's


def torch_has_ftz() -> bool:
    import torch

    was = torch.tensor([1e-40]).mul(1.0).item() == 0.0
    supported = torch.set_flush_denormal(True)
    torch.set_flush_denormal(was)
    return supported


def test_the_lazy_namespaces_resolve_every_public_name():
    """aekit and aekit.data import their names on first use; each one in __all__ is there, also for `import *`."""
    import aekit
    import aekit.data

    for module in (aekit, aekit.data):
        assert all(getattr(module, name) is not None for name in module.__all__)
        assert set(module.__all__) <= set(dir(module))
        star: dict = {}
        exec(f"from {module.__name__} import *", star)
        assert set(module.__all__) <= set(star)
    assert aekit.datasets is aekit.data and aekit.load is aekit.model_files.load
    with pytest.raises(AttributeError, match="no attribute 'NoSuchModel'"):
        aekit.NoSuchModel
