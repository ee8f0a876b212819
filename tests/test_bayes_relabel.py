"""Relabelling: permuted draws are put back, counted, and the raw draws recovered exactly."""

import arviz as az
import numpy as np
import pytest

from bayesgmm.bayes.relabel import PERMUTATION_NAME, kl_cost, raw_posterior, relabel

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
K, D = 3, 2


def _truth(covariance_type):
    means = np.array([[-4.0, 0.0], [0.0, 4.0], [4.0, 0.0]])
    covariances = {
        "full": np.array(
            [[[1.0, 0.3], [0.3, 0.5]], [[0.5, 0.0], [0.0, 0.5]], [[2.0, -0.5], [-0.5, 1.0]]]
        ),
        "tied": np.array([[1.0, 0.2], [0.2, 0.8]]),
        "diag": np.array([[1.0, 0.5], [0.4, 0.6], [2.0, 1.0]]),
        "spherical": np.array([1.0, 0.5, 2.0]),
    }[covariance_type]
    return np.array([0.2, 0.3, 0.5]), means, covariances


COVARIANCE_DIMS = {
    "full": ["component", "feature", "feature_bis"],
    "tied": ["feature", "feature_bis"],
    "diag": ["component", "feature"],
    "spherical": ["component"],
}


def _scrambled(covariance_type, chains=3, draws=50, seed=0, truth=None):
    """Draws near the truth, every draw's components permuted at random (the first
    draw kept in order), each draw's covariances its own (scaled by about 5 %)."""
    rng = np.random.default_rng(seed)
    weights, means, covariances = _truth(covariance_type) if truth is None else truth
    k, d = means.shape
    shape = (chains, draws)
    w = np.broadcast_to(weights, shape + (k,)) + 0.01 * rng.standard_normal(shape + (k,))
    m = means + 0.1 * rng.standard_normal(shape + (k, d))
    scale = np.exp(0.05 * rng.standard_normal(shape + covariances.shape[:1]))
    c = covariances * scale.reshape(scale.shape + (1,) * (covariances.ndim - 1))
    perm = np.array([rng.permutation(k) for _ in range(chains * draws)]).reshape(shape + (k,))
    perm[0, 0] = np.arange(k)
    scrambled_c = c  # tied: one matrix, nothing to permute
    if covariance_type != "tied":
        scrambled_c = np.take_along_axis(c, perm.reshape(shape + (k,) + (1,) * (c.ndim - 3)), 2)
    idata = az.from_dict(
        posterior={
            "weights": np.take_along_axis(w, perm, axis=2),
            "means": np.take_along_axis(m, perm[..., None], axis=2),
            "covariances": scrambled_c,
        },
        sample_stats={"diverging": np.zeros(shape, dtype=bool)},
        dims={
            "weights": ["component"],
            "means": ["component", "feature"],
            "covariances": COVARIANCE_DIMS[covariance_type],
        },
        coords={"component": np.arange(k), "feature": ["a", "b"], "feature_bis": ["a", "b"]},
    )
    n_permuted = int((perm != np.arange(k)).any(axis=-1).sum())
    return idata, (w, m, c), n_permuted


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_relabel_undoes_random_permutations(covariance_type):
    """Every variable with a component dim is put back, covariances included: a
    relabelling that permuted weights and means but not covariances fails here."""
    idata, (w, m, c), n_permuted = _scrambled(covariance_type)
    _, means, covariances = _truth(covariance_type)
    fixed, info = relabel(idata, covariance_type, (means, covariances))
    np.testing.assert_array_equal(fixed.posterior["means"].values, m)
    np.testing.assert_array_equal(fixed.posterior["weights"].values, w)
    np.testing.assert_array_equal(fixed.posterior["covariances"].values, c)
    assert info["n_permuted"] == n_permuted > 0
    assert info["converged"]
    assert fixed.posterior.attrs["relabel_n_permuted"] == n_permuted
    assert fixed.sample_stats[PERMUTATION_NAME].dims == ("chain", "draw", "component")


def test_relabel_tied_by_means_and_without_reference():
    idata, (w, m, c), n_permuted = _scrambled("tied")
    fixed, info = relabel(idata, "tied")  # reference: first draw (unpermuted by design)
    np.testing.assert_array_equal(fixed.posterior["means"].values, m)
    np.testing.assert_array_equal(fixed.posterior["weights"].values, w)
    np.testing.assert_array_equal(fixed.posterior["covariances"].values, c)  # shared: as is
    assert info["n_permuted"] == n_permuted


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_components_with_one_mean_are_told_apart_by_their_covariances(covariance_type):
    """Two components at the same mean, one nine times wider: only the covariances
    (through the KL cost) can match the draws, and they come back with them."""
    narrow = {"full": np.eye(D), "diag": np.ones(D), "spherical": 1.0}[covariance_type]
    covariances = np.stack([narrow, 9.0 * np.asarray(narrow)])
    truth = (np.array([0.3, 0.7]), np.zeros((2, D)), covariances)
    idata, (w, m, c), n_permuted = _scrambled(covariance_type, truth=truth, seed=5)
    fixed, info = relabel(idata, covariance_type)  # reference: the first (unpermuted) draw
    assert info["n_permuted"] == n_permuted > 0
    np.testing.assert_array_equal(fixed.posterior["covariances"].values, c)
    np.testing.assert_array_equal(fixed.posterior["means"].values, m)
    np.testing.assert_array_equal(fixed.posterior["weights"].values, w)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_raw_posterior_is_exact_inverse(covariance_type):
    idata, _, _ = _scrambled(covariance_type, seed=4)
    fixed, _ = relabel(idata, covariance_type)
    raw = raw_posterior(fixed)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(raw.posterior[name].values, idata.posterior[name].values)
    assert PERMUTATION_NAME not in raw.sample_stats
    assert not any(key.startswith("relabel_") for key in raw.posterior.attrs)


def test_raw_posterior_refuses_unrelabelled_data():
    idata, _, _ = _scrambled("diag")
    with pytest.raises(ValueError, match="not relabelled"):
        raw_posterior(idata)


def test_kl_cost_matches_closed_form_kl():
    """cost[j, k] - cost[j, j'] equals 2 (KL_jk - KL_jj') from scipy's entropies."""
    rng = np.random.default_rng(2)
    a = rng.normal(size=(2, 2, 2))
    cov = a @ a.transpose(0, 2, 1) + np.eye(2)
    mu = rng.normal(size=(2, 2))
    b = rng.normal(size=(2, 2, 2))
    ref_cov = b @ b.transpose(0, 2, 1) + np.eye(2)
    ref_mu = rng.normal(size=(2, 2))

    def kl(m0, s0, m1, s1):
        p1 = np.linalg.inv(s1)
        diff = m1 - m0
        return 0.5 * (
            np.trace(p1 @ s0) + diff @ p1 @ diff - 2 + np.log(np.linalg.det(s1) / np.linalg.det(s0))
        )

    cost = kl_cost(mu, cov, ref_mu, ref_cov)
    for j in range(2):
        expected = [2 * kl(mu[j], cov[j], ref_mu[k], ref_cov[k]) for k in range(2)]
        np.testing.assert_allclose(cost[j, 1] - cost[j, 0], expected[1] - expected[0])


@pytest.mark.parametrize("order", [[2, 0, 1], [1, 2, 0]])
def test_relabelled_components_are_numbered_as_the_reference(order):
    """Issue 20 item 5: component k of the result is reference component k, whatever the
    order of the reference (the EM start's), however the draws were numbered."""
    idata, (w, m, c), _ = _scrambled("full", seed=2)
    _, means, covariances = _truth("full")
    fixed, _ = relabel(idata, "full", (means[order], covariances[order]))
    np.testing.assert_array_equal(fixed.posterior["means"].values, m[:, :, order])
    np.testing.assert_array_equal(fixed.posterior["covariances"].values, c[:, :, order])


def test_per_component_variables_follow_the_permutation_and_come_back():
    """The model's z_chol_k (one variable per component) are permuted with the rest and
    restored by raw_posterior: PyMC's forward sampling reads them."""
    idata, (w, m, c), _ = _scrambled("full", seed=3)
    perm_means = idata.posterior["means"].values
    packed = perm_means[..., 0] * 10  # a per-component marker: 10 x the first mean
    for k in range(K):
        idata.posterior[f"z_chol_{k}"] = (
            ("chain", "draw", f"z_chol_{k}_dim_0"),
            packed[..., k, None],
        )
    _, means, covariances = _truth("full")
    fixed, _ = relabel(idata, "full", (means, covariances))
    for k in range(K):
        np.testing.assert_array_equal(
            fixed.posterior[f"z_chol_{k}"].values[..., 0], 10 * m[:, :, k, 0]
        )
    raw = raw_posterior(fixed)
    for k in range(K):
        np.testing.assert_array_equal(
            raw.posterior[f"z_chol_{k}"].values, idata.posterior[f"z_chol_{k}"].values
        )
