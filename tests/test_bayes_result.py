"""MixtureResult with a posterior: predictive density, responsibilities with credible
bounds, posterior-predictive sampling, summary and exact save/load — on hand-made draws
checked against scipy's densities."""

import arviz as az
import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

import bayesgmm.result as result_module
from bayesgmm import MixtureResult, load, save

K, D = 2, 2


def _posterior_result(chains=2, draws=30, seed=0, spread=0.2):
    rng = np.random.default_rng(seed)
    shape = (chains, draws)
    weights = rng.dirichlet([20.0, 30.0], size=shape)
    means = np.array([[-2.0, 0.0], [2.0, 1.0]]) + spread * rng.standard_normal(shape + (K, D))
    a = 0.3 * rng.standard_normal(shape + (K, D, D))
    covariances = a @ np.swapaxes(a, -1, -2) + np.eye(D)
    idata = az.from_dict(
        posterior={"weights": weights, "means": means, "covariances": covariances},
        sample_stats={"diverging": np.zeros(shape, dtype=bool)},
        dims={
            "weights": ["component"],
            "means": ["component", "feature"],
            "covariances": ["component", "feature", "feature_bis"],
        },
        coords={"component": np.arange(K), "feature": ["a", "b"], "feature_bis": ["a", "b"]},
    )
    result = MixtureResult(
        weights=weights.mean((0, 1)),
        means=means.mean((0, 1)),
        covariances=covariances.mean((0, 1)),
        covariance_type="full",
        feature_names=["a", "b"],
        method="nuts",
        posterior=idata,
    )
    return result, (
        weights.reshape(-1, K),
        means.reshape(-1, K, D),
        covariances.reshape(-1, K, D, D),
    )


def _scipy_component_densities(X, weights, means, covariances):
    """p_s(x, k) = w_sk N(x | mu_sk, Sigma_sk), shape (S, N, K)."""
    S = len(weights)
    out = np.empty((S, len(X), K))
    for s in range(S):
        for k in range(K):
            out[s, :, k] = weights[s, k] * stats.multivariate_normal(
                means[s, k], covariances[s, k]
            ).pdf(X)
    return out


X_TEST = np.array([[-2.0, 0.0], [0.0, 0.5], [2.5, 1.0], [10.0, -3.0]])


def test_log_prob_is_the_predictive_density_averaged_over_draws():
    result, draws = _posterior_result()
    dens = _scipy_component_densities(X_TEST, *draws).sum(axis=-1)  # (S, N)
    expected = np.log(dens.mean(axis=0))
    np.testing.assert_allclose(result.log_prob(X_TEST).values, expected, rtol=1e-10)


@pytest.mark.parametrize("block", [1, 7, 1 << 21])
def test_responsibilities_mean_and_bounds_over_draws(monkeypatch, block):
    """Same answer whatever the block size (blocks of rows keep N x K x S out of memory)."""
    monkeypatch.setattr(result_module, "_DRAW_BLOCK_ELEMENTS", block)
    result, draws = _posterior_result()
    dens = _scipy_component_densities(X_TEST, *draws)
    resp = dens / dens.sum(axis=-1, keepdims=True)
    out = result.responsibilities(X_TEST, ci_prob=0.9)
    np.testing.assert_allclose(out["mean"].values, resp.mean(axis=0), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(
        out["lower"].values, np.quantile(resp, 0.05, axis=0), rtol=1e-9, atol=1e-15
    )
    np.testing.assert_allclose(
        out["upper"].values, np.quantile(resp, 0.95, axis=0), rtol=1e-9, atol=1e-15
    )
    assert out["mean"].dims == ("observation", "component")
    assert out.attrs["ci_prob"] == 0.9
    np.testing.assert_allclose(out["mean"].sum("component"), 1.0)
    log_lik = result.log_likelihood_draws(X_TEST)
    np.testing.assert_allclose(
        log_lik.values.reshape(-1, len(X_TEST)), np.log(dens.sum(-1)), rtol=1e-10
    )


def test_predict_is_argmax_of_mean_responsibility():
    result, _ = _posterior_result()
    mean = result.responsibilities(X_TEST)["mean"].values
    np.testing.assert_array_equal(result.predict(X_TEST).values, mean.argmax(axis=1))


def test_identical_draws_reduce_to_the_plug_in_result():
    result, _ = _posterior_result(spread=0.0)
    post = result.posterior.posterior
    one = {
        name: np.broadcast_to(post[name].values[:1, :1], post[name].shape).copy()
        for name in ("weights", "means", "covariances")
    }
    for name, values in one.items():
        post[name].values[...] = values
    plug = MixtureResult(
        weights=one["weights"][0, 0],
        means=one["means"][0, 0],
        covariances=one["covariances"][0, 0],
        covariance_type="full",
    )
    np.testing.assert_allclose(result.log_prob(X_TEST).values, plug.log_prob(X_TEST).values)
    out = result.responsibilities(X_TEST)
    np.testing.assert_allclose(out["mean"].values, plug.responsibilities(X_TEST).values)
    np.testing.assert_allclose(out["lower"].values, out["upper"].values)


def test_sample_draws_from_the_posterior_predictive():
    result, draws = _posterior_result()
    X, labels = result.sample(40_000, random_state=0, return_labels=True)
    weights, means, covariances = draws
    expected_mean = (weights[..., None] * means).sum(1).mean(0)
    np.testing.assert_allclose(X.mean(axis=0), expected_mean, atol=0.05)
    np.testing.assert_allclose(np.bincount(labels) / len(labels), weights.mean(0), atol=0.01)
    assert np.all(np.diff(labels) >= 0)
    again = result.sample(100, random_state=3)
    np.testing.assert_array_equal(again, result.sample(100, random_state=3))


def test_summary_and_refusals_without_posterior():
    result, _ = _posterior_result()
    table = result.summary()
    assert "means[0, a]" in table.index and "r_hat" in table.columns
    plain = MixtureResult(
        weights=np.ones(1),
        means=np.zeros((1, 2)),
        covariances=np.ones(1),
        covariance_type="spherical",
    )
    with pytest.raises(ValueError, match="needs a Bayesian fit"):
        plain.summary()
    with pytest.raises(ValueError, match="ci_prob"):
        result.responsibilities(X_TEST, ci_prob=1.5)


def test_save_load_posterior_exact(tmp_path):
    result, _ = _posterior_result()
    log_lik = result.log_likelihood_draws(X_TEST).rename("x")
    result.posterior.add_groups(log_likelihood=log_lik.to_dataset())
    result.posterior.posterior.attrs["relabel_n_permuted"] = 3
    path = tmp_path / "bayes.nc"
    save(result, path)
    back = load(path)
    assert back.posterior.groups() == result.posterior.groups()
    for group in result.posterior.groups():
        assert back.posterior[group].identical(result.posterior[group]), group
    np.testing.assert_array_equal(back.log_prob(X_TEST).values, result.log_prob(X_TEST).values)
    # ArviZ reads the same file directly (it also sees our group, harmlessly)
    direct = az.from_netcdf(str(path))
    assert direct.posterior.identical(result.posterior.posterior)
    assert np.isfinite(logsumexp(direct.log_likelihood["x"].values))
