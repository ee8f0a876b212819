"""Plots: what is drawn (ellipse geometry, counts, labels, legends), on the Agg backend."""

import subprocess
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest
from bayes_fakes import fake_posterior_result

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402

from bayesgmm import GaussianMixture, MixtureResult, plot  # noqa: E402
from bayesgmm.comparison import compare  # noqa: E402
from bayesgmm.datasets import make_mixture  # noqa: E402
from bayesgmm.selection import select  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Estimated shape parameter:UserWarning")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    truth = make_mixture(150, 3, 3, separation=7.0, random_state=2)
    X = pd.DataFrame(truth.X, columns=["a", "b", "c"])
    return X, GaussianMixture(3, random_state=0).fit(X)


@pytest.fixture(scope="module")
def bayes(data):
    X, em = data
    return fake_posterior_result(
        em.weights_, em.means_, em.covariances_, X, feature_names=["a", "b", "c"], draws=15
    )


def _ellipses(ax):
    return [p for p in ax.patches if isinstance(p, Ellipse)]


def test_clusters_draws_one_and_two_sigma_ellipses_with_the_right_geometry(data):
    X, em = data
    ax = plot.plot_clusters(em, X, features=("b", "c"))
    ellipses = _ellipses(ax)
    assert len(ellipses) == 3 * 2
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("b", "c")
    cov = em.covariances_[0][np.ix_([1, 2], [1, 2])]
    eigenvalues = np.linalg.eigvalsh(cov)
    for ellipse, scale in zip(ellipses[:2], (1.0, 2.0), strict=True):
        np.testing.assert_allclose(ellipse.center, em.means_[0, [1, 2]])
        axes = sorted([ellipse.width, ellipse.height])
        np.testing.assert_allclose(axes, 2 * scale * np.sqrt(eigenvalues), rtol=1e-10)
    texts = [t.get_text() for legend in ax.findobj(matplotlib.legend.Legend) for t in legend.texts]
    assert "1σ ellipse" in texts and "2σ ellipse" in texts
    assert any(text.startswith("component 0 (weight") for text in texts)
    # every point is drawn once, coloured by its label
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(X)


def test_clusters_of_a_one_feature_fit_is_a_histogram():
    x = np.concatenate([np.random.default_rng(0).normal(-3, 1, 100), np.full(1, 0.0)])
    x = np.concatenate([x, np.random.default_rng(1).normal(3, 1, 100)])[:, None]
    fit = GaussianMixture(2, random_state=0).fit(x)
    ax = plot.plot_clusters(fit, x)
    assert ax.get_ylabel() == "count" and len(ax.lines) == 2


def test_uncertainty_sizes_follow_one_minus_max_responsibility(data):
    X, em = data
    ax = plot.plot_uncertainty(em, X)
    uncertainty = 1 - em.predict_proba(X).max(axis=1)
    sizes = np.concatenate([c.get_sizes() for c in ax.collections])
    labels = em.predict(X)
    expected = np.concatenate(
        [6 + 120 * uncertainty[labels == k] / uncertainty.max() for k in range(3)]
    )
    np.testing.assert_allclose(sizes, expected)
    assert "1 - max responsibility" in ax.get_title()


def test_uncertainty_of_a_bayesian_fit_uses_the_interval_width(data, bayes):
    X, _ = data
    ax = plot.plot_uncertainty(bayes, X, ci_prob=0.9)
    assert ax.get_title() == "Assignment uncertainty: 90% interval width of the responsibility"
    assert "90% interval width" in ax.get_legend().texts[-1].get_text()
    summary = bayes.responsibilities(X, ci_prob=0.9)
    labels = summary["mean"].values.argmax(axis=1)
    rows = np.arange(len(labels))
    width = summary["upper"].values[rows, labels] - summary["lower"].values[rows, labels]
    sizes = np.concatenate([c.get_sizes() for c in ax.collections])
    expected = np.concatenate([6 + 120 * width[labels == k] / width.max() for k in range(3)])
    np.testing.assert_allclose(sizes, expected)


def test_density_contours_and_colourbar(data, bayes):
    X, em = data
    ax = plot.plot_density(em, X, features=["a", "c"])
    assert ax.get_xlabel() == "a" and ax.get_ylabel() == "c"
    assert ax.figure.axes[-1].get_ylabel() == "fitted density"
    ax = plot.plot_density(bayes, X, n_draws=10)
    assert ax.figure.axes[-1].get_ylabel() == "posterior predictive density"


def test_density_1d_integrates_to_one():
    fit = MixtureResult(
        weights=np.array([0.3, 0.7]),
        means=np.array([[-2.0], [1.0]]),
        covariances=np.array([0.5, 2.0]),
        covariance_type="spherical",
    )
    ax = plot.plot_density(fit)
    line = ax.lines[0]
    grid, values = line.get_xdata(), line.get_ydata()
    assert np.trapezoid(values, grid) == pytest.approx(1.0, abs=0.01)


def test_bayesian_density_is_the_mean_of_the_draws_densities():
    """The curve of a 1-D Bayesian fit averages every draw's mixture density (SciPy)."""
    from scipy import stats

    x = np.random.default_rng(4).normal(size=(50, 1))
    bayes = fake_posterior_result([0.4, 0.6], [[-1.0], [2.0]], [[[0.5]], [[2.0]]], x, draws=10)
    line = plot.plot_density(bayes, n_draws=100).lines[0]  # 2 x 10 draws: all of them
    grid = line.get_xdata()
    posterior = bayes.posterior.posterior
    weights = posterior["weights"].values.reshape(-1, 2)
    means = posterior["means"].values.reshape(-1, 2)
    sds = np.sqrt(posterior["covariances"].values.reshape(-1, 2))
    densities = [
        np.sum(w * stats.norm.pdf(grid[:, None], m, s), axis=1)
        for w, m, s in zip(weights, means, sds, strict=True)
    ]
    np.testing.assert_allclose(line.get_ydata(), np.mean(densities, axis=0), rtol=1e-10)


def test_criterion_plot_marks_best_and_degenerate():
    X = make_mixture(120, 2, 2, random_state=0).X
    selection = select(X, n_components=[1, 2, 3], covariance_types=("full", "spherical"))
    selection.table.loc[5, "degenerate"] = True  # pretend spherical K=3 collapsed
    ax = selection.plot()
    texts = [t.get_text() for t in ax.get_legend().texts]
    assert "full" in texts and "spherical" in texts
    best = selection.best_params_
    assert f"best: {best['covariance_type']}, K={best['n_components']}" in texts
    assert "degenerate (not chosen)" in texts
    assert ax.get_xlabel() == "number of components"
    assert "lower is better" in ax.get_ylabel()
    ax = plot.plot_criterion(selection, "icl")
    assert ax.get_title() == "Model selection by ICL"
    with pytest.raises(ValueError, match="criterion"):
        plot.plot_criterion(selection, "loo")


def test_posterior_ellipses_one_per_draw_and_component(data, bayes):
    X, _ = data
    ax = plot.plot_posterior_ellipses(bayes, X, n_draws=7)
    assert len(_ellipses(ax)) == 7 * 3
    # with every draw shown, the centres are the posterior means on the two features
    ax = plot.plot_posterior_ellipses(bayes, features=("c", "a"), n_draws=1000)
    centres = np.array([e.center for e in _ellipses(ax)])
    means = bayes.posterior.posterior["means"].sel(feature=["c", "a"]).values.reshape(-1, 2)
    np.testing.assert_array_equal(centres, means)
    with pytest.raises(ValueError, match="posterior draws"):
        plot.plot_posterior_ellipses(data[1], X)


def test_risk_plot_labels_var_and_band():
    rng = np.random.default_rng(0)
    returns = np.concatenate([rng.normal(0, 1, 300), rng.normal(0, 3, 60)])[:, None]
    fit = GaussianMixture(2, random_state=0).fit(returns)
    ax = plot.plot_risk(fit, returns)
    texts = [t.get_text() for t in ax.get_legend().texts]
    assert any(t.startswith("VaR 99%") for t in texts)
    bayes = fake_posterior_result(
        fit.weights_, fit.means_, fit.covariances_, returns[:40], draws=20
    )
    ax = plot.plot_risk(bayes, returns, ci_prob=0.9)
    texts = [t.get_text() for t in ax.get_legend().texts]
    assert "90% credible band of the density" in texts
    assert any("90% credible interval" in t for t in texts)


def test_comparison_figure_has_three_panels(data, bayes):
    X, em = data
    figure = compare(em, bayes, X).plot(X)
    assert len(figure.axes) == 3
    assert figure.axes[0].get_title() == "EM: maximum likelihood"


def test_bad_arguments(data):
    X, em = data
    with pytest.raises(ValueError, match="does not exist"):
        plot.plot_clusters(em, X, features=("a", "z"))
    with pytest.raises(ValueError, match="2 feature"):
        plot.plot_clusters(em, X, features=("a",))
    with pytest.raises(TypeError, match="Fit the estimator"):
        plot.plot_clusters(GaussianMixture(2), X)
    one = MixtureResult(
        weights=np.ones(1),
        means=np.zeros((1, 1)),
        covariances=np.ones(1),
        covariance_type="spherical",
    )
    with pytest.raises(ValueError, match="needs 2 features"):
        plot.plot_posterior_ellipses(one)


def test_missing_matplotlib_names_the_extra(data, monkeypatch):
    """The first drawing call (not the import) needs matplotlib, and says how to get it."""
    X, em = data
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"bayesgmm\[plot\]"):
        plot.plot_clusters(em, X)


def test_importing_the_plots_does_not_import_matplotlib():
    code = "import sys, bayesgmm.plot; print('matplotlib' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"
