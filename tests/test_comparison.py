"""EM versus Bayes: component matching, HDI coverage of EM values, global agreement."""

import numpy as np
import pandas as pd
import pytest
from bayes_fakes import fake_posterior_result
from sklearn.metrics import adjusted_rand_score

from bayesgmm import GaussianMixture, MixtureResult
from bayesgmm.comparison import Comparison, adjusted_rand_index, compare, match_components
from bayesgmm.datasets import make_mixture

pytestmark = pytest.mark.filterwarnings("ignore:Estimated shape parameter:UserWarning")


@pytest.fixture(scope="module")
def fits():
    truth = make_mixture(200, 3, 2, separation=8.0, random_state=3)
    X = pd.DataFrame(truth.X, columns=["a", "b"])
    em = GaussianMixture(3, random_state=0).fit(X)
    order = np.array([2, 0, 1])  # the "Bayesian" fit numbers the components differently
    bayes = fake_posterior_result(
        em.weights_[order],
        em.means_[order],
        em.covariances_[order],
        X,
        feature_names=["a", "b"],
        draws=40,
        spread=0.03,
    )
    return X, em, bayes, order


def test_matching_undoes_the_permutation(fits):
    X, em, bayes, order = fits
    matching = match_components(em, bayes)
    # bayes component j is em component order[j]; em component k is bayes component argsort
    np.testing.assert_array_equal(order[matching], np.arange(3))


def test_table_rows_and_em_inside_hdi(fits):
    X, em, bayes, order = fits
    comparison = compare(em, bayes, X, ci_prob=0.94)
    assert isinstance(comparison, Comparison)
    table = comparison.table
    # per component: 1 weight, 2 means, 3 unique covariance entries
    assert len(table) == 3 * (1 + 2 + 3)
    assert set(table["parameter"]) == {"weights", "means", "covariances"}
    assert (table["hdi_lower"] <= table["posterior_mean"]).all()
    assert (table["posterior_mean"] <= table["hdi_upper"]).all()
    # the posterior is centred on the EM solution, so EM values sit inside their HDIs
    assert comparison.share_inside >= 0.9
    weights = table[table["parameter"] == "weights"].sort_values("component")
    np.testing.assert_allclose(weights["em"], em.weights_)
    np.testing.assert_allclose(weights["posterior_mean"], em.weights_, atol=0.03)


def test_em_outside_a_shifted_posterior_is_flagged(fits):
    X, em, _, _ = fits
    shifted = fake_posterior_result(
        em.weights_,
        em.means_ + [[3.0, 0.0]],
        em.covariances_,
        X,
        feature_names=["a", "b"],
        draws=30,
        spread=0.01,
    )
    table = compare(em, shifted, X).table
    means_a = table[(table["parameter"] == "means") & (table["feature"] == "a")]
    assert not means_a["em_inside"].any()


def test_global_rows(fits):
    X, em, bayes, order = fits
    table = compare(em, bayes, X).global_table
    assert table.loc["adjusted_rand_index", "agreement"] == pytest.approx(1.0, abs=0.02)
    assert table.loc["mean_abs_responsibility_difference", "agreement"] < 0.02
    assert table.loc["log_likelihood", "em"] == pytest.approx(em.score(X) * len(X))
    assert table.loc["bic", "em"] == pytest.approx(em.bic(X))
    assert np.isnan(table.loc["elpd_loo", "em"])
    # ELPD-LOO cannot exceed the in-sample log-likelihood of the best point by much
    assert table.loc["elpd_loo", "bayes"] < table.loc["log_likelihood", "em"]


def test_aligned_result_follows_em_numbering(fits):
    X, em, bayes, order = fits
    aligned = compare(em, bayes, X).bayes_aligned
    np.testing.assert_allclose(aligned.means.values, em.means_, rtol=0.05, atol=0.1)
    posterior_means = aligned.posterior.posterior["means"].mean(("chain", "draw")).values
    np.testing.assert_allclose(posterior_means, aligned.means.values)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adjusted_rand_index_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, 300)
    b = np.where(rng.random(300) < 0.6, a, rng.integers(0, 3, 300))
    assert adjusted_rand_index(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
    assert adjusted_rand_index(a, (a + 1) % 4) == pytest.approx(1.0)


def test_errors_name_the_problem(fits):
    X, em, bayes, _ = fits
    with pytest.raises(ValueError, match="no posterior draws"):
        compare(em, em, X)
    other = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="same n_components"):
        compare(other, bayes, X)
    with pytest.raises(TypeError, match="MixtureResult"):
        compare("em", bayes, X)
    with pytest.raises(ValueError, match="ci_prob"):
        compare(em, bayes, X, ci_prob=1.2)
    renamed = MixtureResult(
        weights=em.weights_,
        means=em.means_,
        covariances=em.covariances_,
        covariance_type="full",
        feature_names=["c", "d"],
    )
    with pytest.raises(ValueError, match="different features"):
        compare(renamed, bayes, X.set_axis(["c", "d"], axis=1))


def test_tied_posterior_in_its_native_shape_is_expanded():
    """Tied draws are stored as one (D, D) matrix per draw; every component gets it."""
    truth = make_mixture(120, 2, 2, separation=8.0, random_state=5)
    em = GaussianMixture(2, covariance_type="tied", random_state=0).fit(truth.X)
    full = np.broadcast_to(em.covariances_, (2, 2, 2))
    bayes = fake_posterior_result(em.weights_, em.means_, full, truth.X, draws=20, tied=True)
    assert bayes.posterior.posterior["covariances"].dims == (
        "chain",
        "draw",
        "feature",
        "feature_bis",
    )
    table = compare(em, bayes, truth.X).table
    cov = table[table["parameter"] == "covariances"]
    assert len(cov) == 2 * 3
    for k in (0, 1):
        np.testing.assert_allclose(
            cov[cov["component"] == k]["posterior_mean"].to_numpy(),
            cov[cov["component"] == 0]["posterior_mean"].to_numpy(),
        )
    assert cov["em_inside"].all()
