"""Variational fits: the optimiser against closed forms, the compiled log-density against
PyMC's, minibatches against all rows, the stopping rule and the errors.

The optimiser is tested first on Gaussian targets, where the optimum is known in closed
form: for a posterior N(mu, A^-1) full-rank ADVI's optimum is (mu, A) and mean-field's
is (mu, diag(A)). Those tests compile nothing; the model tests share one small model.
"""

import warnings

import numpy as np
import pytest

from bayesgmm import BayesianGaussianMixture
from bayesgmm.bayes import SamplerWarning, Standardisation, build_model, start_values
from bayesgmm.bayes.samplers.advi import (
    AUTO_BATCH_ROWS,
    _compile,
    _Gradient,
    _optimise,
    _unconstrained_start,
    _WindowConvergence,
    fit_variational,
    resolve_batch_size,
)
from bayesgmm.bayes.samplers.rows import RowSource


@pytest.mark.parametrize(
    ("batch_size", "n_samples", "expected"),
    [
        (None, 10, None),
        ("auto", 2 * AUTO_BATCH_ROWS, None),
        ("auto", 2 * AUTO_BATCH_ROWS + 1, AUTO_BATCH_ROWS),
        (100, 1000, 100),
        (1000, 1000, None),
        (np.int64(50), 1000, 50),
        (5, 5, None),  # every row: nothing to refuse
    ],
)
def test_resolve_batch_size(batch_size, n_samples, expected):
    assert resolve_batch_size(batch_size, n_samples) == expected


@pytest.mark.parametrize(
    ("batch_size", "error", "match"),
    [
        (0, ValueError, "got 0"),
        ("all", ValueError, "'all'"),
        (1.5, TypeError, "float"),
        (1, ValueError, r"batch_size=1 is too small.*batch_size >= 50"),
        (49, ValueError, "batch_size=49 is too small"),
    ],
)
def test_resolve_batch_size_rejects(batch_size, error, match):
    with pytest.raises(error, match=match):
        resolve_batch_size(batch_size, 100)


@pytest.mark.parametrize(("drift", "converged"), [(0.0, True), (0.01, True), (0.2, False)])
def test_window_convergence_fires_only_when_the_averages_stop_moving(drift, converged):
    """Iterates drifting by ``drift`` sd per step move ``window * drift`` sd per window."""
    check = _WindowConvergence(window=5, tol=0.1)
    for step in range(10):
        check.update(np.array([drift * step]), np.array([1.0]))
    assert check.windows == 2
    assert check.converged is converged
    np.testing.assert_allclose(check.change, 5 * drift, atol=1e-12)


class _GaussianRows:
    """A log-density that is a sum over rows r_i of -(x - r_i)^T A1 (x - r_i) / 2 (flat
    prior): the posterior is N(mean of rows, (N A1)^-1), exactly Gaussian."""

    def __init__(self, precision_per_row):
        self.a1 = precision_per_row

    def __call__(self, x, rows, scale, row_weights=None):
        diff = x[None, :] - rows
        logp = -0.5 * float(scale) * np.einsum("ni,ij,nj->", diff, self.a1, diff)
        grad = -float(scale) * (diff @ self.a1).sum(axis=0)
        return logp, grad


def _gaussian_problem(n_samples=2000, n_dim=4, seed=0):
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(n_dim, n_dim))
    a1 = factor @ factor.T / n_dim + 0.5 * np.eye(n_dim)  # correlated
    rows = rng.multivariate_normal(np.arange(n_dim), np.linalg.inv(a1), size=n_samples)
    return _GaussianRows(a1), rows


def _source(rows, rng, lazy=False, weights=None, pool_rows=None):
    """The rows as ADVI reads them: in memory, or a dask array in chunks of 300 rows
    whose minibatches come from a pool of ``pool_rows`` of them."""
    if not lazy:
        return RowSource(rows, weights, rng)
    import dask.array as da

    weights = None if weights is None else da.from_array(weights, chunks=300)
    return RowSource(da.from_array(rows, chunks=(300, -1)), weights, rng, pool_rows or len(rows))


@pytest.mark.parametrize(
    ("full_rank", "dense_max"), [(False, 600), (True, 600), (False, 0)]
)  # dense_max=0: a mean-field curvature kept diagonal, as for more than 600 parameters
@pytest.mark.parametrize("batch_size", [None, 200])
def test_optimum_on_a_gaussian_posterior_is_the_closed_form(
    full_rank, dense_max, batch_size, monkeypatch
):
    monkeypatch.setattr("bayesgmm.bayes.samplers.advi.DENSE_MAX", dense_max)
    function, rows = _gaussian_problem()
    n_samples = len(rows)
    posterior_mean = rows.mean(axis=0)
    posterior_precision = n_samples * function.a1
    rng = np.random.default_rng(1)
    gradient = _Gradient(function, _source(rows, rng), batch_size)
    start = posterior_mean + 3.0 / np.sqrt(np.diag(posterior_precision))  # 3 sd away
    check, info = _optimise(
        gradient, start, full_rank, max_iter=5000, tol=0.05, window=50, learning_rate=0.2, rng=rng
    )
    assert check.converged, info["history"]
    sd = 1.0 / np.sqrt(np.diag(posterior_precision))
    assert np.abs((check.mean - posterior_mean) / sd).max() < 0.1
    if full_rank:  # the whole precision, compared in its own metric
        root = np.linalg.cholesky(posterior_precision)
        whitened = np.linalg.solve(root, np.linalg.solve(root, check.precision).T)
        assert np.abs(np.linalg.eigvalsh(whitened) - 1.0).max() < 0.1
    else:
        np.testing.assert_allclose(check.precision, np.diag(posterior_precision), rtol=0.1)
    if batch_size is not None:
        assert info["passes"] < info["n_grad_evals"]  # each evaluation saw a tenth of the rows


@pytest.fixture(scope="module")
def small_model():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-3, 1, (600, 2)), rng.normal(3, 0.5, (400, 2))])
    model = build_model(X, 2, "full")
    standard = Standardisation.from_data(X, "full")
    start = start_values(
        np.array([0.6, 0.4]),
        np.array([[-3.0, -3.0], [3.0, 3.0]]),
        np.stack([np.eye(2), 0.25 * np.eye(2)]),
        "full",
        standard,
    )
    return X, model, start


def test_compiled_log_density_is_pymcs(small_model):
    """The joined, row-scaled function equals PyMC's own logp and gradient; with a
    subset of rows and scale N/B it is the minibatch estimate."""
    X, model, start = small_model
    point = _unconstrained_start(model, start)
    function, parameters = _compile(model, point)
    x = np.concatenate([point[var.name].ravel() for var in model.value_vars])
    data = np.ascontiguousarray(model["data"].get_value())  # in the data's units
    logp, grad = function(x, data, np.asarray(1.0), None)
    full = {**model.initial_point(), **point}
    fast = {"mode": "FAST_COMPILE"}  # PyMC's own functions, built without C compilation
    np.testing.assert_allclose(logp, model.compile_logp(**fast)(full), rtol=1e-10)
    expected = model.compile_dlogp(**fast)(full)
    np.testing.assert_allclose(grad, expected, rtol=1e-8, atol=1e-8)
    halves = [function(x, part, np.asarray(2.0), None)[1] for part in (data[::2], data[1::2])]
    np.testing.assert_allclose(sum(halves) / 2, expected, rtol=1e-8, atol=1e-8)
    values = parameters(x)  # name -> value, the model's reported variables
    assert list(values) == ["weights", "means", "covariances"]
    means, covariances = values["means"], values["covariances"]
    np.testing.assert_allclose(means, [[-3.0, -3.0], [3.0, 3.0]], atol=1e-10)
    np.testing.assert_allclose(covariances[1], 0.25 * np.eye(2), atol=1e-10)


@pytest.mark.parametrize("method", ["advi", "fullrank_advi"])
def test_minibatches_reach_the_optimum_of_all_rows(small_model, method):
    X, model, start = small_model
    fits = {}
    for batch_size in (None, 250):
        idata, info = fit_variational(
            model, method, start, n_draws=200, batch_size=batch_size, rng=np.random.default_rng(0)
        )
        assert info["converged"]
        assert idata.posterior["covariances"].shape == (1, 200, 2, 2, 2)
        fits[batch_size] = info
    precision = fits[None]["precision"]
    sd = (
        1 / np.sqrt(precision)
        if precision.ndim == 1
        else np.sqrt(np.diag(np.linalg.inv(precision)))
    )
    moved = np.abs(fits[250]["mean"] - fits[None]["mean"]) / sd
    assert moved.max() < 0.25
    other = fits[250]["precision"]
    other_sd = 1 / np.sqrt(other) if other.ndim == 1 else np.sqrt(np.diag(np.linalg.inv(other)))
    assert np.abs(np.log(other_sd / sd)).max() < 0.15


def test_too_few_steps_warn_and_report_not_converged(small_model):
    X, model, start = small_model
    with pytest.warns(SamplerWarning, match="did not converge in 30 steps"):
        _, info = fit_variational(
            model, "advi", start, n_draws=10, max_iter=30, rng=np.random.default_rng(0)
        )
    assert info["converged"] is False and info["n_iter"] == 30


@pytest.mark.parametrize(
    ("batch_size", "error", "match"),
    [
        (0, ValueError, r"'batch_size' parameter .* range \[1, inf\)"),
        (2.5, TypeError, r"'batch_size' parameter .* Got 2.5"),
        ("all", ValueError, r"'batch_size' parameter .* among \{'auto'\}"),
    ],
)
def test_estimator_rejects_bad_batch_size(batch_size, error, match):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(error, match=match):
        BayesianGaussianMixture(2, method="advi", batch_size=batch_size).fit(X)


def test_estimator_minibatch_fit_recovers_the_means():
    """End to end with batch_size: converged_, steps as n_iter_, means near the truth."""
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(-3, 1, (1500, 2)), rng.normal(3, 1, (1500, 2))])
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplerWarning)
        fit = BayesianGaussianMixture(
            2,
            covariance_type="diag",
            method="advi",
            batch_size=300,
            draws=100,
            chains=2,
            random_state=0,
        ).fit(X)
    assert fit.converged_ and fit.n_iter_ == fit.inference_info_["n_iter"]
    assert fit.inference_info_["batch_size"] == 300
    np.testing.assert_allclose(np.sort(fit.means_[:, 0]), [-3, 3], atol=0.1)


@pytest.mark.parametrize("seed", range(5))
def test_bounded_step_keeps_the_precision_within_its_trust_region(seed):
    """Whatever the (rank-two) update, the new precision lies between 0.8 and 1.25 times
    the old one in every direction, so it stays positive definite."""
    from bayesgmm.bayes.samplers.advi import _STEP_BOUNDS, _bounded_step

    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(6, 6))
    curvature = factor @ factor.T + 0.1 * np.eye(6)
    residual, whitened = 10 * rng.normal(size=6), 10 * rng.normal(size=6)
    new = _bounded_step(curvature, residual, whitened, beta=0.5)
    lower = np.linalg.cholesky(curvature)
    relative = np.linalg.solve(lower, np.linalg.solve(lower, new).T)
    values = np.linalg.eigvalsh(0.5 * (relative + relative.T))
    assert values.min() >= _STEP_BOUNDS[0] - 1e-9 and values.max() <= _STEP_BOUNDS[1] + 1e-9
    assert np.isclose(values.min(), _STEP_BOUNDS[0]) or np.isclose(values.max(), _STEP_BOUNDS[1])


def test_minibatch_noise_the_window_rule_cannot_see_fails_the_full_data_check(monkeypatch):
    """Non-regression test for issue 15 item 7: with one row per step, ADVI met its
    window criterion with sds twenty times too wide and means between the clusters,
    converged_=True. The floor (50 rows) now refuses it; below the floor (patched away
    here) the check on all rows sees the bias and reports converged_=False with the
    numbers, while a 50-row fit of the same data passes it."""
    import bayesgmm.bayes.samplers.advi as advi

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-2, 1, (1000, 2)), rng.normal(2, 1, (1000, 2))])
    options = {"covariance_type": "diag", "method": "advi", "random_state": 0}
    monkeypatch.setattr(advi, "MIN_BATCH_ROWS", 1)
    with pytest.warns(SamplerWarning, match="on all rows the approximation is off"):
        bad = BayesianGaussianMixture(2, batch_size=1, **options).fit(X)
    assert not bad.converged_ and not bad.inference_info_["full_data_check"]["passed"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplerWarning)
        good = BayesianGaussianMixture(2, batch_size=50, **options).fit(X)
    check = good.inference_info_["full_data_check"]
    assert good.converged_ and check["passed"] and check["newton_offset_sd"] < 0.5
    np.testing.assert_allclose(np.sort(good.means_[:, 0]), [-2, 2], atol=0.1)


def test_weighted_minibatch_gradient_is_unbiased():
    """With row weights, N/B times a random batch's weighted gradient (with the control
    variate around the anchor) averages to the full weighted gradient: the mean of 4000
    estimates lies within five of its standard errors of it."""

    class WeightedRows(_GaussianRows):
        def __call__(self, x, rows, scale, row_weights=None):
            diff = x[None, :] - rows
            w = np.ones(len(rows)) if row_weights is None else row_weights
            logp = -0.5 * float(scale) * np.einsum("n,ni,ij,nj->", w, diff, self.a1, diff)
            grad = -float(scale) * ((w[:, None] * diff) @ self.a1).sum(axis=0)
            return logp, grad

    function, rows = _gaussian_problem(n_samples=500, n_dim=3)
    weighted = WeightedRows(function.a1)
    rng = np.random.default_rng(2)
    weights = rng.uniform(0, 2, size=len(rows))
    gradient = _Gradient(weighted, _source(rows, rng, weights=weights), 50)
    anchor = rows.mean(axis=0)
    gradient.set_anchor(anchor)
    point = anchor + 0.3
    estimates = np.array([gradient.pair(point, np.zeros(3))[0] for _ in range(4000)])
    full = weighted(point, rows, 1.0, weights)[1]
    error = estimates.mean(axis=0) - full
    assert np.all(np.abs(error) < 5 * estimates.std(axis=0) / np.sqrt(len(estimates)) + 1e-9)
    assert not np.allclose(full, weighted(point, rows, 1.0)[1])  # the weights matter


def test_compiled_log_density_weights_rows_as_the_model_does():
    """The PyMC-graph route of ADVI with sample_weight: the function's row weights
    replace the model's, so all rows with their weights give the model's logp."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-3, 1, (60, 2)), rng.normal(3, 0.5, (40, 2))])
    weights = rng.uniform(0.2, 2.0, size=len(X))
    model = build_model(X, 2, "diag", sample_weight=weights)
    standard = Standardisation.from_data(X, "diag", weights)
    start = start_values(
        np.array([0.6, 0.4]),
        np.array([[-3.0, -3.0], [3.0, 3.0]]),
        np.array([[1.0, 1.0], [0.25, 0.25]]),
        "diag",
        standard,
    )
    point = _unconstrained_start(model, start)
    function, _ = _compile(model, point)
    x = np.concatenate([point[var.name].ravel() for var in model.value_vars])
    logp, _ = function(x, X, np.asarray(1.0), weights)
    full = {**model.initial_point(), **point}
    np.testing.assert_allclose(logp, model.compile_logp(mode="FAST_COMPILE")(full), rtol=1e-10)
    unweighted, _ = function(x, X, np.asarray(1.0), None)
    assert not np.isclose(logp, unweighted)


@pytest.mark.parametrize("full_rank", [False, True])
def test_dask_rows_reach_the_closed_form_from_a_pool_of_a_fifth_of_them(full_rank):
    """Rows in a dask array: the sums over all rows are dask reductions and the
    minibatches come from a sample of 400 of the 2000 rows. The pool's own sampling
    error moves the optimum by about ``|step| / sqrt(pool)`` posterior sds from the
    anchor (module docstring of rows.py); within 0.1 sd of the closed form here."""
    function, rows = _gaussian_problem()
    posterior_mean = rows.mean(axis=0)
    posterior_precision = len(rows) * function.a1
    rng = np.random.default_rng(1)
    source = _source(rows, rng, lazy=True, pool_rows=400)
    assert source.pool_size == 400 and source.n_samples == 2000
    gradient = _Gradient(function, source, 100)
    sd = 1.0 / np.sqrt(np.diag(posterior_precision))
    start = posterior_mean + 3.0 * sd
    check, info = _optimise(
        gradient, start, full_rank, max_iter=5000, tol=0.05, window=50, learning_rate=0.2, rng=rng
    )
    assert check.converged, info["history"]
    assert np.abs((check.mean - posterior_mean) / sd).max() < 0.1
    full = function(check.mean, rows, 1.0)
    lazy_value, lazy_grad = gradient.full(check.mean)
    np.testing.assert_allclose(lazy_value, full[0], rtol=1e-10)
    np.testing.assert_allclose(lazy_grad, full[1], rtol=1e-8, atol=1e-6)


def test_a_pool_of_dask_rows_is_a_uniform_sample_without_repeats():
    """sample_rows: each row of a dask array appears at most once, every chunk gives
    rows in proportion to its size (hypergeometric counts), and the weights follow."""
    import dask.array as da

    from bayesgmm.bayes.samplers.rows import sample_rows

    n = 10_000
    X = da.from_array(np.arange(2.0 * n).reshape(n, 2), chunks=((1000, 3000, 6000), 2))
    weights = da.from_array(np.arange(float(n)), chunks=2500)
    rows, picked = sample_rows(X, weights, 2000, np.random.default_rng(0))
    index = rows[:, 0] / 2
    assert len(np.unique(index)) == 2000 and np.all(np.diff(index) > 0)
    np.testing.assert_array_equal(picked, index)
    counts = np.histogram(index, bins=[0, 1000, 4000, 10_000])[0]
    expected = np.array([200, 600, 1200])
    # hypergeometric sds are below sqrt(expected); five of them
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))


def test_minibatch_advi_on_a_dask_array_is_the_in_memory_fit():
    """The estimator on a dask array (EM start through the engine's dask path,
    minibatches from a pool of its rows, the full-data check and the lower bound as dask
    reductions) gives the in-memory fit's posterior: means within 0.25 posterior sds and
    sds of the means and covariances within 20 % (the two runs differ by their
    minibatches' noise only; the window criterion stops each within 0.05 sd of its
    optimum), the same lower bound to 1e-3
    nats per row, and a lazy log-likelihood that is the draws' own."""
    da = pytest.importorskip("dask.array")
    from bayesgmm.datasets import make_mixture

    X = make_mixture(3000, 3, 2, random_state=1).X
    fits = {}
    for name, data in [("memory", X), ("dask", da.from_array(X, chunks=(500, -1)))]:
        fits[name] = BayesianGaussianMixture(
            3, method="advi", batch_size=500, draws=250, random_state=0
        ).fit(data)
    memory, lazy = fits["memory"], fits["dask"]
    assert memory.converged_ and lazy.converged_
    assert "full_data_check" in lazy.inference_info_
    dims = ("chain", "draw")
    # the EM starts (dask path, in memory) may number the components differently
    distance = ((lazy.means_[:, None] - memory.means_[None]) ** 2).sum(-1)
    order = distance.argmin(axis=0)
    assert sorted(order) == [0, 1, 2]
    for name in ("weights", "means", "covariances"):
        reference = memory.result_.draws()[name]
        values = lazy.result_.draws()[name].isel(component=order)
        sd = reference.std(dims).values
        offset = np.abs(values.mean(dims).values - reference.mean(dims).values) / sd
        assert offset.max() < 0.25, name
        if name != "weights":  # a mean-field fit of the simplex's coordinates depends on
            # the components' order, which the two EM starts may give differently
            np.testing.assert_allclose(values.std(dims).values, sd, rtol=0.2)
    assert abs(lazy.lower_bound_ - memory.lower_bound_) < 1e-3
    log_lik = lazy.result_.posterior.log_likelihood["x"]
    assert isinstance(log_lik.data, da.Array)
    np.testing.assert_allclose(
        log_lik.values, lazy.result_.log_likelihood_draws(X).values, rtol=1e-12
    )
    assert "posterior_predictive" not in lazy.result_.posterior.groups()
