"""EM with missing values (``GaussianMixture(missing="marginal")``).

Checked against the complete-data engines (nothing missing: the same iterates and the
same optimum), against SciPy's multivariate normal and t densities of each row's observed
coordinates (the E-step's likelihood, ``score_samples`` and ``predict_proba``), against
EM's ascent property (every covariance model, both families), and against simulations
whose truth is known (missing completely at random: the marginal fit recovers the
parameters better than dropping incomplete rows).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import special, stats

from bayesgmm import GaussianMixture, MixtureResult, load
from bayesgmm.covariance import MODELS, get_covariance_model
from bayesgmm.covariance.base import INNER_TOL
from bayesgmm.em.blocks import Workers
from bayesgmm.em.engines import select_engine
from bayesgmm.em.loop import Parameters, run_em
from bayesgmm.em.missing import MarginalEngine, observed_moments
from bayesgmm.family import GAUSSIAN, STUDENT_T
from bayesgmm.observed import missingness_patterns

ALL_MODELS = sorted(MODELS)
FAMILIES = [GAUSSIAN, STUDENT_T]

TRUE_WEIGHTS = np.array([0.4, 0.6])
TRUE_MEANS = np.array([[-2.0, 0.0, 1.0], [2.0, 1.0, -1.0]])
TRUE_COVARIANCES = np.array([
    [[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]],
    [[1.0, -0.3, 0.0], [-0.3, 0.8, 0.2], [0.0, 0.2, 0.6]],
])  # fmt: skip


def _mixture(n_samples, seed=0, missing=0.3, dof=None):
    """Rows of the true mixture (Student-t components with ``dof``, Gaussian ones for
    None), and a copy with a fraction ``missing`` of entries NaN (completely at random)."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(2, n_samples, p=TRUE_WEIGHTS)
    noise = rng.standard_normal((n_samples, 3))
    if dof is not None:  # t draws as scaled normals
        noise *= np.sqrt(dof / rng.chisquare(dof, n_samples))[:, None]
    factors = np.linalg.cholesky(TRUE_COVARIANCES)
    X = TRUE_MEANS[labels] + np.einsum("nij,nj->ni", factors[labels], noise)
    holes = X.copy()
    holes[rng.random(X.shape) < missing] = np.nan
    return X, holes


def _fit(X, **options):
    options = {"random_state": 0, "missing": "marginal", **options}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianMixture(2, **options).fit(X)


def _scipy_component_log_densities(X, means, covariances, dof=None):
    """(N, K) log-densities of each row's observed coordinates by SciPy (rows with the
    same observed coordinates in one call)."""
    out = np.zeros((len(X), len(means)))
    missing = np.isnan(X)
    for pattern in np.unique(missing, axis=0):
        rows = (missing == pattern).all(axis=1)
        o = ~pattern
        if not o.any():
            continue  # nothing observed: density 1
        for k in range(len(means)):
            cov = covariances[k][np.ix_(o, o)]
            values = X[np.ix_(rows, o)]
            if dof is None:
                out[rows, k] = stats.multivariate_normal(means[k][o], cov).logpdf(values)
            else:
                law = stats.multivariate_t(means[k][o], cov, df=dof[k])
                out[rows, k] = law.logpdf(values)
    return out


def _start(model, shift, dof=10.0):
    """Starting parameters in the engine's shifted coordinates: unit covariances."""
    means = np.array([[-1.5, 0.2, 0.8], [1.5, 0.8, -0.6]]) - shift
    covariances = model.layout.from_full(np.repeat(np.eye(3)[None], 2, axis=0))
    prec = model.layout.precision_cholesky(covariances, np.array([0.5, 0.5]))
    return Parameters(np.array([0.5, 0.5]), means, covariances, prec, np.full(2, dof))


def _engine_run(engine_kind, X, model, family, max_iter=20):
    weights = np.ones(len(X))
    shift = observed_moments(X, weights)[0]
    reg = np.full(3, 1e-6)
    with Workers(1) as workers:
        arguments = (X, weights, shift, reg, model, 2, np.float64, workers)
        if engine_kind == "marginal":
            engine = MarginalEngine(*arguments, family, True)
        else:
            engine = select_engine(*arguments, engine_kind, family, True)
        return run_em(engine, model, _start(model, shift), max_iter=max_iter, tol=0.0), shift


# ---------------------------------------------------------------- nothing missing
@pytest.mark.parametrize("family", FAMILIES, ids=lambda family: family.name)
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "VEV", "EEI"])
def test_complete_data_give_the_complete_data_iterates(covariance_type, family):
    """The marginal engine on data without NaN runs the complete-data EM: the same
    log-likelihood at every iteration and the same parameters as the block engine."""
    X, _ = _mixture(500, seed=1)
    model = get_covariance_model(covariance_type)
    marginal, _ = _engine_run("marginal", X, model, family)
    blocks, _ = _engine_run("blocks", X, model, family)
    # both sum the same 500 rows in float64, in different orders and forms (feature
    # products against conditional expectations): rounding of ~1e-13 relative, grown
    # over 20 iterations by the EM map's rate (below 1)
    np.testing.assert_allclose(marginal.history, blocks.history, rtol=1e-11)
    for name in ("weights", "means", "covariances", "dof"):
        got, want = getattr(marginal.params, name), getattr(blocks.params, name)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)


def test_iterative_m_step_complete_data_iterates_agree_within_its_inner_tolerance():
    """EVE's M-step iterates to INNER_TOL on its objective: rounding may stop it one
    inner step apart, moving the log-likelihood by about INNER_TOL per iteration."""
    X, _ = _mixture(500, seed=1)
    model = get_covariance_model("EVE")
    marginal, _ = _engine_run("marginal", X, model, GAUSSIAN)
    blocks, _ = _engine_run("blocks", X, model, GAUSSIAN)
    np.testing.assert_allclose(marginal.history, blocks.history, rtol=0, atol=100 * 20 * INNER_TOL)


@pytest.mark.parametrize("family", ["gaussian", "t"])
@pytest.mark.parametrize("covariance_type", ["full", "diag", "VVE"])
def test_a_row_with_nothing_observed_leaves_the_optimum_as_it_is(covariance_type, family):
    """A row whose every value is missing has likelihood 1 whatever the parameters: the
    fit with it (the marginal engine) reaches the complete-data optimum (another engine),
    in every parameter; its mean log-likelihood is the same total over one more row."""
    X, _ = _mixture(600, seed=2)
    options = {
        "covariance_type": covariance_type, "family": family, "tol": 1e-13,
        "max_iter": 5000, "reg_covar": 0.0, "n_init": 1,
    }  # fmt: skip
    if family == "t":  # fixed: a warm start takes no degrees of freedom
        options["dof"] = 5.0
    complete = _fit(X, **options)
    start = {"weights_init": complete.weights_, "means_init": complete.means_,
             "precisions_init": complete.precisions_}  # fmt: skip
    with_empty_row = _fit(np.vstack([X, np.full(3, np.nan)]), **options, **start)
    assert with_empty_row.result_.missing == "marginal"
    np.testing.assert_allclose(
        with_empty_row.lower_bound_ * (len(X) + 1), complete.lower_bound_ * len(X), rtol=1e-9
    )
    # at a maximum the log-likelihood is flat: tol=1e-13 on it leaves parameters within
    # about sqrt(1e-13 / curvature) of the optimum
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(
            getattr(with_empty_row, name), getattr(complete, name), rtol=1e-5, atol=1e-5
        )


# ---------------------------------------------------------------- the E-step against SciPy
@pytest.mark.parametrize("family", FAMILIES, ids=lambda family: family.name)
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_e_step_log_likelihood_equals_scipy_on_observed_coordinates(covariance_type, family):
    X, holes = _mixture(300, seed=3)
    holes[5] = np.nan  # one row with nothing observed
    model = get_covariance_model(covariance_type)
    weights = np.ones(len(holes))
    shift = observed_moments(holes, weights)[0]
    engine = MarginalEngine(holes, weights, shift, np.zeros(3), model, 2, np.float64, None, family)
    rng = np.random.default_rng(4)
    full = model.layout.to_full(
        model.layout.from_full(
            np.array([np.cov(rng.standard_normal((3, 10))) + np.eye(3) for _ in range(2)])
        ),
        2,
        3,
    )
    mix_weights, means, dof = np.array([0.3, 0.7]), TRUE_MEANS + 0.3, np.array([4.0, 12.0])
    covariances = model.layout.from_full(full)
    params = (mix_weights, means - shift, covariances,
              model.layout.precision_cholesky(covariances, mix_weights), dof)  # fmt: skip
    stats_buffers = engine.new_statistics(model, 2)
    mean_log_likelihood = engine.e_step(model.layout, family, None, params, stats_buffers)
    log_densities = _scipy_component_log_densities(
        holes, means, full, dof if family.scales else None
    )
    expected = special.logsumexp(log_densities + np.log(mix_weights), axis=1).mean()
    np.testing.assert_allclose(mean_log_likelihood, expected, rtol=1e-12)
    # the counts are the responsibilities' sums: every row counts once
    np.testing.assert_allclose(stats_buffers[5].sum(), len(holes), rtol=1e-12)


def test_missingness_patterns_partition_the_rows():
    _, holes = _mixture(400, seed=5)
    patterns = missingness_patterns(np.isnan(holes))
    rows = np.concatenate([index for _, index in patterns])
    assert sorted(rows.tolist()) == list(range(len(holes)))
    for observed, index in patterns:
        assert (np.isnan(holes[index]) == ~observed).all()


# ---------------------------------------------------------------- EM is an ascent
@pytest.mark.parametrize("family", ["gaussian", "t"])
@pytest.mark.parametrize("covariance_type", ALL_MODELS)
def test_em_never_decreases_the_observed_data_log_likelihood(covariance_type, family):
    _, holes = _mixture(400, seed=6)
    fit = _fit(
        holes, covariance_type=covariance_type, family=family, init_params="random_from_data",
        n_init=1, tol=0.0, max_iter=30, reg_covar=0.0,
    )  # fmt: skip
    history = np.array(fit.lower_bounds_)
    # the mean log-likelihood is a sum over N rows: rounding of N ulps of its size
    rounding = len(holes) * np.finfo(float).eps * np.abs(history).max()
    assert np.diff(history).min() >= -rounding
    assert history[-1] > history[0]


@pytest.mark.parametrize("family", ["gaussian", "t"])
def test_em_answer_is_a_stationary_point_of_the_observed_data_likelihood(family):
    """No direction improves SciPy's observed-data log-likelihood at EM's converged answer:
    its numerical gradient in (weight logit, means, Cholesky factors, log dof) vanishes.
    A wrong conditional covariance, scale weight or degrees-of-freedom term would move
    the answer off the maximum."""
    _, holes = _mixture(800, seed=16, dof=4.0 if family == "t" else None)
    holes = holes[:, :2]
    fit = _fit(holes, family=family, tol=1e-13, max_iter=5000, reg_covar=0.0, n_init=1)
    chol = np.linalg.cholesky(fit.covariances_)
    rows, cols = np.tril_indices(2)

    def log_likelihood(theta):
        weights = special.softmax(np.r_[0.0, theta[:1]])
        means = theta[1:5].reshape(2, 2)
        factors = np.zeros((2, 2, 2))
        factors[:, rows, cols] = theta[5:11].reshape(2, 3)
        dof = np.exp(theta[11:]) if family == "t" else None
        densities = _scipy_component_log_densities(
            holes, means, factors @ factors.transpose(0, 2, 1), dof
        )
        return special.logsumexp(densities + np.log(weights), axis=1).mean()

    theta = np.r_[
        np.log(fit.weights_[1] / fit.weights_[0]), fit.means_.ravel(),
        chol[:, rows, cols].ravel(), np.log(fit.dof_) if family == "t" else [],
    ]  # fmt: skip
    step = 1e-5
    gradient = [
        (log_likelihood(theta + step * e) - log_likelihood(theta - step * e)) / (2 * step)
        for e in np.eye(len(theta))
    ]
    # central differences: truncation O(step^2), rounding O(eps |ll| / step) ~ 1e-10; EM
    # stopped at tol=1e-13, within ~sqrt(1e-13) of the optimum in the flattest direction
    assert np.abs(gradient).max() < 1e-5, gradient


# ---------------------------------------------------------------- known truth
def _squared_error(fit):
    order = np.argsort(fit.means_[:, 0])  # the truth's order
    return (
        np.sum((fit.weights_[order] - TRUE_WEIGHTS) ** 2)
        + np.sum((fit.means_[order] - TRUE_MEANS) ** 2)
        + np.sum((fit.covariances_[order] - TRUE_COVARIANCES) ** 2)
    )


def test_marginal_fit_recovers_the_truth_better_than_dropping_incomplete_rows():
    """30 % of entries missing completely at random: dropping incomplete rows keeps
    0.7^3 = 34 % of the rows, the marginal fit uses every observed value. Metric: the
    squared error of weights, means and covariances summed; over 10 data sets its mean
    paired reduction must exceed 3 of its standard errors (so it is not one lucky draw),
    and the marginal fit must not be worse than the complete-row fit in the mean."""
    gains, marginal_errors, dropped_errors = [], [], []
    for seed in range(10):
        _, holes = _mixture(1000, seed=seed)
        marginal = _squared_error(_fit(holes, n_init=2))
        dropped = _squared_error(_fit(holes[~np.isnan(holes).any(axis=1)], n_init=2))
        gains.append(dropped - marginal)
        marginal_errors.append(marginal)
        dropped_errors.append(dropped)
    gains = np.array(gains)
    standard_error = gains.std(ddof=1) / np.sqrt(len(gains))
    assert gains.mean() > 3 * standard_error, (gains.mean(), standard_error)
    assert np.mean(marginal_errors) < 0.75 * np.mean(dropped_errors)


# ---------------------------------------------------------------- prediction with NaN
@pytest.mark.parametrize("family", ["gaussian", "t"])
def test_score_samples_and_predict_proba_with_nan_equal_a_direct_computation(family):
    _, holes = _mixture(800, seed=7)
    fit = _fit(holes, family=family, n_init=1)
    full = fit.result_._model.to_full(fit.covariances_, 2, 3)
    test = _mixture(50, seed=8)[1]
    test[0] = np.nan  # nothing observed
    test[1] = [0.5, np.nan, np.nan]
    weighted = _scipy_component_log_densities(
        test, fit.means_, full, fit.dof_ if family == "t" else None
    ) + np.log(fit.weights_)
    log_density = special.logsumexp(weighted, axis=1)
    np.testing.assert_allclose(fit.score_samples(test), log_density, rtol=1e-12, atol=1e-12)
    resp = np.exp(weighted - log_density[:, None])
    np.testing.assert_allclose(fit.predict_proba(test), resp, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(fit.predict(test), weighted.argmax(axis=1))
    np.testing.assert_allclose(fit.score(test), log_density.mean(), rtol=1e-12)
    # a row with nothing observed: density 1, the weights as its responsibilities
    # (log of the weights' sum: 0 to its rounding)
    assert abs(fit.score_samples(test)[0]) <= 4 * np.finfo(float).eps
    np.testing.assert_allclose(fit.predict_proba(test)[0], fit.weights_, rtol=1e-12)
    # BIC: the usual parameter count, the observed-data log-likelihood, N rows
    bic = -2 * log_density.sum() + fit.result_.n_parameters * np.log(len(test))
    np.testing.assert_allclose(fit.bic(test), bic, rtol=1e-12)


def test_lower_bound_is_the_training_score():
    _, holes = _mixture(500, seed=9)
    fit = _fit(holes, n_init=1)
    np.testing.assert_allclose(fit.score(holes), fit.lower_bound_, rtol=1e-12)


def test_a_fit_without_nan_still_scores_rows_with_nan():
    X, holes = _mixture(500, seed=10)
    fit = _fit(X, n_init=1)
    values = fit.score_samples(holes[:20])
    assert np.isfinite(values).all()
    complete = ~np.isnan(holes[:20]).any(axis=1)
    np.testing.assert_allclose(values[complete], fit.score_samples(holes[:20][complete]))


def test_the_option_survives_save_and_load(tmp_path):
    _, holes = _mixture(500, seed=11)
    fit = _fit(holes, n_init=1)
    fit.result_.save(tmp_path / "model.nc")
    loaded = load(tmp_path / "model.nc")
    assert loaded.missing == "marginal"
    np.testing.assert_allclose(
        loaded.log_prob(holes[:30]).values, fit.score_samples(holes[:30]), rtol=1e-12
    )
    dataset = fit.result_.to_dataset()
    dataset.attrs["missing"] = "impute"
    with pytest.raises(ValueError, match=r"attribute 'missing' is 'impute'"):
        MixtureResult.from_dataset(dataset)


def test_masked_values_are_missing_values():
    _, holes = _mixture(300, seed=15)
    masked = np.ma.masked_array(np.nan_to_num(holes, nan=1e3), mask=np.isnan(holes))
    fit, reference = _fit(masked, n_init=1), _fit(holes, n_init=1)
    np.testing.assert_allclose(fit.means_, reference.means_, rtol=1e-12)
    np.testing.assert_allclose(fit.score_samples(masked), reference.score_samples(holes))
    with pytest.raises(ValueError, match=r"masked value\(s\).*missing='marginal'"):
        GaussianMixture(2).fit(masked)


def test_float32_data_with_nan_fit_in_float32_out():
    _, holes = _mixture(500, seed=12)
    fit = _fit(holes.astype(np.float32), n_init=1)
    assert fit.means_.dtype == np.float32
    assert fit.score_samples(holes[:5].astype(np.float32)).dtype == np.float32
    reference = _fit(holes, n_init=1)
    np.testing.assert_allclose(fit.lower_bound_, reference.lower_bound_, rtol=1e-6)


@pytest.mark.parametrize("family", ["gaussian", "t"])
def test_warm_starts_on_data_with_nan_continue_the_fit(family):
    """Thirty warm fits of one iteration each are one fit of thirty iterations (a t fit
    goes on from its degrees of freedom, which a warm start used to lose)."""
    _, holes = _mixture(300, seed=17, dof=5.0 if family == "t" else None)
    options = {"family": family, "n_init": 1, "tol": 0.0}
    whole = _fit(holes, **options, max_iter=30)
    warm = GaussianMixture(2, random_state=0, missing="marginal", warm_start=True,
                           max_iter=1, **options)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(30):
            warm.fit(holes)
    # the same iterates: rounding of the parameters' round trip through the attributes
    np.testing.assert_allclose(warm.lower_bound_, whole.lower_bound_, rtol=1e-12)
    np.testing.assert_allclose(warm.means_, whole.means_, rtol=1e-9, atol=1e-12)
    if family == "t":
        np.testing.assert_allclose(warm.dof_, whole.dof_, rtol=1e-9)


# ---------------------------------------------------------------- refusals
def test_default_still_refuses_nan_and_names_the_option():
    _, holes = _mixture(100, seed=13)
    with pytest.raises(ValueError, match=r"contains NaN .*missing='marginal'"):
        GaussianMixture(2).fit(holes)
    X = np.nan_to_num(holes)
    fit = GaussianMixture(2, n_init=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"contains NaN .*missing='marginal'"):
        fit.score_samples(holes)


def test_what_the_marginal_fit_refuses():
    X, holes = _mixture(200, seed=14)
    with pytest.raises(ValueError, match=r"'missing' parameter of GaussianMixture"):
        GaussianMixture(2, missing="impute").fit(X)
    infinite = holes.copy()
    infinite[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"infinity \(1 values\).*replace it by NaN"):
        _fit(infinite)
    never = holes.copy()
    never[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"Feature\(s\) \['x1'\] are missing \(NaN\) in every"):
        _fit(never)
    with pytest.raises(ValueError, match=r"engine='compiled' cannot fit missing values"):
        _fit(holes, engine="compiled")
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match=r"in-memory data only, not a dask array"):
        _fit(da.from_array(holes, chunks=(50, 3)))


def test_a_noise_component_with_missing_values_is_refused_with_the_way_out():
    """The missing-value engine has no noise term: refused before any work, not a wrong fit."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    X[0, 1] = np.nan
    with pytest.raises(ValueError, match=r"noise component is not available with missing"):
        GaussianMixture(2, missing="marginal", noise=True).fit(X)
