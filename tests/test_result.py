"""MixtureResult: labelled parameters, responsibilities, criteria, sampling, save and load.

Criteria and densities are checked against closed forms computed here with
``scipy.stats.multivariate_normal``; sampling against the mixture's moments; saving
against the object that was saved.
"""

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats
from scipy.special import logsumexp

import bayesgmm
from bayesgmm import GaussianMixture, MixtureResult
from bayesgmm.covariance import get_covariance_model
from bayesgmm.io import FORMAT_NAME, FORMAT_VERSION

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
FEATURES = ["length", "width", "depth"]


def _native(covariance_type, rng, n_components=3, n_features=3):
    if covariance_type == "full":
        factor = rng.normal(size=(n_components, n_features, n_features))
        return factor @ np.swapaxes(factor, 1, 2) / n_features + 0.5 * np.eye(n_features)
    if covariance_type == "tied":
        factor = rng.normal(size=(n_features, n_features))
        return factor @ factor.T / n_features + 0.5 * np.eye(n_features)
    if covariance_type == "diag":
        return rng.uniform(0.3, 2.0, size=(n_components, n_features))
    return rng.uniform(0.3, 2.0, size=n_components)


def _result(covariance_type, feature_names=FEATURES, seed=0, **extra):
    rng = np.random.default_rng(seed)
    return MixtureResult(
        weights=np.array([0.5, 0.3, 0.2]),
        means=rng.normal(scale=3.0, size=(3, 3)),
        covariances=_native(covariance_type, rng),
        covariance_type=covariance_type,
        feature_names=feature_names,
        **extra,
    )


def _scipy_log_prob(result, X):
    """Per-row mixture log-density and component log-joint, one component at a time."""
    full = result.covariances.values
    joint = np.stack(
        [
            np.log(w) + stats.multivariate_normal(m, c).logpdf(X)
            for w, m, c in zip(result.weights.values, result.means.values, full, strict=True)
        ],
        axis=1,
    )
    return logsumexp(joint, axis=1), joint


@pytest.fixture
def frame():
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        rng.normal(scale=3.0, size=(40, 3)),
        columns=FEATURES,
        index=pd.Index(np.arange(100, 140), name="plant"),
    )


# --------------------------------------------------------------------- labelled parameters
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_parameters_are_labelled_by_the_dataframe_columns(frame, covariance_type):
    model = GaussianMixture(2, covariance_type=covariance_type, n_init=1).fit(frame)
    result = model.result_
    assert result.weights.dims == ("component",)
    assert result.means.dims == ("component", "feature")
    assert result.covariances.dims == ("component", "feature", "feature_bis")
    assert list(result.means["feature"].values) == FEATURES
    assert list(result.covariances["feature_bis"].values) == FEATURES
    assert list(result.weights["component"].values) == [0, 1]
    assert result.covariances.shape == (2, 3, 3)
    # the expanded covariances are the estimator's native ones
    kind = get_covariance_model(covariance_type)
    np.testing.assert_array_equal(result.covariances.values, kind.to_full(model.covariances_, 2, 3))
    assert result.means.sel(feature="width").shape == (2,)


def test_unnamed_features_get_default_names():
    result = _result("diag", feature_names=None)
    assert list(result.means["feature"].values) == ["x0", "x1", "x2"]


# --------------------------------------------------------------------- evaluation
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_prob_and_responsibilities_match_scipy(frame, covariance_type):
    result = _result(covariance_type)
    expected, joint = _scipy_log_prob(result, frame.to_numpy())
    log_prob = result.log_prob(frame)
    assert log_prob.dims == ("observation",)
    np.testing.assert_array_equal(log_prob["observation"].values, frame.index.to_numpy())
    np.testing.assert_allclose(log_prob.values, expected, rtol=1e-10)
    resp = result.responsibilities(frame)
    assert resp.dims == ("observation", "component")
    np.testing.assert_allclose(resp.sum("component").values, 1.0, rtol=1e-12)
    np.testing.assert_allclose(resp.values, np.exp(joint - expected[:, None]), atol=1e-12)
    np.testing.assert_array_equal(result.predict(frame).values, joint.argmax(axis=1))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_criteria_closed_forms(frame, covariance_type):
    result = _result(covariance_type)
    X = frame.to_numpy()
    log_prob, joint = _scipy_log_prob(result, X)
    n_parameters = 2 + 9 + {"full": 18, "tied": 6, "diag": 9, "spherical": 3}[covariance_type]
    assert result.n_parameters == n_parameters
    log_likelihood = log_prob.sum()
    bic = -2 * log_likelihood + n_parameters * np.log(len(X))
    assert result.aic(X) == pytest.approx(-2 * log_likelihood + 2 * n_parameters, rel=1e-10)
    assert result.bic(X) == pytest.approx(bic, rel=1e-10)
    # ICL = BIC - 2 sum_n log max_k r_nk (Biernacki et al. 2000, mclust's definition)
    log_resp = joint - log_prob[:, None]
    assert result.icl(X) == pytest.approx(bic - 2 * log_resp.max(axis=1).sum(), rel=1e-10)
    assert result.icl(X) >= result.bic(X)


def test_wrong_columns_are_refused(frame):
    result = _result("full")
    with pytest.raises(ValueError, match=r"columns \['width', 'length', 'depth'\].*same order"):
        result.log_prob(frame[["width", "length", "depth"]])
    with pytest.raises(ValueError, match="X has 2 features.*expecting 3"):
        result.log_prob(frame.to_numpy()[:, :2])


def test_unknown_covariance_type_is_refused():
    with pytest.raises(ValueError, match=r"covariance_type must be one of.*got 'dense'"):
        MixtureResult(
            weights=np.ones(1),
            means=np.zeros((1, 2)),
            covariances=np.ones(1),
            covariance_type="dense",
        )


# --------------------------------------------------------------------- sampling
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_moments_match_the_mixture(covariance_type):
    result = _result(covariance_type)
    n_samples = 200_000
    X, labels = result.sample(n_samples, random_state=0, return_labels=True)
    assert X.shape == (n_samples, 3) and labels.shape == (n_samples,)
    weights = result.weights.values
    means = result.means.values
    full = result.covariances.values
    mean = weights @ means
    second = np.einsum("k,kde->de", weights, full + means[:, :, None] * means[:, None, :])
    covariance = second - np.outer(mean, mean)
    scale = np.sqrt(np.diag(covariance))
    # standard errors are about scale / sqrt(n) = scale * 0.0022; allow 5 of them
    np.testing.assert_allclose(X.mean(axis=0), mean, atol=5 * scale.max() / np.sqrt(n_samples))
    np.testing.assert_allclose(np.cov(X, rowvar=False), covariance, atol=0.02 * scale.max() ** 2)
    np.testing.assert_allclose(np.bincount(labels) / n_samples, weights, atol=0.005)
    # within a component, the draws have that component's covariance
    np.testing.assert_allclose(np.cov(X[labels == 0], rowvar=False), full[0], atol=0.05)


def test_sample_is_reproducible_with_a_seed():
    result = _result("full")
    np.testing.assert_array_equal(result.sample(10, random_state=3), result.sample(10, 3))
    assert not np.array_equal(result.sample(10, random_state=3), result.sample(10, 4))


# --------------------------------------------------------------------- save and load
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("named", [True, False])
def test_save_load_round_trips_exactly(tmp_path, frame, covariance_type, named):
    data = frame if named else frame.to_numpy()
    model = GaussianMixture(2, covariance_type=covariance_type, n_init=1).fit(data)
    result = model.result_
    path = tmp_path / "model.nc"
    result.save(path)
    loaded = bayesgmm.load(path)
    assert isinstance(loaded, MixtureResult)
    assert loaded.covariance_type == covariance_type
    assert loaded.feature_names == result.feature_names
    for name in ("weights", "means", "covariances"):
        xr.testing.assert_identical(getattr(loaded, name), getattr(result, name))
    np.testing.assert_array_equal(loaded._covariances, model.covariances_)
    xr.testing.assert_identical(loaded.history, result.history)
    assert loaded.log_likelihood_ == result.log_likelihood_
    assert loaded.converged == result.converged
    assert loaded.degenerate == result.degenerate
    assert loaded.reg_covar == result.reg_covar
    assert loaded.method == result.method == "em"
    xr.testing.assert_identical(loaded.log_prob(data), result.log_prob(data))
    xr.testing.assert_identical(loaded.to_dataset(), result.to_dataset())


def test_save_load_keeps_degenerate_notes(tmp_path):
    result = _result("diag", degenerate=["component 1 sits on tied values"], converged=False)
    bayesgmm.save(result, tmp_path / "degenerate.nc")
    loaded = MixtureResult.load(tmp_path / "degenerate.nc")
    assert loaded.degenerate == ["component 1 sits on tied values"]
    assert loaded.converged is False


def test_save_overwrites_an_existing_file(tmp_path):
    path = tmp_path / "model.nc"
    _result("full", seed=0).save(path)
    _result("spherical", seed=1).save(path)
    assert bayesgmm.load(path).covariance_type == "spherical"


def test_save_refuses_anything_but_a_result(tmp_path):
    with pytest.raises(TypeError, match="save expects a MixtureResult.*got GaussianMixture"):
        bayesgmm.save(GaussianMixture(), tmp_path / "model.nc")


def test_load_refuses_a_file_that_is_not_netcdf(tmp_path):
    path = tmp_path / "notes.nc"
    path.write_text("weights,means\n0.5,1.0\n")
    with pytest.raises(ValueError, match=r"is not a bayesgmm result file.*MixtureResult\.save"):
        bayesgmm.load(path)


def test_load_refuses_a_netcdf_file_of_something_else(tmp_path):
    path = tmp_path / "other.nc"
    xr.Dataset({"temperature": ("time", np.arange(3.0))}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ValueError, match=r"is not a bayesgmm result file.*no 'bayesgmm' group"):
        bayesgmm.load(path)


def test_load_refuses_a_group_without_the_format_mark(tmp_path):
    path = tmp_path / "unmarked.nc"
    _result("full").to_dataset().to_netcdf(path, group="bayesgmm", engine="h5netcdf")
    with pytest.raises(ValueError, match=r"not a bayesgmm result file.*'format' attribute"):
        bayesgmm.load(path)


def test_load_refuses_another_format_version(tmp_path):
    path = tmp_path / "future.nc"
    dataset = _result("full").to_dataset()
    dataset.attrs.update(
        {"format": FORMAT_NAME, "format_version": FORMAT_VERSION + 1, "bayesgmm_version": "9.0"}
    )
    dataset.to_netcdf(path, group="bayesgmm", engine="h5netcdf")
    with pytest.raises(
        ValueError,
        match=rf"format version {FORMAT_VERSION + 1}.*reads version {FORMAT_VERSION}.*9\.0",
    ):
        bayesgmm.load(path)


def test_load_of_a_missing_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such file"):
        bayesgmm.load(tmp_path / "absent.nc")


def test_repr_names_the_model_and_its_means():
    text = repr(_result("tied"))
    assert "covariance_type='tied'" in text and "n_components=3" in text
    assert "length" in text
