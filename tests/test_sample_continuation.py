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


def _four_clusters():
    """6,000 rows in four clusters (sds 1 and 0.5), 5 apart."""
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0], [5.0, 5.0]])
    return np.concatenate([rng.normal(c, [1.0, 0.5], size=(1500, 2)) for c in centres])


def _all_rows_stack_sizes(monkeypatch, race=None):
    """Data above 600 rows run on a 600-row sample; the list fills with the size of each
    stack run without a screen (the sample's pool, then the all-rows stage), racing or
    not as ``race`` says (None: as the fit chooses)."""
    monkeypatch.setattr(starts_module, "SCREEN_ROWS", 600)
    sizes = []
    real = starts_module.run_stack

    def recording(stack, *args, **kwargs):
        if not kwargs.get("screen"):
            sizes.append(len(stack))
            if race is not None:
                kwargs["race"] = race
        return real(stack, *args, **kwargs)

    monkeypatch.setattr(starts_module, "run_stack", recording)
    return sizes


def test_a_large_fit_continues_fewer_optima_and_ends_no_lower(monkeypatch):
    """Data above the sample's size (made small here): with the rule, the all-rows stage
    runs fewer starts than without it (SAMPLE_ERRORS infinite) and ends at the same
    best value, to tol. The pool's race on the sample is off here, so that several of
    its optima reach the rule (racing stops most of them earlier)."""
    X = _four_clusters()
    sizes = _all_rows_stack_sizes(monkeypatch, race=False)
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


def _mirrored_three_clusters():
    """Three clusters at -3, 0 and 3, exactly symmetric about 0 (X and -X)."""
    rng = np.random.default_rng(5)
    half = np.concatenate([rng.normal(-3, 0.5, 800), rng.normal(0, 0.5, 400)])
    return np.concatenate([half, -half])[:, None]


def test_runs_at_one_optimum_are_one_and_distinct_optima_of_equal_value_are_two():
    """Three clusters symmetric about 0, K=2: {left, middle} + {right} and its mirror image
    are distinct optima of equal value (to rounding), which differ per row by up to the
    log-density of a whole cluster; the first with its components relabelled is the same
    optimum (every row's value the same)."""
    X = _mirrored_three_clusters()
    pair_sd = float(np.sqrt(0.25 + 2.25))  # {-3, 0} with sd 0.5 each: 1.5 apart from the mean
    left = ([2 / 3, 1 / 3], [-1.5, 3.0], [pair_sd, 0.5])
    mirror = ([2 / 3, 1 / 3], [1.5, -3.0], [pair_sd, 0.5])
    relabelled = ([1 / 3, 2 / 3], [3.0, -1.5], [0.5, pair_sd])
    assert _row_values(X, *left).mean() == pytest.approx(_row_values(X, *mirror).mean(), abs=1e-12)
    with Workers(1) as workers:
        problem = _problem(X, 2, workers)
        runs = [_run(problem, *params) for params in (left, relabelled, mirror)]
        for run, params in zip(runs, (left, relabelled, mirror), strict=True):
            run.history[-1] = _row_values(X, *params).mean()
        distinct = starts_module._distinct_optima(problem, runs, X, np.ones(len(X)), 3)
        assert [run is runs[0] or run is runs[2] for run in distinct] == [True, True]
        assert starts_module._distinct_optima(problem, runs, X, np.ones(len(X)), 1) == runs[:1]


@pytest.mark.parametrize(("shift", "same"), [(1e-4, True), (1e-2, False)])
def test_a_run_stopped_near_an_optimum_is_that_optimum(two_clusters, shift, same):
    """A run whose means are ``shift`` from the optimum's (EM run to tol=1e-12; sds near
    1): 1e-4 puts it about 5e-9 per row below it (within tol = 1e-6; per-row differences
    of sd about 1e-4), one optimum with it; 1e-2 puts it about 5e-5 below (50 tol), a
    different point, kept."""
    X = two_clusters
    fit = GaussianMixture(2, covariance_type="VII", tol=1e-12, random_state=0).fit(X)
    optimum = (fit.weights_, fit.means_[:, 0], np.sqrt(fit.covariances_))
    moved = (fit.weights_, fit.means_[:, 0] + shift, np.sqrt(fit.covariances_))
    gap = _row_values(X, *optimum).mean() - _row_values(X, *moved).mean()
    assert 0 < gap and bool(gap <= 1e-6) is same
    with Workers(1) as workers:
        problem = _problem(X, 2, workers)
        assert problem.tol == 1e-6
        runs = [_run(problem, *params) for params in (optimum, moved)]
        for run, params in zip(runs, (optimum, moved), strict=True):
            run.history[-1] = _row_values(X, *params).mean()
        distinct = starts_module._distinct_optima(problem, runs, X, np.ones(len(X)), 3)
    assert len(distinct) == (1 if same else 2)


def test_optima_differing_only_on_rows_of_weight_zero_are_one():
    """Clusters 40 sds apart; the right one's mean moved by 0.6, a different point; with
    the right cluster's rows at weight 0, the two runs agree on every row that counts."""
    rng = np.random.default_rng(4)
    X = np.concatenate([rng.normal(-20, 1, 3000), rng.normal(20, 1, 1000)])[:, None]
    truth = ([0.75, 0.25], [-20.0, 20.0], [1.0, 1.0])
    moved = ([0.75, 0.25], [-20.0, 20.6], [1.0, 1.0])
    weights = np.r_[np.ones(3000), np.zeros(1000)]
    with Workers(1) as workers:
        problem = _problem(X, 2, workers)
        runs = [_run(problem, *params) for params in (truth, moved)]
        for run in runs:
            run.history[-1] = -1.0  # equal values: the rows decide
        assert len(starts_module._distinct_optima(problem, runs, X, np.ones(len(X)), 3)) == 2
        assert len(starts_module._distinct_optima(problem, runs, X, weights, 3)) == 1


def test_a_large_fit_continues_one_optimum_once(monkeypatch):
    """Data above the sample's size (made small here) where several of the sample's
    starts reach one optimum: only one of them continues on all rows (before, each
    copy did, unless their values agreed to 1e-9), and the fit ends where continuing
    every copy ends: value to tol, means within what a gap of tol allows (a mean of a
    component of weight w and sd s moves by about s sqrt(2 tol / w) per tol of value)."""
    X = _four_clusters()
    sizes = _all_rows_stack_sizes(monkeypatch)
    fits = {}
    for variance in (0.0, starts_module.SAME_OPTIMUM_VARIANCE):
        monkeypatch.setattr(starts_module, "SAME_OPTIMUM_VARIANCE", variance)
        sizes.clear()
        fit = GaussianMixture(4, covariance_type="VVV", random_state=0).fit(X)
        fits[variance] = (fit, sizes[-1])
    (copies, n_copies), (once, n_once) = fits[0.0], fits[starts_module.SAME_OPTIMUM_VARIANCE]
    assert n_once == 1 < n_copies
    tol = once.tol
    assert once.score(X) == pytest.approx(copies.score(X), abs=tol)
    order = [int(np.argmin(np.linalg.norm(copies.means_ - m, axis=1))) for m in once.means_]
    allowed = 2 * 1.0 * np.sqrt(2 * tol / once.weights_.min())
    np.testing.assert_allclose(once.means_, copies.means_[order], atol=allowed)
    np.testing.assert_allclose(once.weights_, copies.weights_[order], atol=allowed)
