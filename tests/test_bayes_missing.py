"""The Bayesian model with missing values (``BayesianGaussianMixture(missing="marginal")``).

Checked against the complete-data model (nothing missing: the same log-density and
gradient at any point, the same fit), against SciPy's multivariate normal and t
densities of each row's observed coordinates (the model's likelihood, the stored
pointwise log-likelihood, ``score_samples`` and ``predict_proba``), against simulations
whose truth is known (missing completely at random: posterior means within their
posterior uncertainty of the truth, and closer to it than the fit of the complete rows
only; credible intervals that widen as more values go missing), and for the errors of
what it does not fit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import special, stats

from bayesgmm import BayesianGaussianMixture, MixtureResult, load, save
from bayesgmm.bayes import build_model
from bayesgmm.bayes.marginal import check_missing_method, observed_patterns

FAST = {"mode": "FAST_COMPILE"}  # PyMC's functions without C compilation
COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
TRUE_WEIGHTS = np.array([0.4, 0.6])
TRUE_MEANS = np.array([[-2.5, 0.0, 1.0], [2.0, 1.5, -1.0]])
TRUE_COVARIANCES = np.array([
    [[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]],
    [[0.8, -0.3, 0.0], [-0.3, 0.8, 0.2], [0.0, 0.2, 0.6]],
])  # fmt: skip


def _true_covariances(covariance_type="full"):
    """The truth's covariances in full form: as they are, or their diagonals ("diag")."""
    if covariance_type == "diag":
        return np.array([np.diag(np.diag(c)) for c in TRUE_COVARIANCES])
    return TRUE_COVARIANCES


def _mixture(n_samples, rng, covariance_type="full"):
    labels = rng.choice(2, size=n_samples, p=TRUE_WEIGHTS)
    chol = np.linalg.cholesky(_true_covariances(covariance_type))[labels]
    noise = np.einsum("nde,ne->nd", chol, rng.standard_normal((n_samples, 3)))
    return TRUE_MEANS[labels] + noise


def _with_missing(X, fraction, rng):
    """X with each entry missing completely at random with probability ``fraction``."""
    X = X.copy()
    X[rng.random(X.shape) < fraction] = np.nan
    return X


def _random_point(model, rng):
    point = model.initial_point()
    return {name: value + 0.3 * rng.standard_normal(value.shape) for name, value in point.items()}


def _full(covariance_type, covariances, k, d):
    if covariance_type == "full":
        return covariances
    if covariance_type == "tied":
        return np.broadcast_to(covariances, (k, d, d))
    if covariance_type == "diag":
        return np.array([np.diag(c) for c in covariances])
    return np.array([c * np.eye(d) for c in covariances])


def _scipy_log_likelihood(X, weights, means, covariances, dof=None):
    """Each row's log sum_k w_k N(x_o | mu_o, Sigma_oo) (or t), by SciPy, row by row."""
    out = np.zeros(len(X))
    for n, row in enumerate(X):
        o = ~np.isnan(row)
        if not o.any():
            continue
        parts = []
        for k in range(len(weights)):
            cov = covariances[k][np.ix_(o, o)]
            if dof is None:
                density = stats.multivariate_normal(means[k][o], cov).logpdf(row[o])
            else:
                density = stats.multivariate_t(means[k][o], cov, df=dof[k]).logpdf(row[o])
            parts.append(np.log(weights[k]) + density)
        out[n] = special.logsumexp(parts)
    return out


@pytest.mark.parametrize("family", ["gaussian", "t"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_nothing_missing_gives_the_complete_data_model(covariance_type, family):
    """On data without NaN the missing-values likelihood (one pattern, every coordinate
    observed) is the complete-data model's: the same log posterior and gradient at a
    random point, to float precision. A wrong Jacobian, a pattern's rows dropped or a
    factor rebuilt differently would each show."""
    rng = np.random.default_rng(0)
    X = _mixture(50, rng)[:, :2] * np.array([2.0, 0.5]) + np.array([1.0, -1.0])
    complete = build_model(X, 2, covariance_type, family=family)
    marginal = build_model(X, 2, covariance_type, family=family, missing="marginal")
    point = _random_point(complete, rng)
    expected = complete.compile_logp(**FAST)(point)
    np.testing.assert_allclose(marginal.compile_logp(**FAST)(point), expected, rtol=1e-13)
    gradient = complete.compile_dlogp(**FAST)(point)
    np.testing.assert_allclose(
        marginal.compile_dlogp(**FAST)(point), gradient, rtol=1e-11, atol=1e-11 * abs(expected)
    )


@pytest.mark.parametrize("method", ["map", "advi"])
def test_nothing_missing_gives_the_complete_data_fit(method):
    """missing="marginal" on data without NaN is the default fit, draw for draw."""
    X = _mixture(120, np.random.default_rng(1))
    options = {"covariance_type": "diag", "method": method, "draws": 50, "random_state": 3}
    default = BayesianGaussianMixture(2, **options).fit(X)
    marginal = BayesianGaussianMixture(2, missing="marginal", **options).fit(X)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(
            marginal.result_.posterior.posterior[name], default.result_.posterior.posterior[name]
        )
    assert marginal.result_.missing == "marginal"


@pytest.mark.parametrize(
    ("covariance_type", "family"),
    [(ct, "gaussian") for ct in COVARIANCE_TYPES]
    + [(ct, "t") for ct in COVARIANCE_TYPES[1:]]
    + [pytest.param("full", "t", marks=pytest.mark.slow)],  # 30 s of PyTensor compiling
)
def test_likelihood_is_scipys_over_each_rows_observed_coordinates(covariance_type, family):
    """At a random point the observed variable's log-density is the sum over rows of
    log sum_k w_k N(x_o | mu_k,o, Sigma_k,oo) (multivariate t for family="t") by SciPy,
    rows with nothing observed adding 0: a covariance restricted to the wrong
    coordinates, a Cholesky factor of the whole matrix sliced instead of refactorised,
    or a Jacobian over every feature would each fail it."""
    rng = np.random.default_rng(2)
    X = _with_missing(_mixture(40, rng) * np.array([1.0, 2.0, 3.0]), 0.3, rng)
    X[0] = np.nan
    model = build_model(X, 2, covariance_type, family=family, missing="marginal")
    assert len(observed_patterns(X)) > 3
    point = _random_point(model, rng)
    loglik = model.compile_logp(vars=model.observed_RVs, **FAST)(point)
    names = ["weights", "means", "covariances"] + (["dof"] if family == "t" else [])
    outputs = model.replace_rvs_by_values([model[name] for name in names])
    values = model.compile_fn(outputs, point_fn=True, **FAST)(point)
    covariances = _full(covariance_type, values[2], 2, 3)
    expected = _scipy_log_likelihood(X, values[0], values[1], covariances, *values[3:]).sum()
    np.testing.assert_allclose(loglik, expected, rtol=1e-11)
    assert np.isfinite(model.compile_dlogp(**FAST)(point)).all()


def test_minibatches_reach_the_optimum_of_all_rows_with_missing_values():
    """ADVI's minibatches are rows with their NaN, each row's pattern recognised in the
    graph: the posterior means move by a fraction of a posterior sd from those of all
    rows, as on complete data (test_bayes_variational), and the sds hardly change
    (2000 draws: Monte Carlo errors of 0.02 sd and 2 %)."""
    rng = np.random.default_rng(6)
    X = _with_missing(_mixture(400, rng, "diag"), 0.3, rng)
    means, sds = {}, {}
    for batch_size in (None, 100):
        fit = BayesianGaussianMixture(
            2, covariance_type="diag", method="advi", batch_size=batch_size, missing="marginal",
            draws=500, random_state=0,
        ).fit(X)  # fmt: skip
        assert fit.converged_
        draws = fit.result_.posterior.posterior["means"]
        means[batch_size], sds[batch_size] = fit.means_, draws.std(("chain", "draw")).values
    assert (np.abs(means[100] - means[None]) / sds[None]).max() < 0.25
    assert np.abs(np.log(sds[100] / sds[None])).max() < 0.15


def test_integer_weights_count_rows_with_missing_values():
    """sample_weight multiplies each row's observed-coordinates log-likelihood: integer
    weights give the log posterior of the data with those rows repeated."""
    from bayesgmm.bayes import Standardisation

    rng = np.random.default_rng(3)
    X = _with_missing(_mixture(30, rng), 0.3, rng)
    weights = rng.integers(0, 3, size=len(X)).astype(float)
    standard = Standardisation(np.zeros(3), np.full(3, 2.0))
    options = {"standardisation": standard, "missing": "marginal"}
    weighted = build_model(X, 2, "diag", sample_weight=weights, **options)
    repeated = build_model(np.repeat(X, weights.astype(int), axis=0), 2, "diag", **options)
    point = _random_point(weighted, rng)
    np.testing.assert_allclose(
        weighted.compile_logp(**FAST)(point), repeated.compile_logp(**FAST)(point), rtol=1e-12
    )


def _posterior_result(rng, n_draws=3, family="gaussian"):
    """A result with a small hand-made posterior (full covariances near the truth)."""
    import arviz as az

    shape = (1, n_draws)
    weights = rng.dirichlet(50 * TRUE_WEIGHTS, size=shape)
    means = TRUE_MEANS + 0.1 * rng.standard_normal(shape + TRUE_MEANS.shape)
    covariances = TRUE_COVARIANCES * rng.uniform(0.8, 1.2, shape + (2, 1, 1))
    posterior = {"weights": weights, "means": means, "covariances": covariances}
    dof = None
    if family == "t":
        posterior["dof"] = rng.uniform(3.0, 10.0, shape + (2,))
        dof = posterior["dof"].mean(axis=(0, 1))
    dims = {
        "weights": ["component"],
        "means": ["component", "feature"],
        "covariances": ["component", "feature", "feature_bis"],
        "dof": ["component"],
    }
    idata = az.from_dict(posterior=posterior, dims=dims)
    point = {name: posterior[name].mean(axis=(0, 1)) for name in ("weights", "means")}
    return MixtureResult(
        **point,
        covariances=covariances.mean(axis=(0, 1)),
        covariance_type="full",
        posterior=idata,
        missing="marginal",
        family=family,
        dof=dof,
    ), posterior


@pytest.mark.parametrize("family", ["gaussian", "t"])
def test_result_evaluates_rows_with_nan_under_every_draw(family):
    """A Bayesian result with missing="marginal": the pointwise log-likelihood is SciPy's
    over each row's observed coordinates under every draw; log_prob is its log mean exp
    over the draws; responsibilities average each draw's, from the same densities."""
    rng = np.random.default_rng(4)
    result, draws = _posterior_result(rng, family=family)
    X = _with_missing(_mixture(30, rng), 0.4, rng)
    X[1] = np.nan
    per_draw = np.array([
        _scipy_log_likelihood(
            X, draws["weights"][0, s], draws["means"][0, s], draws["covariances"][0, s],
            *([draws["dof"][0, s]] if family == "t" else []),
        )
        for s in range(3)
    ])  # fmt: skip
    np.testing.assert_allclose(  # rows with nothing observed: log sum_k w_k = 0 to rounding
        result.log_likelihood_draws(X).values[0], per_draw, rtol=1e-10, atol=1e-14
    )
    expected = special.logsumexp(per_draw, axis=0) - np.log(3)
    np.testing.assert_allclose(result.log_prob(X).values, expected, rtol=1e-10, atol=1e-12)
    resp = result.responsibilities(X, ci_prob=None)["mean"].values
    assert np.allclose(resp.sum(axis=1), 1.0)
    np.testing.assert_allclose(resp[1], draws["weights"][0].mean(axis=0), rtol=1e-12)
    complete = ~np.isnan(X).any(axis=1)
    full_result = MixtureResult(
        weights=result.weights.values, means=result.means.values,
        covariances=result.covariances.values, covariance_type="full",
        posterior=result.posterior, family=family,
        dof=None if result.dof is None else result.dof.values,
    )  # fmt: skip
    np.testing.assert_allclose(
        resp[complete], full_result.responsibilities(X[complete], ci_prob=None)["mean"].values
    )


@pytest.fixture(scope="module")
def missing_fit():
    """An ADVI fit of 30 % missing data (diagonal covariances), and its data."""
    rng = np.random.default_rng(5)
    X = _with_missing(_mixture(300, rng, "diag"), 0.3, rng)
    X[:3] = np.nan
    fit = BayesianGaussianMixture(
        2, covariance_type="diag", method="advi", missing="marginal", draws=200, chains=2,
        random_state=0,
    ).fit(X)  # fmt: skip
    return fit, X


def test_fit_stores_what_the_observed_coordinates_give(missing_fit):
    """The stored log-likelihood group is each row's over its observed coordinates under
    every draw (SciPy, at a few draws); the posterior predictive keeps the data's
    missingness pattern; scikit-learn's methods take rows with NaN."""
    fit, X = missing_fit
    idata = fit.result_.posterior
    stored = idata.log_likelihood["x"].values.reshape(-1, len(X))
    post = idata.posterior
    for s in (0, 57, 399):
        c, d = divmod(s, post.sizes["draw"])
        values = [post[name].values[c, d] for name in ("weights", "means", "covariances")]
        values[2] = _full("diag", values[2], 2, 3)
        expected = _scipy_log_likelihood(X, *values)  # rows with nothing observed: 0
        np.testing.assert_allclose(stored[s], expected, rtol=1e-10, atol=1e-14)
    replicate = idata.posterior_predictive["x"].values
    assert (np.isnan(replicate) == np.isnan(X)[None, None]).all()
    assert np.array_equal(np.isnan(idata.observed_data["x"].values), np.isnan(X))
    np.testing.assert_allclose(fit.predict_proba(X[:3]), np.tile(fit.weights_, (3, 1)))
    assert np.all(fit.score_samples(X[:3]) == 0.0)
    assert np.isfinite(fit.score_samples(X)).all()
    assert set(fit.predict(X)) == {0, 1}
    assert np.isfinite(fit.loo(mixture="auto").table.loc["psis", "elpd"])


def test_missing_fit_saves_and_loads(missing_fit, tmp_path):
    """A result fitted with missing values reads back and evaluates rows with NaN as before."""
    fit, X = missing_fit
    save(fit.result_, tmp_path / "fit.nc")
    loaded = load(tmp_path / "fit.nc")
    assert loaded.missing == "marginal"
    np.testing.assert_allclose(loaded.log_prob(X).values, fit.result_.log_prob(X).values)


def test_model_is_rebuilt_with_the_missing_values_likelihood(missing_fit):
    """``model_`` (rebuilt from the stored data) is the missing-values model: its data
    keep every NaN and its log posterior is finite (the complete-data model's pm.Data
    would refuse the NaN, and its likelihood would be NaN)."""
    fit, X = missing_fit
    model = fit.model_
    assert np.isnan(model["data"].get_value()).sum() == np.isnan(X).sum()
    assert np.isfinite(model.compile_logp(**FAST)(model.initial_point()))


def _truth_order(fit):
    """The fit's components in the truth's order (the EM start numbers them its own way)."""
    orders = [np.arange(2), np.arange(2)[::-1]]
    return min(orders, key=lambda order: np.abs(fit.means_[order] - TRUE_MEANS).sum())


def _posterior_means_error(fit):
    return np.abs(fit.means_[_truth_order(fit)] - TRUE_MEANS)


def _means_sd(fit):
    sd = fit.result_.posterior.posterior["means"].std(("chain", "draw")).values
    return sd[_truth_order(fit)]


@pytest.mark.parametrize("covariance_type", ["diag", pytest.param("full", marks=pytest.mark.slow)])
def test_recovers_the_truth_better_than_the_complete_rows(covariance_type):
    """30 % of entries missing completely at random (about a third of the rows
    complete): the posterior means lie within 4 posterior sd of the truth, and the
    means and covariances nearer it than a fit of the complete rows only, which throws
    two thirds of the rows away."""
    rng = np.random.default_rng(7)
    truth = _true_covariances(covariance_type)
    X = _with_missing(_mixture(600, rng, covariance_type), 0.3, rng)
    options = {"method": "fullrank_advi", "draws": 500, "chains": 2, "random_state": 1}
    options["covariance_type"] = covariance_type
    marginal = BayesianGaussianMixture(2, missing="marginal", **options).fit(X)
    complete = BayesianGaussianMixture(2, **options).fit(X[~np.isnan(X).any(axis=1)])
    assert (_posterior_means_error(marginal) < 4 * _means_sd(marginal)).all()
    assert np.abs(marginal.weights_[_truth_order(marginal)] - TRUE_WEIGHTS).max() < 0.05
    assert _posterior_means_error(marginal).sum() < _posterior_means_error(complete).sum()

    def covariance_error(fit):
        return np.abs(fit.result_.covariances.values[_truth_order(fit)] - truth).sum()

    assert covariance_error(marginal) < covariance_error(complete)


@pytest.mark.slow
@pytest.mark.parametrize("nuts_sampler", ["pymc", "nutpie"])
def test_nuts_recovers_the_truth(nuts_sampler):
    """NUTS on the PyMC model (both samplers that read it): every mean within 4
    posterior sd of the truth, and no divergence."""
    rng = np.random.default_rng(8)
    X = _with_missing(_mixture(300, rng), 0.3, rng)
    fit = BayesianGaussianMixture(
        2, missing="marginal", nuts_sampler=nuts_sampler, draws=300, tune=300, chains=2,
        random_state=2,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short chains: ESS below the default threshold
        fit.fit(X)
    assert (_posterior_means_error(fit) < 4 * _means_sd(fit)).all()
    assert int(fit.result_.posterior.sample_stats["diverging"].sum()) == 0


def test_credible_intervals_widen_as_more_values_go_missing():
    """Nested masks (each missing set contains the previous one) take information away,
    so the posterior of the means widens: its average 94 % interval width grows from
    0 % to 30 % to 60 % missing."""
    rng = np.random.default_rng(9)
    X = _mixture(300, rng)
    uniform = rng.random(X.shape)
    widths = []
    for fraction in (0.0, 0.3, 0.6):
        data = np.where(uniform < fraction, np.nan, X)
        fit = BayesianGaussianMixture(
            2, covariance_type="diag", method="fullrank_advi", missing="marginal",
            draws=500, chains=2, random_state=0,
        ).fit(data)  # fmt: skip
        means = fit.result_.posterior.posterior["means"]
        bounds = means.quantile([0.03, 0.97], dim=("chain", "draw")).values
        widths.append(float((bounds[1] - bounds[0]).mean()))
    assert widths[0] < widths[1] < widths[2]


def test_a_nan_without_the_option_is_refused_naming_it():
    X = _mixture(30, np.random.default_rng(0))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"BayesianGaussianMixture\(missing='marginal'\)"):
        BayesianGaussianMixture(2, method="map").fit(X)


@pytest.mark.parametrize(
    ("settings", "error", "match"),
    [
        ({"missing": "impute"}, ValueError, r"'missing' parameter .* Got 'impute'"),
        ({"em_kwargs": {"missing": "error"}}, ValueError, r"em_kwargs sets missing='error'"),
    ],
)
def test_bad_missing_settings_are_refused(settings, error, match):
    X = _with_missing(_mixture(30, np.random.default_rng(0)), 0.2, np.random.default_rng(1))
    options = {"method": "map", "missing": "marginal", **settings}
    with pytest.raises(error, match=match):
        BayesianGaussianMixture(2, **options).fit(X)


def test_unsupported_combinations_are_refused_naming_what_works():
    X = _with_missing(_mixture(40, np.random.default_rng(0)), 0.2, np.random.default_rng(1))
    with pytest.raises(ValueError, match=r"nuts_sampler='nutpie' or 'pymc', method='advi'"):
        check_missing_method(
            "BayesianGaussianMixture", {"method": "nuts", "nuts_sampler": "numpyro"}
        )
    check_missing_method("B", {"method": "nuts", "nuts_sampler": "pymc"})  # allowed
    import dask.array as da

    lazy = da.from_array(X, chunks=(20, 3))
    with pytest.raises(ValueError, match=r"in-memory data only, not a dask array"):
        BayesianGaussianMixture(2, method="advi", missing="marginal").fit(lazy)
    never = X.copy()
    never[:, 2] = np.nan
    with pytest.raises(ValueError, match=r"Feature\(s\) \['x2'\] are missing \(NaN\) in every"):
        BayesianGaussianMixture(2, method="map", missing="marginal").fit(never)
    infinite = X.copy()
    infinite[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"contains infinity"):
        BayesianGaussianMixture(2, method="map", missing="marginal").fit(infinite)


def test_mixture_loo_is_refused_for_missing_values(missing_fit):
    fit, _ = missing_fit
    with pytest.raises(ValueError, match=r"PSIS-LOO over the observed coordinates only"):
        fit.loo(mixture=True)
