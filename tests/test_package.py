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
