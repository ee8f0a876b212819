"""Large data: which of the sample's optima continue on all rows (starts.SAMPLE_ERRORS)."""

import numpy as np
import pytest
from scipy import stats

from bayesgmm import GaussianMixture
from bayesgmm.covariance import get_covariance_model
from bayesgmm.em import starts as starts_module
from bayesgmm.em.blocks import Workers
from bayesgmm.em.estimator import FitData
from bayesgmm.em.loop import Parameters, Run


def _problem(X, k, workers):
    estimator = GaussianMixture(k, covariance_type="VII", random_state=0)
    checked = estimator._check_parameters()
    shared = FitData.prepare(X, None, estimator, checked)
    return estimator._problem(shared, get_covariance_model("VII"), checked, workers)


def _run(problem, weights, means, sds, degenerate=()):
    """A run at these (unshifted) parameters, valued by SciPy's normal densities."""
    means, sds = np.asarray(means, float), np.asarray(sds, float)
    variances = sds**2
    params = Parameters(
        np.asarray(weights, float),
        (means - problem.shift)[:, None],
        variances,
        1.0 / sds,
        np.full(len(means), np.inf),
    )
    return Run(params, [0.0], True, 1, list(degenerate))


def _row_values(X, weights, means, sds):
    density = sum(
        w * stats.norm.pdf(X[:, 0], m, s) for w, m, s in zip(weights, means, sds, strict=True)
    )
    return np.log(density)


@pytest.fixture(scope="module")
def two_clusters():
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(-2, 1, 3000), rng.normal(2, 1, 1000)])[:, None]
    return X


def test_a_run_far_below_the_best_on_the_sample_stops_and_a_close_one_goes_on(two_clusters):
    """The best (the truth), one far below it (the clusters' weights swapped: about 0.4
    nats per row worse) and one within sampling error (means moved by 0.01). The
    paired difference's z (SciPy's densities, the same standard error) says which."""
    X = two_clusters
    truth = ([0.75, 0.25], [-2.0, 2.0], [1.0, 1.0])
    swapped = ([0.25, 0.75], [-2.0, 2.0], [1.0, 1.0])
    close = ([0.75, 0.25], [-1.99, 2.01], [1.0, 1.0])
    best_rows = _row_values(X, *truth)

    def z(params):
        difference = best_rows - _row_values(X, *params)
        return difference.mean() / (difference.std() / np.sqrt(len(X)))

    assert z(swapped) > 20 and abs(z(close)) < 2
    with Workers(1) as workers:
        problem = _problem(X, 2, workers)
        runs = [_run(problem, *params) for params in (truth, swapped, close)]
        kept = starts_module._worth_continuing(problem, runs, X, np.ones(len(X)))
    assert [run is runs[0] or run is runs[2] for run in kept] == [True, True]
    assert len(kept) == 2


def test_sample_weights_weigh_the_rows_differences():
    """A run worse than the best only on rows of weight 0 goes on: the difference is
    the weighted one, as the fit's value is (clusters 40 sds apart: moving the right
    one's mean changes no density on the left)."""
    rng = np.random.default_rng(4)
    X = np.concatenate([rng.normal(-20, 1, 3000), rng.normal(20, 1, 1000)])[:, None]
    truth = ([0.75, 0.25], [-20.0, 20.0], [1.0, 1.0])
    moved = ([0.75, 0.25], [-20.0, 20.6], [1.0, 1.0])
    weights = (X[:, 0] < 0).astype(float)  # the right-hand cluster's rows weigh nothing
    with Workers(1) as workers:
        problem = _problem(X, 2, workers)
        runs = [_run(problem, *truth), _run(problem, *moved)]
        assert len(starts_module._worth_continuing(problem, runs, X, np.ones(len(X)))) == 1
        assert len(starts_module._worth_continuing(problem, runs, X, weights)) == 2


def test_every_run_goes_on_when_the_best_is_degenerate(two_clusters):
    X = two_clusters
    with Workers(1) as workers:
        problem = _problem(X, 2, workers)
        best = _run(problem, [0.75, 0.25], [-2.0, 2.0], [1.0, 1.0], degenerate=["component 1"])
        far = _run(problem, [0.25, 0.75], [-2.0, 2.0], [1.0, 1.0])
        assert len(starts_module._worth_continuing(problem, [best, far], X, np.ones(len(X)))) == 2


def test_a_large_fit_continues_fewer_optima_and_ends_no_lower(monkeypatch):
    """Data above the sample's size (made small here): with the rule, the all-rows stage
    runs fewer starts than without it (SAMPLE_ERRORS infinite) and ends at the same
    best value, to tol. The pool's race on the sample is off here, so that several of
    its optima reach the rule (racing stops most of them earlier)."""
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0], [5.0, 5.0]])
    X = np.concatenate([rng.normal(c, [1.0, 0.5], size=(1500, 2)) for c in centres])
    monkeypatch.setattr(starts_module, "SCREEN_ROWS", 600)
    sizes = []
    real = starts_module.run_stack

    def recording(stack, *args, **kwargs):
        if not kwargs.get("screen"):
            sizes.append(len(stack))
            kwargs["race"] = False
        return real(stack, *args, **kwargs)

    monkeypatch.setattr(starts_module, "run_stack", recording)
    fits = {}
    for errors in (np.inf, starts_module.SAMPLE_ERRORS):
        monkeypatch.setattr(starts_module, "SAMPLE_ERRORS", errors)
        sizes.clear()
        fits[errors] = (GaussianMixture(4, covariance_type="VVI", random_state=0).fit(X), sizes[-1])
    (without, n_without), (with_rule, n_with) = fits[np.inf], fits[starts_module.SAMPLE_ERRORS]
    assert n_with < n_without
    assert with_rule.score(X) >= without.score(X) - 1e-6


def test_on_a_sample_starts_and_moves_that_cannot_reach_the_best_stop(monkeypatch):
    """Data above the sample's size (made small here), well separated: the pool finds the
    truth, and every split-and-merge move ends far below it. On the sample the pool's
    starts race with the sample's slack as margin, and the moves run against the best's
    value less that slack: the sample's stage runs under half the iterations it runs
    with neither (every start, and every kept move, to its end, as on data under the
    sample's size), and the fit ends at the same optimum, every parameter."""
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0], [6.0, 6.0], [3.0, 3.0]])
    X = np.concatenate([rng.normal(c, [1.0, 0.6], size=(1200, 2)) for c in centres])
    monkeypatch.setattr(starts_module, "SCREEN_ROWS", 1000)
    sample_iterations = []
    real_stack, real_moves = starts_module.run_stack, starts_module._split_and_merge

    def without_rules(stack, *args, **kwargs):
        kwargs["race"] = False
        runs = real_stack(stack, *args, **kwargs)
        sample_iterations.append(int(stack.done.sum()))
        return runs

    def with_rules(stack, *args, **kwargs):
        runs = real_stack(stack, *args, **kwargs)
        sample_iterations.append(int(stack.done.sum()))
        return runs

    fits = {}
    for rules in (False, True):
        monkeypatch.setattr(starts_module, "run_stack", with_rules if rules else without_rules)
        monkeypatch.setattr(
            starts_module,
            "_split_and_merge",
            real_moves if rules else (lambda *args: real_moves(*args[:8], None)),
        )
        sample_iterations.clear()
        fit = GaussianMixture(5, covariance_type="VVV", random_state=0).fit(X)
        fits[rules] = (fit, sum(sample_iterations[:-1]))  # the last: the all-rows stage
    (without, n_without), (with_rules_fit, n_with) = fits[False], fits[True]
    assert 0 < n_with < n_without / 2
    assert with_rules_fit.score(X) == pytest.approx(without.score(X), abs=1e-6)
    np.testing.assert_allclose(with_rules_fit.means_, without.means_, atol=1e-6)
    np.testing.assert_allclose(with_rules_fit.covariances_, without.covariances_, atol=1e-6)
    np.testing.assert_allclose(with_rules_fit.weights_, without.weights_, atol=1e-8)
