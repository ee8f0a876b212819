"""The EM fitter: agreement with scikit-learn, monotone likelihood, weights, the seed example.

References are independent of the code under test: scikit-learn's GaussianMixture run
from the same initial parameters, repeated or dropped rows for sample weights, the
EM ascent property, and the seed example's known clusters.
"""

import logging
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from bayesgmm import ConvergenceWarning, GaussianMixture
from bayesgmm.datasets import load_iris, load_seed_example, load_sp500_returns, make_mixture
from bayesgmm.exceptions import CovarianceError, NotFittedError

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
N_COMPONENTS = 3

fixed_iterations = pytest.mark.filterwarnings(
    "ignore::bayesgmm.ConvergenceWarning", "ignore::sklearn.exceptions.ConvergenceWarning"
)


def _assert_close(actual, desired, rtol=1e-6, what=""):
    """Relative agreement, with an absolute floor at 1e-12 of the array's scale."""
    desired = np.asarray(desired, dtype=np.float64)
    atol = 1e-12 * max(float(np.abs(desired).max(initial=0.0)), 1.0)
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol, err_msg=what)


@pytest.fixture(scope="module")
def standardised():
    """Three clusters in 3-D, standardised per feature (ddof=0): relative reg = absolute."""
    X = make_mixture(240, N_COMPONENTS, 3, separation=3.0, random_state=1).X
    return (X - X.mean(axis=0)) / X.std(axis=0)


@pytest.fixture(scope="module")
def raw():
    """Features on very different scales and offsets; compared with reg_covar=0."""
    X = make_mixture(240, N_COMPONENTS, 3, separation=3.0, random_state=2).X
    return X * np.array([1.0, 100.0, 0.01]) + np.array([50.0, -3e3, 0.0])


def _initial_values(X, covariance_type, n_components=N_COMPONENTS, seed=0):
    """weights_init, means_init and precisions_init (scaled to the data) for a type."""
    rng = np.random.default_rng(seed)
    precision = 1.0 / X.var(axis=0)
    # full and tied start from the data's (correlated) precision matrix
    matrix = np.linalg.inv(np.cov(X, rowvar=False, bias=True))
    precisions = {
        "full": np.stack([matrix] * n_components),
        "tied": matrix,
        "diag": np.tile(precision, (n_components, 1)),
        "spherical": np.full(n_components, precision.mean()),
    }[covariance_type]
    return {
        "weights_init": np.full(n_components, 1.0 / n_components),
        "means_init": X[rng.choice(len(X), n_components, replace=False)],
        "precisions_init": precisions,
    }


# --------------------------------------------------------------------- scikit-learn agreement
@fixed_iterations
@pytest.mark.parametrize("data", ["standardised", "raw"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_same_start_as_sklearn_gives_the_same_fit(request, data, covariance_type):
    """The same initial parameters and the same number of EM steps (tol=0) agree to 1e-10.

    An explicit float reg_covar means what scikit-learn's means (added in the data's
    units). Both compute in float64, in different orders: what separates them is
    rounding (2.2e-16) amplified by the raw data's conditioning (feature scales 1e-2 to
    1e2 at an offset of 3e3, so about 1e5 to 1e6) over 25 iterations; 1e-10 covers that.
    """
    X = request.getfixturevalue(data)
    reg_covar = 1e-6 if data == "standardised" else 0.0
    options = dict(
        n_components=N_COMPONENTS,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=25,
        reg_covar=reg_covar,
        **_initial_values(X, covariance_type),
    )
    ours = GaussianMixture(**options).fit(X)
    theirs = SklearnGaussianMixture(**options).fit(X)
    assert ours.n_iter_ == theirs.n_iter_ == 25
    close = dict(rtol=1e-10)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        _assert_close(getattr(ours, name), getattr(theirs, name), what=name, **close)
    # lower_bound_ is the log-likelihood at the fitted parameters (scikit-learn's score);
    # the per-iteration history is scikit-learn's lower_bounds_, plus that final value
    _assert_close(ours.lower_bound_, theirs.score(X), what="lower_bound_", **close)
    _assert_close(ours.lower_bounds_[:-1], theirs.lower_bounds_, what="lower_bounds_", **close)
    _assert_close(ours.score_samples(X), theirs.score_samples(X), what="score_samples", **close)
    _assert_close(ours.predict_proba(X), theirs.predict_proba(X), what="predict_proba", **close)
    _assert_close(ours.aic(X), theirs.aic(X), what="aic", **close)
    _assert_close(ours.bic(X), theirs.bic(X), what="bic", **close)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_converged_log_likelihood_matches_sklearn(standardised, covariance_type):
    """Run to convergence from the same start, both reach the same optimum."""
    X = standardised
    start = _initial_values(X, covariance_type)
    ours = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type, **start).fit(X)
    theirs = SklearnGaussianMixture(
        N_COMPONENTS, covariance_type=covariance_type, tol=1e-12, max_iter=10_000, **start
    ).fit(X)
    assert ours.converged_ and theirs.converged_
    _assert_close(ours.lower_bound_, theirs.score(X))
    _assert_close(ours.bic(X), theirs.bic(X))
    # a flat optimum: 1e-6 in log-likelihood leaves the parameters good to about 1e-2
    _assert_close(ours.means_, theirs.means_, rtol=1e-2)


# --------------------------------------------------------------------- monotone likelihood
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_samples=st.integers(20, 80),
    n_features=st.integers(1, 3),
    n_components=st.integers(1, 4),
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
    init_params=st.sampled_from(["kmeans", "k-means++", "random", "random_from_data"]),
    separation=st.floats(0.5, 6.0),
)
def test_log_likelihood_never_decreases(
    seed, n_samples, n_features, n_components, covariance_type, init_params, separation
):
    """Each EM iteration's log-likelihood is at least the previous one (reg_covar=0).

    Without regularisation every M-step maximises the expected complete-data
    log-likelihood exactly, so the observed log-likelihood cannot fall.
    """
    X = make_mixture(
        n_samples, n_components, n_features, separation=separation, random_state=seed
    ).X
    model = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        init_params=init_params,
        n_init=1,
        reg_covar=0.0,
        tol=0.0,
        max_iter=30,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model.fit(X)
        except CovarianceError:  # a component collapsed with no regularisation at all
            assume(False)
    # a component collapsed onto one point has a variance of rounding noise (1e-14) and
    # an unbounded likelihood; EM's ascent is a property of the non-degenerate problem
    assume(not model.result_.degenerate)
    history = np.asarray(model.lower_bounds_)
    assert len(history) == model.n_iter_ + 1
    assert np.isfinite(history).all()
    gains = np.diff(history)
    assert gains.min() >= -1e-9 * max(1.0, np.abs(history).max()), gains.min()
    assert model.lower_bound_ == history[-1]


# --------------------------------------------------------------------- sample weights
@pytest.fixture(scope="module")
def weighted_problem():
    X = make_mixture(90, N_COMPONENTS, 2, random_state=3).X
    weights = np.random.default_rng(1).integers(0, 4, size=len(X))
    return X, weights


def _assert_same_fit(a, b, rtol=1e-8):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        _assert_close(getattr(a, name), getattr(b, name), rtol=rtol, what=name)
    _assert_close(a.lower_bound_, b.lower_bound_, rtol=rtol, what="lower_bound_")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_equal_repeated_rows_kmeans_plus_plus(weighted_problem, covariance_type):
    """Weighted k-means++ seeding picks the same rows as repeated data: the same fit."""
    X, weights = weighted_problem
    options = dict(covariance_type=covariance_type, init_params="k-means++", random_state=0)
    weighted = GaussianMixture(N_COMPONENTS, **options).fit(X, sample_weight=weights)
    repeated = GaussianMixture(N_COMPONENTS, **options).fit(np.repeat(X, weights, axis=0))
    _assert_same_fit(weighted, repeated)


@fixed_iterations
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_equal_repeated_rows_user_start(weighted_problem, covariance_type):
    X, weights = weighted_problem
    options = dict(
        covariance_type=covariance_type, tol=0.0, max_iter=20, **_initial_values(X, covariance_type)
    )
    weighted = GaussianMixture(N_COMPONENTS, **options).fit(X, sample_weight=weights)
    repeated = GaussianMixture(N_COMPONENTS, **options).fit(np.repeat(X, weights, axis=0))
    _assert_same_fit(weighted, repeated, rtol=1e-9)
    _assert_close(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_equal_repeated_rows_default_settings(weighted_problem, covariance_type):
    """With the default starts (Ward + k-means) the fits agree up to the order of components."""
    X, weights = weighted_problem
    options = dict(covariance_type=covariance_type, random_state=0)
    weighted = GaussianMixture(N_COMPONENTS, **options).fit(X, sample_weight=weights)
    repeated = GaussianMixture(N_COMPONENTS, **options).fit(np.repeat(X, weights, axis=0))
    _assert_close(weighted.lower_bound_, repeated.lower_bound_, rtol=1e-8)
    order_w, order_r = np.lexsort(weighted.means_.T), np.lexsort(repeated.means_.T)
    _assert_close(weighted.means_[order_w], repeated.means_[order_r], rtol=1e-6)
    _assert_close(weighted.weights_[order_w], repeated.weights_[order_r], rtol=1e-6)


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_zero_weight_equals_dropping_rows(weighted_problem, covariance_type, init_params):
    X, _ = weighted_problem
    keep = np.random.default_rng(2).random(len(X)) < 0.7
    options = dict(covariance_type=covariance_type, init_params=init_params, random_state=0)
    # plain EM for 50 iterations: the same seeding and arithmetic, so the same numbers
    exact = dict(options, tol=0.0, max_iter=50)
    weighted = GaussianMixture(N_COMPONENTS, **exact).fit(X, sample_weight=keep.astype(float))
    dropped = GaussianMixture(N_COMPONENTS, **exact).fit(X[keep])
    _assert_same_fit(weighted, dropped)
    # at the default tol (SQUAREM, whose jumps rounding may decide differently) both
    # stop within the stopping rule's tolerance of the same optimum
    weighted = GaussianMixture(N_COMPONENTS, **options).fit(X, sample_weight=keep.astype(float))
    dropped = GaussianMixture(N_COMPONENTS, **options).fit(X[keep])
    assert abs(weighted.lower_bound_ - dropped.lower_bound_) <= 2 * weighted.tol
    np.testing.assert_allclose(np.sort(weighted.weights_), np.sort(dropped.weights_), atol=1e-3)


def test_uniform_weights_do_not_change_the_fit(weighted_problem):
    """Scaling every weight by the same factor leaves the (mean) fit unchanged."""
    X, _ = weighted_problem
    options = dict(init_params="k-means++", random_state=0)
    plain = GaussianMixture(N_COMPONENTS, **options).fit(X)
    scaled = GaussianMixture(N_COMPONENTS, **options).fit(X, sample_weight=np.full(len(X), 3.0))
    _assert_same_fit(plain, scaled)


# --------------------------------------------------------------------- the seed example
@pytest.fixture(scope="module")
def seed_example():
    return load_seed_example(return_labels=True)


def test_seed_example_recovers_the_clusters(seed_example):
    X, labels = seed_example
    model = GaussianMixture(4, covariance_type="full", random_state=0).fit(X)
    assert model.converged_
    assert adjusted_rand_score(labels, model.predict(X)) > 0.95


def test_seed_example_bic_is_lowest_at_four_components(seed_example):
    X, _ = seed_example
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # large K may warn about degenerate components
        bics = [GaussianMixture(k, random_state=0).fit(X).bic(X) for k in range(1, 10)]
    assert int(np.argmin(bics)) + 1 == 4, np.round(bics, 1)


# --------------------------------------------------------------------- restarts, warm start
@fixed_iterations
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_warm_start_continues_where_the_last_fit_stopped(standardised, covariance_type):
    """Two warm fits of 6 iterations equal one fit of 12 from the same start."""
    X = standardised
    start = _initial_values(X, covariance_type)
    options = dict(covariance_type=covariance_type, tol=0.0, **start)
    warm = GaussianMixture(N_COMPONENTS, max_iter=6, warm_start=True, **options)
    warm.fit(X)
    first = warm.lower_bound_
    warm.fit(X)
    once = GaussianMixture(N_COMPONENTS, max_iter=12, **options).fit(X)
    assert warm.lower_bound_ >= first
    _assert_same_fit(warm, once, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_one_iteration_warm_fits_stop_where_one_fit_stops(standardised, covariance_type):
    """Issue 14.1: ``while not gm.converged_: gm.fit(X)`` with max_iter=1 ran forever.
    Warm fits continue the previous history, so the stopping rule sees what one long fit
    sees: they stop after as many fits as that fit has iterations, at its parameters."""
    X = standardised
    start = _initial_values(X, covariance_type)
    once = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type, **start).fit(X)
    assert once.converged_ and once.n_iter_ > 3
    warm = GaussianMixture(
        N_COMPONENTS, covariance_type=covariance_type, max_iter=1, warm_start=True, **start
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        n_fits = 0
        while n_fits == 0 or not warm.converged_:
            assert n_fits < once.n_iter_, "the warm fits run past the one fit's end"
            warm.fit(X)
            n_fits += 1
            assert warm.n_iter_ == 1
    assert n_fits == once.n_iter_
    # each warning shows the gains of the whole history, not of this fit alone
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(messages) == n_fits - 1
    assert "no gain was measured" in messages[0]
    assert not any("no gain was measured" in message for message in messages[1:])
    _assert_same_fit(warm, once, rtol=1e-9)


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"n_components": 2}, r"n_components 3 -> 2"),
        ({"covariance_type": "diag"}, r"covariance_type 'full' -> 'diag'"),
        ("features", r"n_features 3 -> 2"),
    ],
)
def test_warm_start_that_no_longer_fits_starts_cold(standardised, change, what):
    """Issue 15.8: a warm start kept 2 components after set_params(n_components=3), and
    crashed in a broadcast for a new covariance_type or number of features."""
    from bayesgmm.exceptions import WarmStartWarning

    model = GaussianMixture(N_COMPONENTS, warm_start=True, random_state=0).fit(standardised)
    X = standardised[:, :2] if change == "features" else standardised
    options = {} if change == "features" else change
    model.set_params(**options)
    with pytest.warns(WarmStartWarning, match=rf"previous fit does not fit this one \({what}\)"):
        model.fit(X)
    cold = GaussianMixture(**{**model.get_params(), "warm_start": False}).fit(X)
    _assert_same_fit(model, cold, rtol=0)
    assert model.n_features_in_ == X.shape[1]


def test_warm_start_false_refits_from_scratch(standardised):
    model = GaussianMixture(N_COMPONENTS, init_params="k-means++", random_state=0)
    first = model.fit(standardised).means_.copy()
    np.testing.assert_array_equal(model.fit(standardised).means_, first)


def test_n_init_keeps_the_best_start(caplog):
    """With verbose=1 every start is logged; the kept fit has the best log-likelihood."""
    X = make_mixture(150, 5, 2, separation=2.0, random_state=4).X
    model = GaussianMixture(5, init_params="random_from_data", n_init=6, random_state=1, verbose=1)
    with caplog.at_level(logging.INFO, logger="bayesgmm"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    pattern = re.compile(r"start \d+ .*log-likelihood (-?[\d.]+) after \d+ iterations(.*)")
    starts = [pattern.search(record.getMessage()) for record in caplog.records]
    starts = [match for match in starts if match]
    assert len(starts) == 6
    values = [float(m.group(1)) for m in starts if "degenerate" not in m.group(2)]
    assert len(set(np.round(values, 4))) > 1, "the starts should reach different optima"
    assert model.lower_bound_ == pytest.approx(max(values), abs=1e-6)


def test_more_starts_never_do_worse():
    """n_init=5 begins with the start n_init=1 makes (same seed), then keeps the best:
    a sound fit before a degenerate one, then the higher likelihood."""
    X = make_mixture(150, 5, 2, separation=2.0, random_state=4).X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = GaussianMixture(5, init_params="random", n_init=1, random_state=3).fit(X)
        five = GaussianMixture(5, init_params="random", n_init=5, random_state=3).fit(X)

    def rank(model: GaussianMixture) -> tuple[bool, float]:
        return not model.result_.degenerate, model.lower_bound_

    assert rank(five)[0] >= rank(one)[0]
    if rank(five)[0] == rank(one)[0]:
        assert five.lower_bound_ >= one.lower_bound_ - 1e-12


# --------------------------------------------------------------------- predict and sample
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_predict_equals_fit_then_predict(standardised, covariance_type):
    options = dict(covariance_type=covariance_type, n_init=1, random_state=0)
    labels = GaussianMixture(N_COMPONENTS, **options).fit_predict(standardised)
    fitted = GaussianMixture(N_COMPONENTS, **options).fit(standardised)
    np.testing.assert_array_equal(labels, fitted.predict(standardised))
    np.testing.assert_array_equal(labels, fitted.predict_proba(standardised).argmax(axis=1))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_score_and_criteria_closed_forms(standardised, covariance_type):
    X = standardised
    model = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type, n_init=1).fit(X)
    log_prob = model.score_samples(X)
    # weights K - 1 = 2, means K D = 9, covariances 18 / 6 / 9 / 3
    n_parameters = {"full": 29, "tied": 17, "diag": 20, "spherical": 14}[covariance_type]
    assert model.score(X) == pytest.approx(log_prob.mean(), rel=1e-12)
    assert model.lower_bound_ == pytest.approx(log_prob.mean(), rel=1e-10)
    assert model.bic(X) == pytest.approx(-2 * log_prob.sum() + n_parameters * np.log(len(X)))
    assert model.aic(X) == pytest.approx(-2 * log_prob.sum() + 2 * n_parameters)
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_shapes_and_labels(standardised, covariance_type):
    model = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type, n_init=1)
    model.fit(standardised)
    X, y = model.sample(500)
    assert X.shape == (500, standardised.shape[1])
    assert y.shape == (500,)
    assert set(np.unique(y)) <= set(range(N_COMPONENTS))
    assert (np.diff(y) >= 0).all(), "labels come grouped by component, as in scikit-learn"
    # each row is drawn from its own component: it is closer to that mean than chance
    assert (model.predict(X) == y).mean() > 0.8


def test_sample_continues_the_random_stream(standardised):
    """Repeated calls give new draws; the same seed reproduces the whole sequence."""
    first_model = GaussianMixture(N_COMPONENTS, n_init=1, random_state=0).fit(standardised)
    second_model = GaussianMixture(N_COMPONENTS, n_init=1, random_state=0).fit(standardised)
    a1, _ = first_model.sample(20)
    a2, _ = first_model.sample(20)
    b1, _ = second_model.sample(20)
    b2, _ = second_model.sample(20)
    assert not np.allclose(a1, a2)
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)


@pytest.mark.parametrize("n_samples", [0, -1])
def test_sample_rejects_non_positive_sizes(standardised, n_samples):
    model = GaussianMixture(1, n_init=1).fit(standardised)
    # scikit-learn's words (code may match them), then the fix
    with pytest.raises(ValueError, match=rf"Invalid value for 'n_samples': {n_samples}\. .*"
                       r"pass n_samples >= 1"):  # fmt: skip
        model.sample(n_samples)


# --------------------------------------------------------------------- estimator surface
@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "score_samples", "score", "bic", "aic"]
)
def test_unfitted_model_raises_not_fitted(method):
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError

    with pytest.raises(NotFittedError, match="not fitted yet.*Call 'fit'") as info:
        getattr(GaussianMixture(), method)(np.zeros((3, 2)))
    assert isinstance(info.value, SklearnNotFittedError)


def test_unfitted_sample_raises_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        GaussianMixture().sample(3)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"n_components": 0}, ValueError, r"'n_components'.*range \[1, inf\).*Got 0"),
        ({"n_components": 2.5}, TypeError, r"'n_components'.*must be an int"),
        ({"covariance_type": "ful"}, ValueError, r"'covariance_type'.*among.*Got 'ful'"),
        ({"init_params": "kmeans+"}, ValueError, r"'init_params'.*Got 'kmeans\+'"),
        ({"tol": -1.0}, ValueError, r"'tol'.*range \[0\.0, inf\)"),
        ({"reg_covar": -1e-3}, ValueError, r"'reg_covar'.*range \[0\.0, inf\)"),
        ({"max_iter": -1}, ValueError, r"'max_iter'.*range \[0, 10000000\]\. Got -1"),
        ({"max_iter": 10**20}, ValueError, r"'max_iter'.*range \[0, 10000000\]\. Got 10{20}"),
        ({"max_iter": 2.0}, TypeError, r"'max_iter'.*must be an int.*Got 2\.0 of type float"),
        ({"n_init": 0}, ValueError, r"'n_init'.*range \[1, 100000\]"),
        ({"n_init": "many"}, ValueError, r"'n_init'.*or 'auto'.*Got 'many'"),
        ({"n_init": 1.5}, TypeError, r"'n_init'.*or 'auto'"),
        # initial values: scikit-learn's words (code may match them), then the fix
        (
            {"weights_init": [0.4, 0.5]},
            ValueError,
            r"'weights' should be normalized, but got sum\(weights\) = 0\.90000\. Divide",
        ),
        (
            {"weights_init": [1.0]},
            ValueError,
            r"'weights' should have the shape of \(2,\), but got \(1,\): weights_init holds",
        ),
        (
            {"weights_init": [-0.5, 1.5]},
            ValueError,
            r"'weights' should be in the range \[0, 1\], but got min value -0\.50000, max "
            r"value 1\.50000",
        ),
        ({"weights_init": "auto"}, TypeError, r"weights_init must be an array of numbers.*'auto'"),
        ({"means_init": "x"}, TypeError, r"means_init must be an array of numbers.*Pass None"),
        ({"means_init": [[0.0], [1.0, 2.0]]}, TypeError, r"means_init must be an array of num"),
        (
            {"means_init": np.zeros((3, 2))},
            ValueError,
            r"'means' should have the shape of \(2, 2\), but got \(3, 2\): means_init holds",
        ),
        (
            {"precisions_init": -np.ones(2)},
            ValueError,
            r"'spherical precision' should be positive, but got smallest value -1",
        ),
        (
            {"covariance_type": "full", "precisions_init": np.array([[[1, 0.5], [0, 1]]] * 2)},
            ValueError,
            r"'full precision' should be symmetric, positive-definite, but .* not symmetric",
        ),
        (
            {"covariance_type": "full", "precisions_init": np.full((2, 2, 2), np.nan)},
            ValueError,
            r"precisions_init contains NaN or infinite values; give finite inverse covariances",
        ),
        (
            {"covariance_type": "tied", "precisions_init": np.array([[1.0, 2.0], [2.0, 1.0]])},
            ValueError,
            r"'tied precision' should be symmetric, positive-definite, but a Cholesky",
        ),
        ({"random_state": "seed"}, TypeError, r"random_state must be None, an int"),
        ({"random_state": -1}, ValueError, r"random_state must be a non-negative int.*got -1"),
        ({"reg_covar": "big"}, ValueError, r"'reg_covar' .* must be 'auto' or a float.*'big'"),
        ({"reg_covar": 1e308}, ValueError, r"'reg_covar' .* is 1e\+308, larger than any .*Use"),
        ({"reg_covar": 10**400}, ValueError, r"'reg_covar' .* float in the range \[0\.0, inf"),
        ({"tol": 10**400}, ValueError, r"'tol' parameter .* float in the range \[0\.0, inf"),
    ],
)
def test_invalid_parameters_are_named_in_the_error(params, error, match):
    options = {"n_components": 2, "covariance_type": "spherical", **params}
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(error, match=match):
        GaussianMixture(**options).fit(X)


def test_more_components_than_rows_is_refused():
    with pytest.raises(ValueError, match=r"n_components"):
        GaussianMixture(5).fit(np.random.default_rng(0).normal(size=(4, 2)))


def test_get_params_set_params_and_repr():
    model = GaussianMixture(2, covariance_type="diag")
    assert model.get_params()["covariance_type"] == "diag"
    assert model.set_params(n_components=3, tol=1e-4) is model
    assert (model.n_components, model.tol) == (3, 1e-4)
    assert repr(model) == "GaussianMixture(n_components=3, covariance_type='diag', tol=0.0001)"
    with pytest.raises(ValueError, match=r"Invalid parameter 'n_comp'.*Valid parameters"):
        model.set_params(n_comp=2)


def test_fit_does_not_modify_the_constructor_parameters(standardised):
    start = _initial_values(standardised, "full")
    copies = {name: value.copy() for name, value in start.items()}
    model = GaussianMixture(N_COMPONENTS, **start).fit(standardised)
    for name, value in copies.items():
        np.testing.assert_array_equal(getattr(model, name), value)
        assert getattr(model, name) is start[name]


def test_feature_names_are_recorded_and_checked(standardised):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(standardised, columns=["a", "b", "c"])
    model = GaussianMixture(2, n_init=1).fit(frame)
    np.testing.assert_array_equal(model.feature_names_in_, ["a", "b", "c"])
    assert model.n_features_in_ == 3
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        np.testing.assert_array_equal(model.predict(frame), model.predict(standardised))
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        model.predict(frame[["b", "a", "c"]])
    refit = model.fit(standardised)
    assert not hasattr(refit, "feature_names_in_")


def test_predict_with_wrong_number_of_features(standardised):
    model = GaussianMixture(2, n_init=1).fit(standardised)
    with pytest.raises(ValueError, match=r"X has 2 features, but GaussianMixture is expecting 3"):
        model.predict(standardised[:, :2])


def test_max_iter_reached_warns_with_the_numbers(standardised):
    model = GaussianMixture(N_COMPONENTS, max_iter=2, n_init=1, random_state=0)
    with pytest.warns(ConvergenceWarning) as record:
        model.fit(standardised)
    assert not model.converged_
    assert model.n_iter_ == 2
    message = str(record[0].message)
    # scikit-learn's sentence first (code may match it), then the quantity that failed
    assert message.startswith(
        "Best performing initialization did not converge. Try different init parameters, "
        "or increase max_iter, tol, or check for degenerate data."
    )
    gain = model.lower_bounds_[1] - model.lower_bounds_[0]
    assert f"max_iter=2: the last gain, {gain:.3g} per observation, is not below tol=1e-06" in (
        message
    )


def test_warning_shows_the_projected_gain_when_the_last_gain_passed():
    """Issue: "last gain 3.01e-08, tol=1e-06" was shown when the gain was below tol."""
    X = make_mixture(300, 3, 2, separation=1.0, random_state=0).X
    # a user's start runs plain EM whatever tol is (other starts run SQUAREM when tol > 0)
    start = {
        "weights_init": np.full(3, 1 / 3),
        "means_init": X[[0, 1, 2]],
        "precisions_init": np.tile(np.linalg.inv(np.cov(X.T)), (3, 1, 1)),
    }
    options = dict(n_components=3, n_init=1, random_state=0, **start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        free = GaussianMixture(tol=0.0, max_iter=60, **options).fit(X)
    gains = np.diff(free.lower_bounds_[:-1])  # gains[j]: seen by the rule at iteration j + 2
    rates = gains[1:] / gains[:-1]
    remaining = gains[1:] * rates / (1 - rates)  # Aitken's projection after gains[1:]
    # the first gain whose projected remainder exceeds the gain before it (rate > 0.62);
    # a tol between those two gains stops no earlier iteration, and fails this one only
    # on the projection
    j = int(np.argmax(remaining > gains[:-1])) + 1
    tol = float(np.sqrt(gains[j] * gains[j - 1]))
    assert (gains[:j] >= tol).all() and gains[j] < tol < remaining[j - 1]
    model = GaussianMixture(tol=tol, max_iter=j + 2, **options)
    with pytest.warns(ConvergenceWarning) as record:
        model.fit(X)
    assert not model.converged_
    assert (
        f"the projected remaining gain (Aitken), {remaining[j - 1]:.3g} per observation, "
        f"is not below tol={tol:g} (the last gain was {gains[j]:.3g})"
    ) in str(record[0].message)


def test_result_matches_the_estimator_attributes(standardised):
    model = GaussianMixture(N_COMPONENTS, covariance_type="diag", n_init=1)
    model.fit(standardised)
    result = model.result_
    np.testing.assert_array_equal(result.weights.values, model.weights_)
    np.testing.assert_array_equal(result.means.values, model.means_)
    np.testing.assert_allclose(
        result.log_prob(standardised).values, model.score_samples(standardised)
    )
    np.testing.assert_array_equal(result.predict(standardised).values, model.predict(standardised))
    np.testing.assert_allclose(result.bic(standardised), model.bic(standardised))
    np.testing.assert_array_equal(result.history.values, model.lower_bounds_[:-1])


def test_predictions_use_the_fitted_covariance_type(standardised):
    """Changing covariance_type with set_params after fit does not corrupt predictions."""
    model = GaussianMixture(N_COMPONENTS, covariance_type="diag", n_init=1)
    labels = model.fit(standardised).predict(standardised)
    log_prob = model.score_samples(standardised)
    model.set_params(covariance_type="full")
    np.testing.assert_array_equal(model.predict(standardised), labels)
    np.testing.assert_array_equal(model.score_samples(standardised), log_prob)


def test_verbose_logs_starts_and_iterations_without_printing(standardised, caplog, capsys):
    model = GaussianMixture(N_COMPONENTS, n_init=2, verbose=2, verbose_interval=5, random_state=0)
    with caplog.at_level(logging.INFO, logger="bayesgmm"):
        model.fit(standardised)
    messages = [record.getMessage() for record in caplog.records]
    assert sum(bool(re.match(r"start \d \(.*\): log-likelihood", m)) for m in messages) == 2
    # per-iteration lines name the start and the rows it runs on
    pattern = r"start 1 \(kmeans, all rows\): iteration 5, mean log-likelihood -?\d"
    assert any(re.search(pattern, m) for m in messages)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("load", "n_components", "covariance_type"),
    [(load_iris, 4, "full"), (load_sp500_returns, 3, "spherical")],
)
def test_verbose_logging_leaves_the_fit_as_it_is(load, n_components, covariance_type, caplog):
    """verbose=2 runs the starts in rounds of ``verbose_interval`` iterations to log
    them. SQUAREM's cycle (its iterates, step bound and phase) carries across those call
    boundaries, so the fit must be the one verbose=0 makes, to the last bit: a cycle
    that restarted at each round would jump at other iterations and end elsewhere (iris
    VVV K=4 and the slowly converging 1-D returns did)."""
    X = load().to_numpy()
    options = {"covariance_type": covariance_type, "random_state": 0}
    quiet = GaussianMixture(n_components, **options).fit(X)
    with caplog.at_level(logging.INFO, logger="bayesgmm"):
        logged = GaussianMixture(n_components, verbose=2, verbose_interval=7, **options).fit(X)
    assert any("iteration 7," in record.getMessage() for record in caplog.records)
    assert logged.n_iter_ == quiet.n_iter_
    assert logged.lower_bound_ == quiet.lower_bound_
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_array_equal(getattr(logged, name), getattr(quiet, name), err_msg=name)


# --------------------------------------------------------------------- dtypes (issue 14.4)
@pytest.mark.parametrize(("fitted", "given", "expected"), [
    (np.float32, np.float32, np.float32),
    (np.float32, np.float64, np.float64),
    (np.float64, np.float32, np.float64),
    (np.float64, np.float64, np.float64),
])  # fmt: skip
def test_outputs_follow_the_input_dtype_as_sklearn(standardised, fitted, given, expected):
    """float32 in, float32 out, as scikit-learn: numpy's promotion of the data's dtype
    and the fitted parameters' (computed in float64, cast at the end)."""
    X = standardised.astype(fitted)
    model = GaussianMixture(N_COMPONENTS, n_init=1, random_state=0).fit(X)
    theirs = SklearnGaussianMixture(N_COMPONENTS, random_state=0).fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(model, name).dtype == getattr(theirs, name).dtype == fitted, name
    for method in ("score_samples", "predict_proba"):
        ours = getattr(model, method)(standardised.astype(given))
        assert ours.dtype == getattr(theirs, method)(standardised.astype(given)).dtype
        assert ours.dtype == expected
    # the float32 attributes are the float64 results rounded once
    double = model.result_
    np.testing.assert_array_equal(model.means_, double.means.values.astype(fitted))


def test_float32_dataframe_gives_float32_attributes(standardised):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(standardised.astype(np.float32), columns=["a", "b", "c"])
    model = GaussianMixture(2, n_init=1).fit(frame)
    assert model.means_.dtype == np.float32
    assert model.score_samples(frame).dtype == np.float32


def test_warm_start_on_new_data_starts_its_history_afresh():
    """A warm fit continues the previous history only on the same data: on new data (a
    rolling window) the previous log-likelihoods, of other rows, must not stop it early."""
    rng = np.random.default_rng(8)
    first = np.concatenate([rng.normal(-2, 1, (300, 2)), rng.normal(2, 1, (300, 2))])
    second = np.concatenate([rng.normal(-1, 1, (300, 2)), rng.normal(3, 0.5, (300, 2))])
    warm = GaussianMixture(2, warm_start=True, random_state=0).fit(first)
    warm.fit(second)
    cold = GaussianMixture(2, random_state=0).fit(second)
    assert warm.n_iter_ > 2
    assert warm.lower_bound_ == pytest.approx(cold.lower_bound_, abs=1e-6)
    again = warm.n_iter_
    warm.fit(second)  # the same data: continues, and has nothing left to do
    assert warm.n_iter_ <= 2 < again


def test_precisions_symmetric_to_rounding_are_accepted_as_scikit_learn_does():
    """Non-regression: np.linalg.inv of an ill-conditioned covariance is symmetric only
    to rounding, and such precisions_init (which scikit-learn accepts: np.allclose) were
    refused. They are accepted and symmetrised: the fit is that of (P + P.T) / 2."""
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    symmetric = np.stack([np.eye(3), 2.0 * np.eye(3)]) + 0.3
    skewed = symmetric.copy()
    skewed[:, 0, 2] += 1e-7  # relative 3e-7: within np.allclose, far above 1e-10
    fits = [
        GaussianMixture(
            2, covariance_type="full", precisions_init=precisions, means_init=X[:2],
            n_init=1, max_iter=5, tol=0.0,
        ).fit(X)
        for precisions in (skewed, 0.5 * (skewed + np.swapaxes(skewed, 1, 2)))
    ]  # fmt: skip
    np.testing.assert_array_equal(fits[0].means_, fits[1].means_)
    np.testing.assert_array_equal(fits[0].covariances_, fits[1].covariances_)
    SklearnGaussianMixture(2, precisions_init=skewed, means_init=X[:2], max_iter=5).fit(X)
