"""Label-invariant summaries of a posterior, on hand-made draws checked against SciPy and
brute force: the posterior predictive, the predictive density with bands, the
co-clustering matrix, mixture-IS leave-one-out, and the allocations of a sparse mixture."""

import arviz as az
import numpy as np
import pytest
from bayes_fakes import fake_posterior_result
from scipy import stats
from scipy.special import logsumexp

from bayesgmm import MixtureResult
from bayesgmm.bayes.density import PosteriorDensity
from bayesgmm.bayes.loo import MixtureISDensity, loo_pit_log_weights, mixture_elpd
from bayesgmm.bayes.predictive import posterior_predictive
from bayesgmm.bayes.priors import Priors
from bayesgmm.bayes.sparse import _allocation_counts

K, D = 2, 2
X_TEST = np.array([[-2.0, 0.0], [0.0, 0.5], [2.5, 1.0], [1.0, -1.0], [10.0, -3.0]])


def _result(draws=40, seed=0, spread=0.1):
    weights = np.array([0.4, 0.6])
    means = np.array([[-2.0, 0.0], [2.0, 1.0]])
    covariances = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.6, -0.2], [-0.2, 1.2]]])
    return fake_posterior_result(
        weights, means, covariances, X_TEST, draws=draws, spread=spread, seed=seed
    )


def _draws(result):
    draws = result.draws()
    return (
        draws["weights"].values.reshape(-1, K),
        draws["means"].values.reshape(-1, K, D),
        draws["covariances"].values.reshape(-1, K, D, D),
    )


def _scipy_component_densities(X, weights, means, covariances):
    """w_sk N(x | mu_sk, Sigma_sk), shape (S, N, K)."""
    out = np.empty((len(weights), len(X), K))
    for s in range(len(weights)):
        for k in range(K):
            out[s, :, k] = weights[s, k] * stats.multivariate_normal(
                means[s, k], covariances[s, k]
            ).pdf(X)
    return out


def test_posterior_predictive_has_the_mixtures_moments():
    """Pooled over draws, the replicates' mean and covariance are those of the mixture
    averaged over the draws (law of total variance), within sampling error."""
    result = _result(spread=0.3)
    weights, means, covariances = _draws(result)
    predictive = posterior_predictive(result, 2000, np.random.default_rng(0))
    assert predictive["x"].dims == ("chain", "draw", "observation", "feature")
    assert predictive["x"].shape == (2, 40, 2000, D)
    rows = predictive["x"].values.reshape(-1, D)
    mean = np.einsum("sk,skd->sd", weights, means)  # each draw's mixture mean
    centred = means - mean[:, None, :]
    second = np.einsum(
        "sk,skde->sde", weights, covariances + centred[..., None] * centred[..., None, :]
    )
    overall = mean.mean(0)
    total = second.mean(0) + np.cov(mean.T, bias=True)
    sd = np.sqrt(np.diag(total))
    np.testing.assert_array_less(np.abs(rows.mean(0) - overall), 5 * sd / np.sqrt(len(rows)))
    # covariance entries: sampling sd about sqrt(2/n) of the scale, n = 160,000
    np.testing.assert_allclose(
        np.cov(rows.T), total, atol=5 * np.sqrt(2 / len(rows)) * sd.max() ** 2
    )
    # each draw's replicate follows its own draw's weights (not the pooled ones)
    again = posterior_predictive(result, 2000, np.random.default_rng(0))
    np.testing.assert_array_equal(again["x"].values, predictive["x"].values)


def test_predictive_density_mean_and_band_are_scipys():
    result = _result()
    density = _scipy_component_densities(X_TEST, *_draws(result)).sum(-1)  # (S, N)
    out = result.predictive_density(X_TEST, ci_prob=0.8)
    np.testing.assert_allclose(out["mean"].values, density.mean(0), rtol=1e-10)
    np.testing.assert_allclose(out["lower"].values, np.quantile(density, 0.1, axis=0), rtol=1e-10)
    np.testing.assert_allclose(out["upper"].values, np.quantile(density, 0.9, axis=0), rtol=1e-10)
    np.testing.assert_allclose(out["mean"].values, np.exp(result.log_prob(X_TEST).values))
    with pytest.raises(ValueError, match="ci_prob"):
        result.predictive_density(X_TEST, ci_prob=1.0)


def test_co_clustering_is_the_posterior_mean_of_same_label_probabilities():
    """P(z_i = z_j) = mean_s sum_k r_ik r_jk (labels independent given theta), 1 on the
    diagonal; a permutation of the components in some draws changes nothing."""
    result = _result(spread=0.3)
    dens = _scipy_component_densities(X_TEST, *_draws(result))
    resp = dens / dens.sum(-1, keepdims=True)
    expected = np.einsum("sik,sjk->ij", resp, resp) / len(resp)
    np.fill_diagonal(expected, 1.0)
    out = result.co_clustering(X_TEST, max_draws=None)
    np.testing.assert_allclose(out.values, expected, rtol=1e-10)
    assert out.dims == ("observation", "observation_bis")
    post = result.posterior.posterior  # swap the components of half the draws
    for name in ("weights", "means", "covariances"):
        post[name].values[0] = post[name].values[0][:, ::-1]
    result._draw_cache = None
    np.testing.assert_allclose(result.co_clustering(X_TEST, max_draws=None).values, expected)
    subset = result.co_clustering(X_TEST, rows=[4, 0], max_draws=None)
    np.testing.assert_allclose(subset.values, expected[np.ix_([4, 0], [4, 0])])
    assert list(subset["observation"].values) == [4, 0]
    thinned = result.co_clustering(X_TEST, max_draws=10)
    assert thinned.attrs["n_draws"] == 10
    assert np.abs(thinned.values - expected).max() < 0.5 / np.sqrt(10)


def test_summaries_of_an_em_result_are_its_plug_in_values():
    em = MixtureResult(
        weights=np.array([0.5, 0.5]),
        means=np.array([[-3.0], [3.0]]),
        covariances=np.ones(2),
        covariance_type="spherical",
    )
    X = np.array([[-3.0], [0.0], [3.0]])
    out = em.predictive_density(X)
    np.testing.assert_allclose(out["lower"], out["upper"])
    expected = 0.5 * stats.norm(-3).pdf(X[:, 0]) + 0.5 * stats.norm(3).pdf(X[:, 0])
    np.testing.assert_allclose(out["mean"], expected)
    resp = em.responsibilities(X).values
    np.testing.assert_allclose(em.co_clustering(X).values[0, 1], resp[0] @ resp[1])


def test_mixture_elpd_closed_form():
    """With S draws from q_mix and l_is the log-likelihoods, the estimate is
    log sum_s e^{-c_s} - log sum_s e^{-l_is - c_s}, c_s = log sum_j e^{-l_js}."""
    rng = np.random.default_rng(0)
    log_lik = rng.normal(-2, 0.5, size=(50, 4))
    common = logsumexp(-log_lik, axis=1)
    expected = [
        np.log(np.exp(-common).sum()) - np.log(np.exp(-log_lik[:, i] - common).sum())
        for i in range(4)
    ]
    np.testing.assert_allclose(mixture_elpd(log_lik), expected, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_mixture_is_density_adds_the_log_sum_of_inverse_likelihoods(covariance_type):
    """Value: the log posterior plus log sum_i 1/p(z_i); gradient: its finite differences."""
    rng = np.random.default_rng(1)
    z = rng.normal(size=(30, 2))
    priors = Priors()
    plain = PosteriorDensity(z, 2, covariance_type, priors)
    mixed = MixtureISDensity(z, 2, covariance_type, priors)
    theta = 0.3 * rng.normal(size=plain.n_dim)
    value, grad = mixed(theta)
    np.testing.assert_allclose(
        value - plain(theta)[0], logsumexp(-plain.row_log_likelihood(theta)), rtol=1e-12
    )
    step = 1e-6
    numeric = [
        (mixed(theta + step * e)[0] - mixed(theta - step * e)[0]) / (2 * step)
        for e in np.eye(plain.n_dim)
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="unweighted"):
        MixtureISDensity(z, 2, covariance_type, priors, sample_weight=np.ones(30))


def test_loo_pit_weights_broadcast_the_rows_psis_weights_over_features():
    result = _result()
    idata = result.posterior
    weights = loo_pit_log_weights(_with_observed_x(idata))
    log_lik = idata.log_likelihood["X"].stack(__sample__=("chain", "draw"))
    expected = az.psislw(-log_lik)[0]
    for feature in weights["feature"].values:
        np.testing.assert_allclose(weights.sel(feature=feature).values, expected.values)


def _with_observed_x(idata):
    """The fake posterior names its observed variable X; the estimator names it x."""
    out = idata.copy()
    out.log_likelihood = idata.log_likelihood.rename({"X": "x"})
    out.observed_data = idata.observed_data.rename({"X": "x", "X_dim_1": "feature"})
    return out


def test_allocation_counts_find_the_nonempty_components():
    """Three components, one with weight 1e-9 far from the data: every allocation draw
    leaves it empty and splits the rows as the responsibilities do."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-5, 1, (60, 1)), rng.normal(5, 1, (40, 1))])
    result = fake_posterior_result(
        [0.6, 0.4 - 1e-9, 1e-9],
        [[-5.0], [5.0], [50.0]],
        np.ones((3, 1, 1)),
        X,
        draws=30,
        spread=0.001,
    )
    counts = _allocation_counts(result.draws(), X, np.random.default_rng(1))
    assert counts.shape == (60, 3)
    np.testing.assert_array_equal(counts.sum(1), 100)
    np.testing.assert_array_equal(counts[:, 2], 0)
    np.testing.assert_array_equal(counts[:, 0], 60)  # the clusters are 10 sds apart


def test_sparse_mixture_empties_the_surplus_components():
    """Two clusters eight sds apart, four components with a Dirichlet(0.01) prior: the
    posterior puts (almost) all its mass on two non-empty components, which come back
    relabelled at the clusters' means (posterior sd 1/sqrt(80) = 0.11; 0.35 is three)."""
    import warnings

    from bayesgmm.bayes import sparse_mixture

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-4, 1, (80, 1)), rng.normal(4, 1, (80, 1))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty components mix slowly: expected
        sparse = sparse_mixture(X, 4, draws=300, tune=300, chains=2, cores=1, random_state=0)
    assert sparse.mode == 2 and sparse.n_nonempty[2] > 0.9
    np.testing.assert_allclose(sparse.n_nonempty.sum(), 1.0)
    assert sparse.counts.dims == ("chain", "draw", "component")
    np.testing.assert_array_equal(sparse.counts.sum("component"), len(X))
    means = np.sort(sparse.result.means.values[:, 0])
    np.testing.assert_allclose(means, [-4, 4], atol=0.35)
    np.testing.assert_allclose(sparse.result.weights.values.sum(), 1.0)
    assert np.isfinite(sparse.diagnostics["rhat"]) or sparse.n_nonempty[2] == 1.0
