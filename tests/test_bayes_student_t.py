"""The Bayesian Student-t mixture: its likelihood against SciPy, its dof prior as
documented, relabelling of dof, predictive draws, and fits that recover simulated truth
(and are saved, loaded and fed to the risk functions)."""

import arviz as az
import numpy as np
import pytest
from scipy import optimize, special, stats

from bayesgmm import BayesianGaussianMixture, load, save
from bayesgmm.bayes import Priors, build_model
from bayesgmm.bayes.predictive import posterior_predictive
from bayesgmm.bayes.relabel import relabel
from bayesgmm.result import MixtureResult
from bayesgmm.risk import value_at_risk

FAST = {"mode": "FAST_COMPILE"}  # PyMC's functions without C compilation
TRUE_MEANS = np.array([[-3.0, 0.0], [3.0, 1.0]])
TRUE_SCALES = np.array([[[0.25, 0.0], [0.0, 0.25]], [[1.0, 0.3], [0.3, 0.5]]])
TRUE_DOF = np.array([3.0, 8.0])
TRUE_WEIGHTS = np.array([0.4, 0.6])


def _t_rows(n, rng):
    """Rows of the true mixture: a normal of the component's scale over sqrt(chi2/nu)."""
    labels = rng.choice(2, size=n, p=TRUE_WEIGHTS)
    chol = np.linalg.cholesky(TRUE_SCALES)[labels]
    normal = np.einsum("nde,ne->nd", chol, rng.standard_normal((n, 2)))
    nu = TRUE_DOF[labels]
    return TRUE_MEANS[labels] + normal * np.sqrt(nu / rng.chisquare(nu))[:, None]


def _full_scales(covariance_type, covariances, k):
    if covariance_type == "full":
        return covariances
    if covariance_type == "tied":
        return np.broadcast_to(covariances, (k, 2, 2))
    if covariance_type == "diag":
        return np.array([np.diag(c) for c in covariances])
    return np.array([c * np.eye(2) for c in covariances])


def _random_point(model, rng):
    """The model's initial point with every free coordinate moved at random."""
    point = model.initial_point()
    return {name: value + 0.3 * rng.standard_normal(value.shape) for name, value in point.items()}


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_t_likelihood_is_scipys_multivariate_t_mixture(covariance_type):
    """At a random point, the observed variable's log-density is the sum over rows of
    log sum_k w_k t_nu_k(x | mu_k, Sigma_k) by scipy.stats.multivariate_t, in the data's
    units: a transposed precision factor, a missing log-determinant, a wrong t constant
    or a dropped standardisation Jacobian would each fail it."""
    rng = np.random.default_rng(1)
    X = _t_rows(60, rng) * np.array([2.0, 0.5]) + np.array([1.0, -1.0])
    model = build_model(X, 2, covariance_type, family="t")
    assert "dof" in [rv.name for rv in model.free_RVs]
    point = _random_point(model, rng)
    loglik = model.compile_logp(vars=model.observed_RVs, **FAST)(point)
    names = ["weights", "means", "covariances", "dof"]
    outputs = model.replace_rvs_by_values([model[name] for name in names])
    w, mu, cov, nu = model.compile_fn(outputs, point_fn=True, **FAST)(point)
    scales = _full_scales(covariance_type, cov, 2)
    per_component = [
        np.log(w[k]) + stats.multivariate_t(mu[k], scales[k], df=nu[k]).logpdf(X) for k in range(2)
    ]
    expected = special.logsumexp(per_component, axis=0).sum()
    np.testing.assert_allclose(loglik, expected, rtol=1e-10)


def test_dof_prior_is_the_documented_gamma():
    """The dof prior is Gamma(dof_alpha, dof_beta) (rate), Gamma(2, 0.1) by default:
    its log-density (without the log transform's Jacobian) is SciPy's."""
    X = _t_rows(30, np.random.default_rng(0))
    for priors, (shape, rate) in [
        (Priors(), (2.0, 0.1)),
        (Priors(dof_alpha=3, dof_beta=0.5), (3, 0.5)),
    ]:
        model = build_model(X, 2, "diag", priors, family="t")
        logp = model.compile_logp(vars=[model["dof"]], jacobian=False, **FAST)
        for nu in ([1.5, 4.0], [30.0, 0.2]):
            point = {**model.initial_point(), "dof_log__": np.log(nu)}
            expected = stats.gamma(shape, scale=1 / rate).logpdf(nu).sum()
            np.testing.assert_allclose(logp(point), expected, rtol=1e-12)


def test_fixed_dof_is_data_and_gives_the_same_likelihood():
    """dof=5 makes no free variable, and the likelihood is the estimated model's at 5."""
    rng = np.random.default_rng(2)
    X = _t_rows(40, rng)
    fixed = build_model(X, 2, "full", family="t", dof=5.0)
    free = build_model(X, 2, "full", family="t")
    assert "dof" not in [rv.name for rv in fixed.free_RVs]
    np.testing.assert_array_equal(fixed["fixed_dof"].get_value(), [5.0, 5.0])
    point = _random_point(fixed, rng)
    value = fixed.compile_logp(vars=fixed.observed_RVs, **FAST)(point)
    at_five = {**point, "dof_log__": np.log([5.0, 5.0])}
    expected = free.compile_logp(vars=free.observed_RVs, **FAST)(at_five)
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="family='t'"):
        build_model(X, 2, "full", dof=5.0)


def test_relabelling_permutes_dof_with_the_components():
    """Draws whose components were swapped get their dof swapped back with the means."""
    rng = np.random.default_rng(3)
    shape = (2, 40)
    swap = rng.random(shape) < 0.5
    swap[0, 0] = False
    perm = np.where(swap[..., None], [1, 0], [0, 1])
    means = TRUE_MEANS + 0.05 * rng.standard_normal(shape + (2, 2))
    dof = TRUE_DOF + 0.1 * rng.standard_normal(shape + (2,))
    weights = np.broadcast_to(TRUE_WEIGHTS, shape + (2,))
    covariances = np.broadcast_to(TRUE_SCALES, shape + (2, 2, 2))
    idata = az.from_dict(
        posterior={
            "weights": np.take_along_axis(weights, perm, 2),
            "means": np.take_along_axis(means, perm[..., None], 2),
            "covariances": np.take_along_axis(covariances, perm[..., None, None], 2),
            "dof": np.take_along_axis(dof, perm, 2),
        },
        dims={
            "weights": ["component"],
            "means": ["component", "feature"],
            "covariances": ["component", "feature", "feature_bis"],
            "dof": ["component"],
        },
        coords={"component": [0, 1], "feature": ["a", "b"], "feature_bis": ["a", "b"]},
    )
    fixed, _ = relabel(idata, "full", (TRUE_MEANS, TRUE_SCALES))
    np.testing.assert_array_equal(fixed.posterior["dof"].values, dof)
    np.testing.assert_array_equal(fixed.posterior["means"].values, means)


def test_posterior_predictive_of_t_components_is_t():
    """One t component's predictive rows follow SciPy's t (Kolmogorov-Smirnov), and
    not the normal of the same scale."""
    result = MixtureResult(
        weights=np.ones(1),
        means=np.array([[1.0]]),
        covariances=np.array([[4.0]]),
        covariance_type="diag",
        family="t",
        dof=np.array([3.0]),
    )
    rows = posterior_predictive(result, 20000, np.random.default_rng(4))["x"].values.ravel()
    assert stats.kstest(rows, stats.t(3, loc=1.0, scale=2.0).cdf).pvalue > 1e-3
    assert stats.kstest(rows, stats.norm(loc=1.0, scale=2.0).cdf).pvalue < 1e-6


@pytest.fixture(scope="module")
def advi_fit():
    X = _t_rows(3000, np.random.default_rng(5))
    fit = BayesianGaussianMixture(2, family="t", method="advi", random_state=0).fit(X)
    return X, fit


def _within(draws, truth, n_sd=4.0):
    """Truth within n_sd posterior sds of the posterior mean, componentwise."""
    values = draws.reshape(-1, *np.shape(truth))
    mean, sd = values.mean(axis=0), values.std(axis=0)
    return np.abs(mean - truth) <= n_sd * sd + 1e-12


def test_t_fit_recovers_means_scales_and_dof(advi_fit):
    """On 3000 simulated rows (dof 3 and 8) the posterior holds the true means, scale
    matrices, weights and dof within 4 posterior sds (ADVI's are a little narrow); the
    EM start was a t fit, and the draws carry dof (chain, draw, component)."""
    X, fit = advi_fit
    assert fit.converged_ and fit.em_.family == "t"
    draws = fit.result_.draws()
    assert draws["dof"].dims == ("chain", "draw", "component")
    assert fit.result_.family == "t" and fit.dof_.shape == (2,)
    np.testing.assert_allclose(fit.dof_, draws["dof"].mean(("chain", "draw")).values)
    draws = draws.isel(component=np.argsort(fit.means_[:, 0]))  # the truth's numbering
    for name, truth in [
        ("means", TRUE_MEANS),
        ("covariances", TRUE_SCALES),
        ("weights", TRUE_WEIGHTS),
        ("dof", TRUE_DOF),
    ]:
        assert _within(draws[name].values, truth).all(), name
    assert draws["dof"].std(("chain", "draw")).min() > 0.05  # estimated, not fixed


def test_t_fit_saved_and_loaded(advi_fit, tmp_path):
    """A Bayesian t fit's result survives save/load with its family and every dof draw."""
    _, fit = advi_fit
    save(fit.result_, tmp_path / "t.nc")
    back = load(tmp_path / "t.nc")
    assert back.family == "t"
    np.testing.assert_array_equal(back.draws()["dof"].values, fit.result_.draws()["dof"].values)
    X = _t_rows(50, np.random.default_rng(6))
    np.testing.assert_allclose(back.log_likelihood(X), fit.result_.log_likelihood(X), rtol=1e-12)


def _t_mixture_quantile(alpha, weights, locations, scales, dof):
    def cdf(x):
        return np.sum(weights * stats.t.cdf((x - locations) / scales, dof)) - alpha

    return optimize.brentq(cdf, -1e3, 1e3, xtol=1e-12)


def test_value_at_risk_of_a_t_fit_uses_every_draws_dof(advi_fit):
    """The VaR of feature 0 per draw is minus the 1 % quantile of that draw's mixture of
    1-D t marginals (SciPy's t cdf, root found by brentq)."""
    _, fit = advi_fit
    risk = value_at_risk(fit, 0.01, portfolio=[1.0, 0.0])
    draws = fit.result_.draws().stack(sample=("chain", "draw")).transpose("sample", ...)
    for s in (0, 17, 123):
        one = draws.isel(sample=s)
        expected = -_t_mixture_quantile(
            0.01,
            one["weights"].values,
            one["means"].values[:, 0],
            np.sqrt(one["covariances"].values[:, 0, 0]),
            one["dof"].values,
        )
        np.testing.assert_allclose(risk.draws[s], expected, rtol=1e-8)


def test_t_options_are_checked():
    X = _t_rows(40, np.random.default_rng(7))
    with pytest.raises(ValueError, match="'dof' parameter .* family='t'"):
        BayesianGaussianMixture(2, dof=4.0).fit(X)
    with pytest.raises(ValueError, match="'dof' parameter"):
        BayesianGaussianMixture(2, family="t", dof=0.0).fit(X)
    with pytest.raises(ValueError, match="family"):
        BayesianGaussianMixture(2, family="cauchy").fit(X)
    with pytest.raises(ValueError, match="em_kwargs sets family"):
        BayesianGaussianMixture(2, family="t", em_kwargs={"family": "gaussian"}).fit(X)
    da = pytest.importorskip("dask.array")
    with pytest.raises(TypeError, match="family='t'.*in memory"):
        BayesianGaussianMixture(2, family="t", method="advi").fit(da.from_array(X, chunks=20))


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_t_nuts_recovers_dof(sampler):
    """NUTS on the t model (nutpie compiles the PyMC graph; PyMC's own NUTS): the true
    dof and means within the 99.5 % posterior interval, chains mixed."""
    pytest.importorskip(sampler)
    X = _t_rows(1500, np.random.default_rng(8))
    fit = BayesianGaussianMixture(
        2,
        covariance_type="diag",
        family="t",
        nuts_sampler=sampler,
        draws=500,
        tune=500,
        chains=2,
        random_state=0,
    ).fit(X)
    draws = fit.result_.draws().isel(component=np.argsort(fit.means_[:, 0]))
    low, high = draws["dof"].quantile([0.0025, 0.9975], ("chain", "draw")).values
    assert np.all((low <= TRUE_DOF) & (TRUE_DOF <= high)), (low, high)
    assert _within(draws["means"].values, TRUE_MEANS).all()
    assert fit.inference_info_["diagnostics"]["rhat_max"] < 1.02
