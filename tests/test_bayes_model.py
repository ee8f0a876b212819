"""The PyMC model: priors, standardisation, the marginal likelihood against gaussian.py,
start values, and the error paths of the Bayesian estimator (no sampling here)."""

import subprocess
import sys

import numpy as np
import pytest

from bayesgmm import gaussian
from bayesgmm.bayes import BayesianGaussianMixture, Priors, Standardisation, build_model
from bayesgmm.bayes.model import standardised_data
from bayesgmm.bayes.samplers import resolve_nuts_sampler, start_values
from bayesgmm.covariance import get_covariance_model

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def _data(seed=0, n=60):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(-2, 1, (n, 3)), rng.normal(2, 0.5, (n, 3))])
    return X * [1.0, 10.0, 0.1] + [0.0, 100.0, -5.0]


def _evaluate(model, outputs, point):
    """Evaluate model variables at a point of the value variables (fast compile)."""
    fn = model.compile_fn(
        model.replace_rvs_by_values(outputs),
        inputs=model.value_vars,
        on_unused_input="ignore",
        mode="FAST_COMPILE",
    )
    return fn(point)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_marginal_likelihood_equals_gaussian_py(covariance_type):
    """The PyTensor log-density of the observed x (data units) equals the numpy mixture."""
    X = _data()
    model = build_model(X, 3, covariance_type)
    rng = np.random.default_rng(1)
    point = {k: v + rng.normal(0, 0.3, v.shape) for k, v in model.initial_point().items()}
    weights, means, covariances = _evaluate(
        model, [model["weights"], model["means"], model["covariances"]], point
    )
    log_lik = _evaluate(model, model.logp(vars=[model["x"]], sum=False), point)[0]
    kind = get_covariance_model(covariance_type)
    expected = gaussian.log_mixture_density(
        kind.log_density(X, means, kind.precision_cholesky(covariances, weights)) + np.log(weights)
    )[0]
    np.testing.assert_allclose(log_lik, expected, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_start_values_reproduce_parameters(covariance_type):
    """Start values put the model's data-unit deterministics at the given parameters."""
    X = _data()
    model = build_model(X, 2, covariance_type)
    kind = get_covariance_model(covariance_type)
    rng = np.random.default_rng(3)
    weights = np.array([0.3, 0.7])
    means = X[rng.choice(len(X), 2)]
    full = np.cov(X.T) * rng.uniform(0.2, 0.5)
    covariances = {
        "full": np.stack([full, 0.5 * full]),
        "tied": full,
        "diag": np.stack([np.diag(full), 0.5 * np.diag(full)]),
        "spherical": np.array([1.0, 2.0]),
    }[covariance_type]
    standard = Standardisation.from_data(X, covariance_type)
    start = start_values(weights, means, covariances, covariance_type, standard)
    from pymc.initial_point import make_initial_point_fn

    # the route pm.sample(initvals=...) and nutpie's initial_points take
    point = make_initial_point_fn(
        model=model, overrides=start, jitter_rvs=set(), return_transformed=True
    )(0)
    got = _evaluate(model, [model["weights"], model["means"], model["covariances"]], point)
    for value, expected in zip(got, (weights, means, covariances), strict=True):
        np.testing.assert_allclose(value, expected, rtol=1e-8, atol=1e-12)
    assert kind.name == covariance_type


def test_model_variables_dims_and_data_groups():
    """Coordinates come from DataFrame columns; standardisation lives in the model's data."""
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(_data(), columns=["a", "b", "c"])
    model = build_model(X, 2, "full")
    assert [rv.name for rv in model.free_RVs] == ["weights", "z_means", "z_chol_0", "z_chol_1"]
    assert list(model.coords["feature"]) == ["a", "b", "c"]
    assert model.named_vars_to_dims["covariances"] == ("component", "feature", "feature_bis")
    assert model.named_vars_to_dims["x"] == ("observation", "feature")
    z = standardised_data(model)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1.0)


def test_spherical_standardisation_uses_one_scale():
    """A spherical covariance on the model's scale must stay spherical in data units."""
    X = _data()
    standard = Standardisation.from_data(X, "spherical")
    assert np.all(standard.scale == standard.scale[0])
    np.testing.assert_allclose(standard.scale[0] ** 2, X.var(axis=0).mean())
    assert not np.all(Standardisation.from_data(X, "diag").scale == standard.scale[0])


def test_priors_defaults_and_concentration():
    priors = Priors()
    assert (priors.weights_alpha, priors.means_sigma, priors.lkj_eta) == (1.0, 2.0, 2.0)
    np.testing.assert_array_equal(Priors(weights_alpha=[1, 2]).weights_concentration(2), [1, 2])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"means_sigma": -1.0}, ValueError, "means_sigma must be a positive float"),
        ({"lkj_eta": "2"}, TypeError, "lkj_eta must be a positive float"),
        ({"sd_beta": np.inf}, ValueError, "sd_beta"),
        ({"weights_alpha": [1.0, -1.0]}, ValueError, "weights_alpha"),
    ],
)
def test_priors_refuse_bad_values(kwargs, error, match):
    with pytest.raises(error, match=match):
        Priors(**kwargs)


def test_priors_concentration_length_must_match():
    with pytest.raises(ValueError, match="3 components"):
        Priors(weights_alpha=[1.0, 1.0]).weights_concentration(3)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"method": "gibbs"}, ValueError, "'method' parameter"),
        ({"draws": 0}, ValueError, "'draws' parameter"),
        ({"nuts_sampler": "stan"}, ValueError, "'nuts_sampler' parameter"),
        ({"target_accept": 1.0}, ValueError, "'target_accept' parameter"),
        ({"priors": {"means_sigma": 1.0}}, TypeError, "'priors' parameter"),
        ({"covariance_type": "banded"}, ValueError, "'covariance_type' parameter"),
    ],
)
def test_estimator_refuses_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        BayesianGaussianMixture(2, **params).fit(_data())


def test_estimator_refuses_fewer_rows_than_components():
    with pytest.raises(ValueError, match="fewer rows than components"):
        BayesianGaussianMixture(5, method="map").fit(_data(n=1))


def test_missing_sampler_names_the_extra(monkeypatch):
    import bayesgmm.bayes.samplers as samplers

    monkeypatch.setattr(samplers, "_installed", lambda module: module != "numpyro")
    with pytest.raises(ImportError, match=r"bayesgmm\[nuts\]"):
        resolve_nuts_sampler("numpyro")
    monkeypatch.setattr(samplers, "_installed", lambda module: False)
    assert resolve_nuts_sampler("auto") == "pymc"


def test_every_method_has_a_sampler_with_the_shared_signature():
    """The registry maps each method (and each NUTS sampler) to a module whose run()
    takes the one signature run_inference calls it with."""
    import inspect

    from bayesgmm.bayes import samplers

    nuts = [name for name in samplers.NUTS_SAMPLERS if name != "auto"]
    others = [method for method in samplers.METHODS if method != "nuts"]
    assert sorted(samplers._SAMPLERS) == sorted(nuts + others)
    reference = inspect.signature(samplers.pymc.run)
    for name, module in samplers._SAMPLERS.items():
        assert inspect.signature(module.run) == reference, name
    assert samplers.get_sampler("fullrank_advi")[1] is samplers.advi
    with pytest.raises(ValueError, match=r"method must be one of \('nuts', 'advi'"):
        samplers.get_sampler("gibbs")


def test_estimator_follows_sklearn_parameter_conventions():
    """The constructor stores parameters only; get_params/set_params round-trip."""
    bgmm = BayesianGaussianMixture(3, method="advi", random_state=0)
    params = bgmm.get_params()
    assert params["n_components"] == 3 and params["method"] == "advi"
    assert bgmm.set_params(draws=10).draws == 10
    assert not hasattr(bgmm, "result_")
    with pytest.raises(ValueError, match="Invalid parameter"):
        bgmm.set_params(n_draws=5)
    with pytest.raises(ValueError, match="not fitted"):
        bgmm.predict(_data())


def test_import_bayesgmm_does_not_import_pymc():
    code = (
        "import sys, bayesgmm; assert 'pymc' not in sys.modules; "
        "bayesgmm.BayesianGaussianMixture; assert 'pymc' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize(
    ("em_kwargs", "match"),
    [
        (
            {"covariance_type": "diag"},
            r"em_kwargs sets covariance_type='diag'.*covariance_type='full'",
        ),
        ({"n_components": 1}, r"em_kwargs sets n_components=1.*n_components=2"),
        ({"n_inits": 3}, r"unknown keys \['n_inits'\].*parameters of GaussianMixture"),
    ],
)
def test_em_kwargs_that_conflict_or_are_unknown_are_refused_before_any_fit(em_kwargs, match):
    """Non-regression test for issue 15 item 12: these crashed deep in PyTensor or with
    KeyError 'z_chol_1'."""
    with pytest.raises(ValueError, match=match):
        BayesianGaussianMixture(2, method="map", em_kwargs=em_kwargs).fit(_data())


def test_em_kwargs_may_repeat_the_model_and_set_other_options():
    fit = BayesianGaussianMixture(
        2,
        method="map",
        em_kwargs={"covariance_type": "VVV", "n_components": 2, "n_init": 2},
        random_state=0,
    ).fit(_data())
    assert fit.em_.n_init == 2 and fit.em_.covariance_type == "full"


def test_int_random_state_starts_from_the_users_em_fit():
    """The Bayesian fit starts from (and is numbered as) GaussianMixture(random_state=it)."""
    from bayesgmm import GaussianMixture

    X = _data()
    fit = BayesianGaussianMixture(2, covariance_type="diag", method="map", random_state=7).fit(X)
    em = GaussianMixture(2, covariance_type="diag", random_state=7).fit(X)
    np.testing.assert_array_equal(fit.em_.means_, em.means_)
    assert np.all(np.abs(fit.means_ - em.means_) < 0.1 * np.abs(em.means_).max())


def _weighted_problem(covariance_type, seed=0):
    rng = np.random.default_rng(seed)
    X = _data(seed, n=20)
    counts = rng.integers(0, 4, size=len(X))
    return X, counts, np.repeat(X, counts, axis=0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_sample_weights_count_rows_in_the_compiled_density(covariance_type):
    """sum_n w_n log p(x_n) with integer w is the log-likelihood of the repeated rows:
    value and gradient of the numba log posterior agree with the repeated data's."""
    from bayesgmm.bayes.density import PosteriorDensity

    X, counts, repeated = _weighted_problem(covariance_type)
    standard = Standardisation.from_data(X, covariance_type)
    priors = Priors()
    weighted = PosteriorDensity(standard.transform(X), 3, covariance_type, priors, counts)
    plain = PosteriorDensity(standard.transform(repeated), 3, covariance_type, priors)
    theta = 0.4 * np.random.default_rng(1).normal(size=plain.n_dim)
    value, grad = weighted(theta)
    expected_value, expected_grad = plain(theta)
    np.testing.assert_allclose(value, expected_value, rtol=1e-11)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-9, atol=1e-9)
    rows = slice(0, 7)  # a minibatch with weights, scaled
    part, part_grad = weighted.evaluate(theta, standard.transform(X)[rows], 1.0, counts[rows])
    plain_part = PosteriorDensity(
        standard.transform(np.repeat(X[rows], counts[rows], axis=0)), 3, covariance_type, priors
    )
    np.testing.assert_allclose(part, plain_part(theta)[0], rtol=1e-11)
    np.testing.assert_allclose(part_grad, plain_part(theta)[1], rtol=1e-9, atol=1e-9)


def test_integer_sample_weights_count_rows_in_the_pymc_model():
    X, counts, repeated = _weighted_problem("full")
    standard = Standardisation.from_data(X, "full")
    weighted = build_model(X, 2, "full", standardisation=standard, sample_weight=counts)
    plain = build_model(repeated, 2, "full", standardisation=standard)
    point = weighted.initial_point()
    logp = weighted.compile_logp(mode="FAST_COMPILE")(point)
    np.testing.assert_allclose(logp, plain.compile_logp(mode="FAST_COMPILE")(point), rtol=1e-11)


def test_weighted_map_fit_equals_the_fit_of_repeated_rows():
    """Through the estimator (weighted standardisation, EM start with weights, the model's
    weighted likelihood): MAP of integer weights is MAP of the repeated rows. Both
    optimisations take the same steps on the same function, so they agree to the
    rounding of summing weighted rows instead of repeated ones (1e-13 here)."""
    X, counts, repeated = _weighted_problem("diag", seed=2)
    options = {"covariance_type": "diag", "method": "map", "random_state": 0}
    weighted = BayesianGaussianMixture(2, **options).fit(X, sample_weight=counts)
    plain = BayesianGaussianMixture(2, **options).fit(repeated)
    np.testing.assert_array_equal(weighted.result_.posterior.constant_data["sample_weight"], counts)
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(weighted, name), getattr(plain, name), rtol=1e-9)


def test_sample_weight_must_fit_the_rows():
    with pytest.raises(ValueError, match="sample_weight"):
        BayesianGaussianMixture(2, method="map").fit(_data(), sample_weight=np.ones(3))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_observed_variable_draws_from_the_mixture(covariance_type):
    """The model's random method (what pm.sample_posterior_predictive calls): rows in the
    data's units whose mean and covariance are the mixture's at the model's point."""
    import pymc as pm

    X = _data()
    model = build_model(X, 2, covariance_type)
    point = model.initial_point()
    weights, means, covariances = _evaluate(
        model, [model["weights"], model["means"], model["covariances"]], point
    )
    full = get_covariance_model(covariance_type).to_full(covariances, 2, 3)
    names = [rv.name for rv in model.free_RVs]
    values = _evaluate(model, [model[name] for name in names], point)
    fixed = pm.do(model, dict(zip(names, values, strict=True)))
    rows = pm.draw(fixed["x"], draws=60, random_seed=0).reshape(-1, 3)  # 60 x 120 rows
    mean = weights @ means
    spread = means - mean
    covariance = np.einsum("k,kde->de", weights, full + spread[:, :, None] * spread[:, None, :])
    n = len(rows)
    sd = np.sqrt(np.diag(covariance))
    np.testing.assert_array_less(np.abs(rows.mean(0) - mean), 5 * sd / np.sqrt(n))
    np.testing.assert_allclose(np.cov(rows.T), covariance, rtol=0.1, atol=0.05 * sd.max() ** 2)
