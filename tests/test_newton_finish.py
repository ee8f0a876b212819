"""Newton's finish of slow one-dimensional EM runs (bayesgmm.em.newton_finish), against
finite differences, SciPy, EM's own M-step and numerical optimisation."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import logsumexp
from scipy.stats import norm

from bayesgmm import GaussianMixture
from bayesgmm.covariance import MODELS, get_covariance_model
from bayesgmm.datasets import load_sp500_returns
from bayesgmm.em.blocks import Workers
from bayesgmm.em.estimator import FitData
from bayesgmm.em.loop import Parameters, run_em
from bayesgmm.em.newton_finish import NewtonFinish, newton_finish_for
from bayesgmm.em.newton_kernels import mean_log_likelihood
from bayesgmm.em.starts import start_parameters

TOL = 1e-6


def _heavy_tailed(n=3000, seed=0):
    """Returns-like data: a t(3) sample, where mixtures' ridges are long and flat."""
    rng = np.random.default_rng(seed)
    return 0.01 * rng.standard_t(3, size=n)


def _problem(X, k, covariance_type, workers, sample_weight=None):
    estimator = GaussianMixture(k, covariance_type=covariance_type, random_state=0, tol=TOL)
    checked = estimator._check_parameters()
    shared = FitData.prepare(X, sample_weight, estimator, checked)
    model = get_covariance_model(covariance_type)
    return estimator._problem(shared, model, checked, workers)


def _mixture_log_likelihood(x, w, log_weights, means, log_variances):
    """The mean log-likelihood by SciPy (independent of the kernels)."""
    sd = np.sqrt(np.exp(log_variances))
    terms = log_weights[None, :] + norm.logpdf(x[:, None], means[None, :], sd[None, :])
    return float(np.sum(w * logsumexp(terms, axis=1)) / w.sum())


def test_the_compiled_value_is_scipys_mixture_log_likelihood():
    """A wrong constant, a variance taken for a standard deviation or a row weight left
    out would each move the value far beyond the rounding of a sum of 3000 terms."""
    x = _heavy_tailed()
    w = np.random.default_rng(1).uniform(0.2, 3.0, len(x))
    log_weights = np.log([0.5, 0.3, 0.2])
    means = np.array([0.0, 0.01, -0.02])
    log_variances = np.log([1e-4, 4e-4, 1e-3])
    value = mean_log_likelihood(x, w / w.sum(), log_weights, means, log_variances,
                                np.arange(3))  # fmt: skip
    expected = _mixture_log_likelihood(x, w, log_weights, means, log_variances)
    assert value == pytest.approx(expected, rel=len(x) * np.finfo(float).eps)


@pytest.mark.parametrize("equal", [False, True])
@pytest.mark.parametrize("ref", [0, 3])
def test_gradient_hessian_and_count_jacobian_are_the_derivatives(equal, ref):
    """Central differences of the value, the gradient and the counts (step h = 1e-5:
    truncation error ~h^2, rounding ~eps / h, both far below the 1e-6 allowed). A
    Hessian that forgets the responsibilities' cross terms, or a count Jacobian
    without the reference component's share, fails by orders of magnitude."""
    x = _heavy_tailed(2000, seed=2)
    w = np.random.default_rng(3).uniform(0.5, 2.0, len(x))
    finish = NewtonFinish(x, w, floor=1e-9, equal=equal, tol=TOL)
    K = 4
    log_weights = np.log([0.4, 0.3, 0.2, 0.1])
    means = np.array([0.0, 0.004, -0.006, 0.01])
    log_variances = np.log([2e-4] if equal else [1e-4, 3e-4, 6e-5, 1e-3])
    theta = finish._join(log_weights, means, log_variances, ref)
    point = finish._point(theta, K, ref)
    h = 1e-5
    gradient = np.empty(len(theta))
    hessian = np.empty((len(theta), len(theta)))
    count_jacobian = np.empty((K, len(theta)))
    for j in range(len(theta)):
        step = np.zeros(len(theta))
        step[j] = h
        up, down = finish._point(theta + step, K, ref), finish._point(theta - step, K, ref)
        gradient[j] = (up.value - down.value) / (2 * h)
        hessian[:, j] = (up.gradient - down.gradient) / (2 * h)
        count_jacobian[:, j] = (up.counts - down.counts) / (2 * h)

    def close(actual, expected):
        return np.max(np.abs(actual - expected)) <= 1e-6 * np.max(np.abs(expected))

    assert point.value == pytest.approx(
        _mixture_log_likelihood(x, w, log_weights, means, log_variances), rel=1e-12
    )
    assert close(point.gradient, gradient)
    assert close(point.hessian, hessian)
    assert close(point.count_jacobian, count_jacobian)
    assert point.counts.sum() == pytest.approx(1.0, abs=1e-12)


def _finished(covariance_type, k=3, sample_weight=None, X=None, iterations=30):
    """EM ``iterations`` from k-means, then the finish; with the start and engine."""
    X = _heavy_tailed()[:, None] if X is None else X
    with Workers() as workers:
        problem = _problem(X, k, covariance_type, workers, sample_weight)
        engine = problem.engine_for(problem.X, problem.weights)
        start = start_parameters(problem, "kmeans", problem.X, problem.weights)
        early = run_em(engine, problem.model, start, max_iter=iterations, tol=0.0)
        finisher = newton_finish_for(engine, problem.model, TOL)
        factorise = problem.model.kernels()["factorise"]
        finished = finisher.finish(early.params, factorise)
        after = None
        if finished is not None:
            after = run_em(engine, problem.model, finished, max_iter=1, tol=0.0)
    return early, finished, after


@pytest.mark.parametrize("covariance_type", sorted(MODELS))
def test_the_finish_is_a_fixed_point_of_each_models_m_step(covariance_type):
    """On one feature every model is E or V; the finish must land where that model's own
    M-step (variance floor included) gives the parameters back, or EM's stopping rule
    would not end the run there, and never below the value it started from."""
    early, finished, after = _finished(covariance_type)
    assert finished is not None
    assert after.history[0] >= early.history[-1] - 1e-12
    for name in ("weights", "means", "covariances"):
        np.testing.assert_allclose(
            getattr(after.params, name), getattr(finished, name), rtol=1e-8, atol=0,
            err_msg=f"{covariance_type}: {name}",
        )  # fmt: skip
    if get_covariance_model(covariance_type).mclust_name[0] == "E":  # one variance for all
        variances = np.asarray(finished.covariances).reshape(-1)
        assert np.all(variances == variances[0])


def test_row_weights_act_as_repeated_rows():
    """Integer sample weights must give the finish of the data with rows repeated so."""
    x = _heavy_tailed(1500, seed=4)[:, None]
    counts = np.random.default_rng(5).integers(1, 4, len(x))
    _, weighted, _ = _finished("VII", sample_weight=counts.astype(float), X=x)
    _, repeated, _ = _finished("VII", X=np.repeat(x, counts, axis=0))
    assert weighted is not None and repeated is not None
    order_w, order_r = np.argsort(weighted.means.ravel()), np.argsort(repeated.means.ravel())
    for name in ("weights", "means", "covariances"):
        a = np.asarray(getattr(weighted, name)).reshape(3, -1)[order_w]
        b = np.asarray(getattr(repeated, name)).reshape(3, -1)[order_r]
        np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=name)


def test_a_collapsing_component_is_left_to_em():
    """A component on one row (its variance near the floor) is the degeneracy rule's
    business: the finish declines."""
    x = _heavy_tailed(500, seed=6)
    finish = NewtonFinish(x, np.ones(len(x)), floor=1e-10, equal=False, tol=TOL)
    params = Parameters(
        np.array([0.998, 0.002]),
        np.array([[0.0], [x[0]]]),
        np.array([[1e-4], [5e-10]]),
        np.empty((2, 1)),
    )
    factorise = get_covariance_model("VII").kernels()["factorise"]
    assert finish.finish(params, factorise) is None


def test_slow_sp500_fit_converges_at_a_maximum_numerical_optimisation_confirms():
    """S&P 500 daily returns, VII K=7: EM alone stops at max_iter still climbing a ridge
    (1000 iterations, 1.1e-4 per row below the top). With the finish the default fit
    converges, its history never falls, and L-BFGS from the result gains less than tol
    per row on the likelihood (the floor's shift of the fixed point is smaller still)."""
    X = load_sp500_returns().to_numpy()
    fit = GaussianMixture(7, covariance_type="VII", random_state=0).fit(X)
    assert fit.converged_
    history = fit.result_.history.values
    assert np.diff(history).min() >= -1e-12 * abs(history[-1])
    center, scale = X[:, 0].mean(), X[:, 0].std()  # L-BFGS on standardised data
    x = (X[:, 0] - center) / scale
    w = np.ones(len(x))
    weights, means = fit.weights_, (fit.means_[:, 0] - center) / scale
    variances = np.asarray(fit.covariances_).reshape(-1) / scale**2

    def negative(theta):
        logits, mu, eta = theta[:7], theta[7:14], theta[14:]
        return -_mixture_log_likelihood(x, w, logits - logsumexp(logits), mu, eta)

    theta = np.concatenate([np.log(weights), means, np.log(variances)])
    best = minimize(negative, theta, method="L-BFGS-B", options={"maxiter": 2000})
    assert -best.fun - (-negative(theta)) < TOL
    assert fit.lower_bound_ == pytest.approx(-negative(theta) - np.log(scale), abs=1e-9)
