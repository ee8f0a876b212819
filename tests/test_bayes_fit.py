"""Fitting the Bayesian mixture: posterior recovery, label switching, ADVI, ArviZ, I/O.

Small by design (2 chains, a few hundred draws, N = 200) and shared through
module-scoped fixtures, since every fit compiles a model. The data are simulated
from known parameters and then shifted so that each cluster's sample mean equals its
true mean exactly: the posterior then centres on the truth (up to the weak prior),
so "the 94 % HDI covers the truth" is a property of the fit, not of a lucky seed.
"""

import warnings

import arviz as az
import numpy as np
import pytest

from bayesgmm import BayesianGaussianMixture, GaussianMixture, load
from bayesgmm.bayes import (
    SamplerWarning,
    Standardisation,
    build_model,
    relabel,
    run_inference,
    start_values,
)

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
TRUE_MEANS = np.array([[-3.0, 10.0], [3.0, 20.0]])
SMALL = {"draws": 300, "tune": 300, "chains": 2, "cores": 1, "nuts_sampler": "pymc"}


def _true_covariances(covariance_type):
    full = np.array([[1.0, 1.2], [1.2, 4.0]])
    return {
        "full": np.stack([full, np.array([[0.5, -0.4], [-0.4, 2.0]])]),
        "tied": np.stack([full, full]),
        "diag": np.stack([np.diag([1.0, 4.0]), np.diag([0.5, 2.0])]),
        "spherical": np.stack([np.eye(2), 2.0 * np.eye(2)]),
    }[covariance_type]


def _simulate(covariance_type, n_per=100, seed=0):
    rng = np.random.default_rng(seed)
    blocks = []
    for mean, cov in zip(TRUE_MEANS, _true_covariances(covariance_type), strict=True):
        block = rng.multivariate_normal(mean, cov, size=n_per)
        blocks.append(block - block.mean(axis=0) + mean)  # sample mean = truth
    return np.concatenate(blocks)


def _fit(covariance_type, **params):
    X = _simulate(covariance_type)
    options = {**SMALL, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplerWarning)  # ESS < 400 with 600 draws is expected
        bgmm = BayesianGaussianMixture(
            2, covariance_type=covariance_type, random_state=0, **options
        ).fit(X)
    return X, bgmm


@pytest.fixture(scope="module")
def fits():
    return {}


def _cached_fit(fits, covariance_type):
    if covariance_type not in fits:
        fits[covariance_type] = _fit(covariance_type)
    return fits[covariance_type]


def _order(means):
    return np.argsort(means[:, 0])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_hdi_of_every_mean_covers_the_truth(fits, covariance_type):
    X, bgmm = _cached_fit(fits, covariance_type)
    order = _order(bgmm.means_)
    hdi = az.hdi(bgmm.result_.posterior, var_names=["means"], hdi_prob=0.94)["means"].values
    hdi = hdi[order]  # (component, feature, lower/higher)
    assert np.all(hdi[..., 0] <= TRUE_MEANS) and np.all(TRUE_MEANS <= hdi[..., 1]), hdi
    # point estimates are posterior means in data units, shaped as scikit-learn's
    post = bgmm.result_.posterior.posterior
    np.testing.assert_allclose(bgmm.means_, post["means"].mean(("chain", "draw")).values)
    em_shape = GaussianMixture(2, covariance_type=covariance_type).fit(X).covariances_.shape
    assert bgmm.covariances_.shape == em_shape
    assert bgmm.inference_info_["diagnostics"]["divergences"] == 0
    assert set(bgmm.result_.posterior.groups()) >= {
        "posterior",
        "log_likelihood",
        "sample_stats",
        "observed_data",
        "constant_data",
    }


def test_chains_started_at_permuted_labels_are_relabelled():
    """Two chains, one started with the components swapped: R-hat is large before
    relabelling and at most 1.05 after it."""
    covariance_type = "diag"
    X = _simulate(covariance_type)
    em = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    model = build_model(X, 2, covariance_type)
    standard = Standardisation.from_data(X, covariance_type)
    start = start_values(em.weights_, em.means_, em.covariances_, covariance_type, standard)
    swapped = {name: value[::-1].copy() for name, value in start.items()}
    idata, _ = run_inference(
        model,
        starts=[start, swapped],
        draws=300,
        tune=300,
        chains=2,
        cores=1,
        nuts_sampler="pymc",
        rng=np.random.default_rng(1),
    )
    before = float(az.rhat(idata, var_names=["means"])["means"].max())
    fixed, info = relabel(idata, covariance_type, (em.means_, em.covariances_))
    after = float(az.rhat(fixed, var_names=["means", "weights"]).to_array().max())
    assert before > 1.5
    assert after <= 1.05
    assert info["n_permuted"] == 300  # exactly the swapped chain's draws


def test_advi_recovers_the_means():
    """ADVI from the EM start meets its convergence criterion and puts every mean
    within 0.15 (data units; cluster sds 0.7 to 2, 100 points each) of the truth."""
    X, bgmm = _fit("diag", method="advi", draws=250)
    assert bgmm.converged_, bgmm.inference_info_
    np.testing.assert_allclose(bgmm.means_[_order(bgmm.means_)], TRUE_MEANS, atol=0.15)
    assert bgmm.result_.posterior.posterior.sizes["draw"] == 500


def test_arviz_works_without_glue(fits, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    X, bgmm = _cached_fit(fits, "full")
    idata = bgmm.result_.posterior
    summary = az.summary(idata, var_names=["weights", "means"])
    assert summary.loc["means[0, x0]", "r_hat"] < 1.05
    axes = az.plot_trace(idata, var_names=["weights"])
    assert axes.shape == (1, 2)
    loo = az.loo(idata)
    # p_loo is close to the number of free parameters (1 + 4 + 6 = 11)
    assert 6 < loo.p_loo < 16
    assert np.isfinite(loo.elpd_loo)
    # the stored pointwise log-likelihood is in data units: it averages to the
    # log predictive density that score_samples reports
    log_lik = idata.log_likelihood["x"].values.reshape(-1, len(X))
    lppd = np.log(np.exp(log_lik).mean(axis=0))
    np.testing.assert_allclose(lppd, bgmm.score_samples(X), rtol=1e-8)
    assert bgmm.raw_posterior().posterior.sizes == idata.posterior.sizes


def test_fitted_bayesian_result_saves_and_loads(fits, tmp_path):
    X, bgmm = _cached_fit(fits, "full")
    path = tmp_path / "bgmm.nc"
    bgmm.result_.save(path)
    back = load(path)
    for group in bgmm.result_.posterior.groups():
        assert back.posterior[group].identical(bgmm.result_.posterior[group]), group
    np.testing.assert_array_equal(back.log_prob(X).values, bgmm.result_.log_prob(X).values)
    np.testing.assert_array_equal(back.means.values, bgmm.means_)


def test_estimator_api_matches_gaussian_mixture(fits):
    X, bgmm = _cached_fit(fits, "full")
    proba = bgmm.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    labels = bgmm.predict(X)
    truth = np.repeat([0, 1], 100)
    agreement = max(np.mean(labels == truth), np.mean(labels != truth))
    assert agreement > 0.98
    sample, sample_labels = bgmm.sample(50)
    assert sample.shape == (50, 2) and sample_labels.shape == (50,)
    assert np.isfinite(bgmm.score(X)) and bgmm.lower_bound_ == pytest.approx(bgmm.score(X))


def test_random_state_reproduces_draws():
    _, first = _fit("spherical", draws=60, tune=60)
    _, second = _fit("spherical", draws=60, tune=60)
    np.testing.assert_array_equal(
        first.result_.posterior.posterior["means"].values,
        second.result_.posterior.posterior["means"].values,
    )


@pytest.mark.slow
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_nutpie_recovers_the_truth(covariance_type):
    X, bgmm = _fit(covariance_type, nuts_sampler="nutpie", draws=500, tune=500)
    assert bgmm.inference_info_["sampler"] == "nutpie"
    hdi = az.hdi(bgmm.result_.posterior, var_names=["means"])["means"].values
    hdi = hdi[_order(bgmm.means_)]
    assert np.all(hdi[..., 0] <= TRUE_MEANS) and np.all(TRUE_MEANS <= hdi[..., 1])
