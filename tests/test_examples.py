"""Every example runs in its fast mode and writes its plots."""

import json
import os
import runpy
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

SCRIPTS = {
    "seed_walkthrough.py": ["seed_walkthrough.png"],
    "model_selection_iris_diabetes.py": ["model_selection.png"],
    "anomaly_detection.py": ["anomaly_detection.png"],
    "em_vs_bayes_faithful.py": [
        "em_vs_bayes.png",
        "uncertainty_em_vs_bayes.png",
        "posterior_ellipses.png",
    ],
    "sp500_regimes_var.py": ["sp500_regimes_var.png"],
    "eustock_portfolio.py": ["eustock_portfolio.png"],
}
BAYESIAN = {"em_vs_bayes_faithful.py", "sp500_regimes_var.py"}


@pytest.fixture
def fast_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("BAYESGMM_FAST", "1")
    monkeypatch.setenv("BAYESGMM_EXAMPLES_OUT", str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLES))
    yield tmp_path
    plt.close("all")


@pytest.mark.parametrize(
    "script",
    [pytest.param(name, marks=pytest.mark.slow) if name in BAYESIAN else name for name in SCRIPTS],
)
def test_example_runs_and_writes_its_plots(script, fast_mode, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [script])
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    for name in SCRIPTS[script]:
        assert (fast_mode / name).stat().st_size > 10_000, name
    assert "written to" in capsys.readouterr().out


def test_every_example_is_tested():
    scripts = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(SCRIPTS)


@pytest.mark.slow
def test_arviz_notebook_runs(fast_mode):
    notebook = json.loads((EXAMPLES / "arviz_diagnostics.ipynb").read_text())
    namespace: dict = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "arviz_diagnostics.ipynb", "exec"), namespace)
    for name in (
        "arviz_trace.png",
        "arviz_posterior_weights.png",
        "arviz_forest_means.png",
        "arviz_ppc.png",
        "arviz_loo_pit.png",
    ):
        assert (fast_mode / name).stat().st_size > 10_000, name
    assert namespace["loo"]["elpd_loo"] < 0
    assert os.environ["BAYESGMM_FAST"] == "1"
