"""The uniform noise component (``noise=``): EM against mclust, known truth and itself.

Checked against mclust 6.0.0's numbers for the same data (``Mclust(X, G = 2, modelNames,
initialization = list(noise = mask))``: log-likelihood, noise proportion, means, BIC,
``hypvol``), against simulations with a known number of uniform outliers (the noise
weight recovers their share, the components those of the clean fit), against SciPy's
densities, and against itself (every engine, every covariance model and both families
never decrease the log-likelihood; dask gives numpy's answer).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from bayesgmm import GaussianMixture, load
from bayesgmm.covariance import MODELS
from bayesgmm.em.passes import BlockPass
from bayesgmm.family import GAUSSIAN, STUDENT_T
from bayesgmm.noise import box_of_volume, hypervolume_box, initial_noise

ALL_MODELS = sorted(MODELS)
LAYOUT_MODELS = ["full", "tied", "diag", "spherical"]


def _mclust_data():
    """The data of the mclust reference: two Gaussian clusters and 30 uniform rows."""
    rng = np.random.default_rng(16)
    a = rng.multivariate_normal([-2, 0], [[1, 0.5], [0.5, 1]], 80)
    b = rng.multivariate_normal([3, 1], [[0.5, 0], [0, 2]], 60)
    u = rng.uniform(-10, 10, (30, 2))
    return np.vstack([a, b, u]), np.r_[np.zeros(140, bool), np.ones(30, bool)]


# From R (mclust 6.0.0), the data above written by np.savetxt(fmt="%.17g"):
#   fit <- Mclust(X, G = 2, modelNames = m, initialization = list(noise = mask),
#                 control = emControl(tol = c(1e-12, sqrt(.Machine$double.eps))))
#   fit$loglik; fit$bic; fit$parameters$pro[3]; fit$parameters$mean
# (a tight tolerance: mclust's default relative 1e-5 stops 6e-4 short of the maximum)
MCLUST_HYPVOL_RECIPROCAL = 0.0030419560699800289  # hypvol(X, reciprocal = TRUE)
MCLUST = {  # model: (loglik, bic, noise proportion, means (component, feature))
    "VVV": (-712.3075405050, -1491.3804606916, 0.1749856381,
            [[-2.01032520, 0.01082371], [3.0297326, 0.9189271]]),
    "EEE": (-726.0427107464, -1503.4434058634, 0.1811774217,
            [[-2.0341850244, -0.0008048098], [3.0233537, 0.9286711]]),
    "VII": (-738.6745662902, -1523.5713185139, 0.1796191224,
            [[-2.08526425, -0.02924196], [2.940271, 0.945285]]),
    "EII": (-740.5766459915, -1522.2396794795, 0.1912851801,
            [[-2.042323399, -0.007529355], [2.9975252, 0.9561364]]),
    "VVI": (-722.8105078233, -1502.1147984541, 0.1811407461,
            [[-2.003726475, 0.009859588], [3.0333430, 0.9266381]]),
    "EEI": (-733.4207815936, -1513.0637491206, 0.1855087879,
            [[-2.049063076, -0.007138142], [3.0024637, 0.9269756]]),
    "VEV": (-714.3515263937, -1490.3326340320, 0.1749705073,
            [[-2.01071147, 0.01093063], [3.0288671, 0.9186269]]),
}  # fmt: skip


def _fit(X, **options):
    options.setdefault("random_state", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianMixture(**options).fit(X)


# ---------------------------------------------------------------- against mclust
def test_hypervolume_is_mclusts_hypvol():
    X, _ = _mclust_data()
    np.testing.assert_allclose(hypervolume_box(X).vinv, MCLUST_HYPVOL_RECIPROCAL, rtol=1e-12)


@pytest.mark.parametrize("model", sorted(MCLUST))
def test_noise_fit_equals_mclust(model):
    X, mask = _mclust_data()
    gm = _fit(X, n_components=2, covariance_type=model, noise=True, noise_init=mask, tol=1e-11)
    loglik, bic, noise, means = MCLUST[model]
    # mclust's tolerance 1e-12 relative leaves ~1e-9 of its log-likelihood; ours 1e-11 mean
    np.testing.assert_allclose(gm.score(X) * len(X), loglik, rtol=0, atol=1e-6)
    np.testing.assert_allclose(gm.bic(X), -bic, rtol=0, atol=2e-6)  # mclust's sign
    # parameters: the likelihood is flat to second order, so they agree to ~sqrt(1e-9)
    np.testing.assert_allclose(gm.noise_weight_, noise, atol=1e-4)
    order = np.argsort(gm.means_[:, 0])
    np.testing.assert_allclose(gm.means_[order], means, atol=1e-3)
    np.testing.assert_allclose(gm.noise_vinv_, MCLUST_HYPVOL_RECIPROCAL, rtol=1e-12)
    np.testing.assert_allclose(gm.weights_.sum() + gm.noise_weight_, 1.0, rtol=1e-14)


def test_bic_counts_two_noise_parameters_as_mclust():
    X, mask = _mclust_data()
    with_noise = _fit(X, n_components=2, covariance_type="VVV", noise=True, noise_init=mask)
    without = _fit(X, n_components=2, covariance_type="VVV")
    assert with_noise.result_.n_parameters == without.result_.n_parameters + 2 == 13  # df


# ---------------------------------------------------------------- known truth
def _contaminated(n_clean=1500, n_noise=150, seed=0):
    """Three Gaussian clusters and uniform rows in the box [-15, 15]^2 (density 1/900)."""
    rng = np.random.default_rng(seed)
    means = np.array([[-5.0, -4.0], [0.0, 5.0], [6.0, -2.0]])
    counts = rng.multinomial(n_clean, [0.3, 0.3, 0.4])
    clean = np.vstack([rng.normal(means[k], 1.0, (counts[k], 2)) for k in range(3)])
    noise = rng.uniform(-15, 15, (n_noise, 2))
    return clean, noise


def test_noise_weight_recovers_the_outlier_share_and_the_clean_fit():
    clean, noise = _contaminated()
    X = np.vstack([clean, noise])
    truth = len(noise) / len(X)
    gm = _fit(X, n_components=3, covariance_type="full", noise=1 / 900)
    # the data are drawn from the fitted model: the MLE is within a few standard errors
    standard_error = np.sqrt(truth * (1 - truth) / len(X))
    assert abs(gm.noise_weight_ - truth) < 4 * standard_error
    reference = _fit(clean, n_components=3, covariance_type="full")
    order, ref_order = np.argsort(gm.means_[:, 0]), np.argsort(reference.means_[:, 0])
    # each cluster's mean has standard error about 1/sqrt(450): the fits share its rows
    np.testing.assert_allclose(gm.means_[order], reference.means_[ref_order], atol=0.1)
    np.testing.assert_allclose(gm.covariances_[order], reference.covariances_[ref_order], atol=0.15)
    # without the noise component the outliers stretch the covariances far off
    plain = _fit(X, n_components=3, covariance_type="full")
    spread = np.trace(plain.covariances_, axis1=1, axis2=2).max()
    assert spread > 2 * np.trace(reference.covariances_, axis1=1, axis2=2).max()


def test_predict_labels_outliers_minus_one_and_proba_has_noise_last():
    clean, noise = _contaminated(seed=1)
    X = np.vstack([clean, noise])
    gm = _fit(X, n_components=3, covariance_type="full", noise=True)
    proba = gm.predict_proba(X)
    assert proba.shape == (len(X), 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    labels = gm.predict(X)
    np.testing.assert_array_equal(labels == -1, proba.argmax(axis=1) == 3)
    far = np.abs(noise).min(axis=1) > 12  # far from every cluster
    assert (labels[len(clean) :][far] == -1).all()
    assert (labels[: len(clean)] >= 0).mean() > 0.98


def test_score_samples_add_the_noise_density_to_scipys_components():
    clean, noise = _contaminated(seed=2)
    X = np.vstack([clean, noise])
    gm = _fit(X, n_components=3, covariance_type="full", noise=True)
    density = sum(
        w * stats.multivariate_normal(m, c).pdf(X)
        for w, m, c in zip(gm.weights_, gm.means_, gm.covariances_, strict=True)
    )
    expected = np.log(density + gm.noise_weight_ * gm.noise_vinv_)
    np.testing.assert_allclose(gm.score_samples(X), expected, rtol=1e-10)
    np.testing.assert_allclose(gm.lower_bound_, expected.mean(), rtol=1e-10)


# ---------------------------------------------------------------- EM's ascent, engines
@pytest.mark.parametrize("family", ["gaussian", "t"])
@pytest.mark.parametrize("covariance_type", ALL_MODELS)
def test_em_with_noise_never_decreases_the_log_likelihood(covariance_type, family):
    clean, noise = _contaminated(600, 60, seed=3)
    X = np.vstack([clean, noise])
    gm = _fit(
        X, n_components=3, covariance_type=covariance_type, family=family, noise=True,
        init_params="random_from_data", n_init=1, tol=0.0, max_iter=30, engine="blocks",
        reg_covar=0.0,
    )  # fmt: skip
    history = np.array(gm.lower_bounds_)
    rounding = len(X) * np.finfo(float).eps * np.abs(history).max()
    assert np.diff(history).min() >= -rounding
    assert history[-1] > history[0]


@pytest.mark.parametrize("family", ["gaussian", "t"])
@pytest.mark.parametrize("covariance_type", LAYOUT_MODELS)
def test_engines_agree_with_noise(covariance_type, family):
    clean, noise = _contaminated(800, 80, seed=4)
    X = np.vstack([clean, noise])
    fits = [
        _fit(X, n_components=3, covariance_type=covariance_type, family=family, noise=True,
             engine=engine, n_init=1, tol=0.0, max_iter=20, reg_covar=0.0)
        for engine in ("compiled", "blocks")
    ]  # fmt: skip
    np.testing.assert_allclose(fits[0].lower_bounds_, fits[1].lower_bounds_, rtol=1e-10)
    history = np.array(fits[0].lower_bounds_)
    assert np.diff(history).min() >= -len(X) * np.finfo(float).eps * np.abs(history).max()
    for name in ("weights_", "means_", "covariances_", "noise_weight_"):
        np.testing.assert_allclose(
            getattr(fits[0], name), getattr(fits[1], name), rtol=1e-7, atol=1e-9
        )


@pytest.mark.parametrize("family", [GAUSSIAN, STUDENT_T])
def test_stacked_factors_give_the_feature_paths_sums_with_noise(family):
    """Many features: the stacked-factor kernel and the feature kernel, beside noise."""
    from bayesgmm.covariance import get_covariance_model

    rng = np.random.default_rng(5)
    n_components, n_features = 2, 5
    X = rng.normal(size=(300, n_features))
    layout = get_covariance_model("full").layout
    factors = np.array([np.eye(n_features) * s for s in (1.0, 0.7)])
    params = (
        np.array([0.45, 0.45, 0.1]), rng.normal(size=(n_components, n_features)),
        np.array([np.eye(n_features) / s**2 for s in (1.0, 0.7)]), factors,
        np.array([5.0, 9.0]),
    )  # fmt: skip
    sums = []
    for stacked in (False, True):
        block = BlockPass(layout, params, np.zeros(n_features), np.float64, stacked=stacked,
                          family=family, log_vinv=-8.0)  # fmt: skip
        sums.append(block.packed(X, np.ones(len(X))))
    # T's layouts differ (the stacked path sums every row's full outer product): compare
    # the log-likelihood, the counts (noise included) and the linear sums
    k, p = n_components, block.n_columns
    q = p - n_features - 1
    np.testing.assert_allclose(sums[0][0], sums[1][0], rtol=1e-12)
    np.testing.assert_allclose(sums[0][1 + k * p :], sums[1][1 + k * p :], rtol=1e-10)
    linear = [s[1 : 1 + k * p].reshape(k, p)[:, q:] for s in sums]
    np.testing.assert_allclose(linear[0], linear[1], rtol=1e-10)


def test_dask_noise_fit_equals_numpy():
    da = pytest.importorskip("dask.array")
    clean, noise = _contaminated(2500, 250, seed=6)
    X = np.vstack([clean, noise])
    options = {  # a whole start: dask initialises from a sample of rows otherwise
        "n_components": 3, "noise": True, "n_init": 1, "tol": 0.0, "max_iter": 15,
        "means_init": np.array([[-5.0, -4.0], [0.0, 5.0], [6.0, -2.0]]),
        "weights_init": [0.3, 0.3, 0.4],
        "precisions_init": np.repeat(np.eye(2)[None], 3, axis=0),
    }  # fmt: skip
    numpy_fit = _fit(X, **options)
    dask_fit = _fit(da.from_array(X, chunks=(700, 2)), **options)
    for name in ("weights_", "means_", "covariances_", "noise_weight_", "noise_vinv_"):
        np.testing.assert_allclose(getattr(dask_fit, name), getattr(numpy_fit, name), rtol=1e-8)


# ---------------------------------------------------------------- result, files, sampling
def test_noise_survives_result_files_and_draws(tmp_path):
    clean, noise = _contaminated(seed=7)
    X = np.vstack([clean, noise])
    gm = _fit(X, n_components=3, covariance_type="VEV", noise=True)
    path = tmp_path / "noise.nc"
    gm.result_.save(path)
    loaded = load(path)
    assert loaded.noise_weight == gm.noise_weight_
    assert loaded.noise_box.log_vinv == gm.result_.noise_box.log_vinv
    np.testing.assert_array_equal(loaded.noise_box.axes, gm.result_.noise_box.axes)
    np.testing.assert_allclose(loaded.log_likelihood(X), gm.score(X) * len(X), rtol=1e-12)
    draws = gm.result_.draws()
    assert float(draws["noise_weight"].squeeze()) == gm.noise_weight_
    np.testing.assert_allclose(draws["weights"].sum() + draws["noise_weight"].sum(), 1.0)
    resp = gm.result_.responsibilities(X)
    assert list(resp["component"].values) == [0, 1, 2, -1]


def test_a_file_whose_weights_leave_out_the_noise_is_refused(tmp_path):
    clean, noise = _contaminated(seed=8)
    gm = _fit(np.vstack([clean, noise]), n_components=3, noise=True)
    dataset = gm.result_.to_dataset()
    del dataset.attrs["noise_weight"]
    with pytest.raises(ValueError, match="noise"):
        type(gm.result_).from_dataset(dataset)


def test_sample_draws_noise_uniformly_in_the_box():
    clean, noise = _contaminated(seed=9)
    gm = _fit(np.vstack([clean, noise]), n_components=3, noise=True)
    X, labels = gm.result_.sample(20_000, random_state=0, return_labels=True)
    share = (labels == -1).mean()
    p = gm.noise_weight_
    assert abs(share - p) < 5 * np.sqrt(p * (1 - p) / 20_000)
    box = gm.result_.noise_box
    t = (X[labels == -1] - box.centre) @ box.axes.T
    assert (np.abs(t) <= box.half_widths * (1 + 1e-12)).all()
    # uniform: each coordinate's mean and variance as a uniform's on [-h, h]
    h = box.half_widths
    assert (np.abs(t.mean(axis=0)) < 5 * h / np.sqrt(3 * len(t))).all()
    # the variance's standard error is h^2 sqrt(4 / (45 n)): within 5 of them
    assert (np.abs(t.var(axis=0) - h**2 / 3) < 5 * h**2 * np.sqrt(4 / (45 * len(t)))).all()


# ---------------------------------------------------------------- the box, the guess, errors
def test_principal_component_box_is_taken_when_smaller():
    rng = np.random.default_rng(10)
    t = rng.uniform(-1, 1, (4000, 2)) * [5.0, 0.5]
    angle = np.pi / 4
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    box = hypervolume_box(t @ rotation)
    # the rotated 10 x 1 rectangle: its own box (volume ~10), not the axis box (~ 30)
    np.testing.assert_allclose(1 / box.vinv, 10.0, rtol=0.01)
    np.testing.assert_allclose(np.abs(box.axes @ rotation.T).max(axis=1), 1.0, atol=1e-2)


def test_a_given_density_is_kept_and_its_box_has_that_volume():
    X = np.random.default_rng(11).normal(size=(300, 3))
    box = box_of_volume(X, 1e-3)
    np.testing.assert_allclose(np.prod(2 * box.half_widths), 1e3, rtol=1e-12)
    gm = _fit(X, n_components=1, noise=1e-3)
    assert gm.noise_vinv_ == pytest.approx(1e-3, rel=1e-15)


def test_initial_noise_flags_isolated_rows():
    clean, noise = _contaminated(seed=12)
    far = noise[np.abs(noise).min(axis=1) > 12]
    guess = initial_noise(np.vstack([clean, far]))
    assert guess[len(clean) :].all()
    # a start only: the clusters' sparse tails start as noise too, EM takes them back
    assert guess[: len(clean)].mean() < 0.05
    assert initial_noise(np.vstack([clean, noise]))[len(clean) :].mean() > 0.75


def test_bad_noise_options_are_refused_clearly():
    X = np.random.default_rng(13).normal(size=(50, 2))
    for bad in ("uniform", -1.0, float("inf"), 0.0):
        with pytest.raises(ValueError, match="'noise' parameter"):
            GaussianMixture(noise=bad).fit(X)
    with pytest.raises(ValueError, match="noise_init"):
        GaussianMixture(noise_init=np.zeros(50, bool)).fit(X)
    with pytest.raises(ValueError, match="one entry per row"):
        GaussianMixture(noise=True, noise_init=np.zeros(49, bool)).fit(X)
    with pytest.raises(ValueError, match="fewer than"):
        GaussianMixture(2, noise=True, noise_init=np.ones(50, bool)).fit(X)
    with pytest.raises(ValueError, match="jax"):
        GaussianMixture(noise=True, engine="jax").fit(X)
    with pytest.raises(ValueError, match="volume is 0"):
        GaussianMixture(noise=True).fit(np.c_[X[:, 0], np.ones(50)])


def test_warm_start_keeps_the_noise_and_climbs_on():
    clean, noise = _contaminated(seed=14)
    X = np.vstack([clean, noise])
    # reg_covar=0: the floor's M-step is not the likelihood's, it may lose ~1e-10 at the top
    gm = GaussianMixture(
        3, noise=True, warm_start=True, max_iter=3, n_init=1, reg_covar=0.0, random_state=0
    )
    bounds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(4):
            bounds.append(gm.fit(X).lower_bound_)
    assert np.diff(bounds).min() >= -len(X) * np.finfo(float).eps * abs(bounds[-1])
    np.testing.assert_allclose(gm.weights_.sum() + gm.noise_weight_, 1.0, rtol=1e-14)


def test_float32_fit_with_noise_is_within_float32_rounding_of_float64():
    clean, noise = _contaminated(seed=15)
    X = np.vstack([clean, noise])
    options = {"n_components": 3, "noise": True, "n_init": 1, "tol": 0.0, "max_iter": 30}
    single = _fit(X, dtype="float32", **options)
    double = _fit(X, **options)
    # float32 log-densities: about 1e-7 relative per row, averaged
    np.testing.assert_allclose(single.lower_bound_, double.lower_bound_, rtol=1e-6)
    np.testing.assert_allclose(single.noise_weight_, double.noise_weight_, rtol=1e-4)
