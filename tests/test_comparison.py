"""EM versus Bayes: component matching, HDI coverage of EM values, global agreement."""

import arviz as az
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


# Three components that differ in weight, location, size AND orientation, so that a
# part of the posterior left in the wrong order (weights, means or covariances) shows.
TRUE_WEIGHTS = np.array([0.2, 0.3, 0.5])
TRUE_MEANS = np.array([[0.0, 0.0], [9.0, 0.0], [0.0, 9.0]])
TRUE_COVARIANCES = np.array([[[1.0, 0.5], [0.5, 2.0]], [[4.0, -1.0], [-1.0, 1.0]], np.eye(2) * 0.3])
PERMUTATION = np.array([2, 0, 1])  # Bayesian component j is reference component PERMUTATION[j]


@pytest.fixture(scope="module")
def permuted():
    reference = MixtureResult(
        weights=TRUE_WEIGHTS,
        means=TRUE_MEANS,
        covariances=TRUE_COVARIANCES,
        covariance_type="full",
        feature_names=["a", "b"],
    )
    X = pd.DataFrame(reference.sample(300, random_state=1), columns=["a", "b"])
    bayes = fake_posterior_result(
        TRUE_WEIGHTS[PERMUTATION],
        TRUE_MEANS[PERMUTATION],
        TRUE_COVARIANCES[PERMUTATION],
        X,
        feature_names=["a", "b"],
        draws=50,
        spread=0.01,
    )
    return X, reference, bayes


def test_every_part_of_a_permuted_posterior_lines_up(permuted):
    """Weights, means and covariances of the posterior all follow the matching."""
    X, reference, bayes = permuted
    comparison = compare(reference, bayes, X)
    np.testing.assert_array_equal(PERMUTATION[comparison.matching], np.arange(3))
    table = comparison.table.set_index(["parameter", "component", "feature", "feature_bis"])
    truth = {"weights": TRUE_WEIGHTS, "means": TRUE_MEANS, "covariances": TRUE_COVARIANCES}
    names = ["a", "b"]
    for (parameter, k, f, g), row in table.iterrows():
        where = (k,) + tuple(names.index(name) for name in (f, g) if name)
        assert row["em"] == truth[parameter][where]
        # posterior means of 100 draws of spread 0.01 sit within 0.003 of the truth;
        # every pair of components differs by more than 0.1 in some entry
        assert row["posterior_mean"] == pytest.approx(row["em"], abs=0.03)
    assert table["em_inside"].mean() > 0.8


def test_aligned_posterior_is_the_posterior_renumbered(permuted):
    X, reference, bayes = permuted
    comparison = compare(reference, bayes, X)
    inverse = np.argsort(PERMUTATION)
    aligned = comparison.bayes_aligned.draws()
    original = bayes.draws()
    for name in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(
            aligned[name].values, original[name].isel(component=inverse).values
        )
    point = comparison.bayes_aligned
    np.testing.assert_allclose(point.covariances.values, TRUE_COVARIANCES, rtol=0.02, atol=0.02)
    np.testing.assert_allclose(point.weights.values, TRUE_WEIGHTS, atol=0.01)


@pytest.mark.parametrize("ci_prob", [0.94, 0.8])
def test_hdis_are_arviz_hdis_of_the_matched_component(permuted, ci_prob):
    X, reference, bayes = permuted
    table = compare(reference, bayes, X, ci_prob=ci_prob).table
    posterior = bayes.posterior.posterior
    inverse = np.argsort(PERMUTATION)
    for _, row in table.iterrows():
        where = {"component": inverse[row["component"]]}
        where.update({dim: row[dim] for dim in ("feature", "feature_bis") if row[dim]})
        values = posterior[row["parameter"]].sel(where).values.ravel()
        low, high = az.hdi(values, hdi_prob=ci_prob)
        assert (row["hdi_lower"], row["hdi_upper"]) == pytest.approx((low, high), rel=1e-12)
        assert row["posterior_sd"] == pytest.approx(values.std(), rel=1e-9)


def test_matching_uses_the_covariances_not_only_the_means():
    """Two components with one mean: only their covariances tell them apart."""
    means = np.zeros((2, 2))
    covariances = np.array([np.diag([1.0, 1.0]), np.diag([10.0, 0.1])])
    a = MixtureResult(
        weights=np.full(2, 0.5), means=means, covariances=covariances, covariance_type="full"
    )
    b = MixtureResult(
        weights=np.full(2, 0.5), means=means, covariances=covariances[::-1], covariance_type="full"
    )
    np.testing.assert_array_equal(match_components(a, b), [1, 0])
    np.testing.assert_array_equal(match_components(a, a), [0, 1])
