"""Saving and loading results: exact round trips, and refusal of anything else.

A result file is netCDF-4 with the parameters in the group ``bayesgmm``; loading reads
arrays and attributes only, so it can never run code. Files that are not bayesgmm
results, or that were written in another format version, are refused with a message
that says which and what to do.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayesgmm.io
from bayesgmm import GaussianMixture, MixtureResult, load, save

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
NOT_A_RESULT = (
    r"is not a bayesgmm result file \({why}.*\)\. Load files written by MixtureResult\.save"
)


def _data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(-2, 1, (40, 3)), rng.normal(2, 0.5, (40, 3))])


X = _data()


@pytest.fixture(scope="module", params=COVARIANCE_TYPES)
def fitted(request) -> GaussianMixture:
    frame = pd.DataFrame(X, columns=["length", "größe", "3"])
    return GaussianMixture(2, covariance_type=request.param, n_init=1, random_state=0).fit(frame)


def _assert_same_result(loaded: MixtureResult, original: MixtureResult) -> None:
    assert type(loaded) is MixtureResult
    assert loaded.covariance_type == original.covariance_type
    assert loaded.feature_names == original.feature_names
    assert loaded.method == original.method
    assert loaded.converged == original.converged
    assert loaded.log_likelihood_ == original.log_likelihood_
    assert loaded.reg_covar == original.reg_covar
    assert loaded.degenerate == original.degenerate
    for name in ("weights", "means", "covariances", "history"):
        before, after = getattr(original, name), getattr(loaded, name)
        if before is None:
            assert after is None, name
            continue
        assert after.values.tobytes() == before.values.tobytes(), name
        assert after.dims == before.dims
    assert loaded.to_dataset().identical(original.to_dataset())


def test_round_trip_is_exact(fitted: GaussianMixture, tmp_path: Path) -> None:
    path = tmp_path / "model.nc"
    fitted.result_.save(path)
    loaded = MixtureResult.load(path)
    _assert_same_result(loaded, fitted.result_)
    frame = pd.DataFrame(X, columns=["length", "größe", "3"])
    np.testing.assert_array_equal(loaded.predict(frame).values, fitted.predict(frame))
    assert (
        loaded.responsibilities(frame).values.tobytes()
        == fitted.result_.responsibilities(frame).values.tobytes()
    )
    with pytest.raises(ValueError, match=r"fitted on \['length', 'größe', '3'\]"):
        loaded.predict(pd.DataFrame(X, columns=["a", "b", "c"]))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_round_trip_without_feature_names(covariance_type: str, tmp_path: Path) -> None:
    model = GaussianMixture(2, covariance_type=covariance_type, n_init=1, random_state=0).fit(X)
    save(model.result_, str(tmp_path / "model.nc"))  # a str path works as well as a Path
    loaded = load(str(tmp_path / "model.nc"))
    _assert_same_result(loaded, model.result_)
    assert loaded.feature_names == ["x0", "x1", "x2"]
    # no names were given, so a DataFrame with any column names is accepted
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    np.testing.assert_array_equal(loaded.predict(frame).values, model.predict(X))


def test_round_trip_keeps_degenerate_notes_and_metadata(tmp_path: Path) -> None:
    result = MixtureResult(
        weights=np.array([0.25, 0.75]),
        means=np.array([[0.0, 1.0], [2.0, 3.0]]),
        covariances=np.array([[1.0, 1e-300], [2.0, 3.0]]),
        covariance_type="diag",
        feature_names=["x0", "x1"],  # given names that happen to equal the defaults
        history=np.array([-3.0, -2.5, -2.25]),
        log_likelihood_=-2.25,
        converged=False,
        degenerate=["component 0 (weight 0.25) sits on tied values of feature(s) [1]"],
        reg_covar=1e-3,
    )
    save(result, tmp_path / "model.nc")
    loaded = load(tmp_path / "model.nc")
    _assert_same_result(loaded, result)


def test_save_overwrites_an_existing_file(fitted: GaussianMixture, tmp_path: Path) -> None:
    path = tmp_path / "model.nc"
    path.write_text("old contents")
    save(fitted.result_, path)
    _assert_same_result(load(path), fitted.result_)


def test_save_refuses_what_is_not_a_result(fitted: GaussianMixture, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"expects a MixtureResult .* got GaussianMixture"):
        save(fitted, tmp_path / "model.nc")


def test_load_of_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"No such file: .*nothing\.nc"):
        load(tmp_path / "nothing.nc")


# ----------------------------------------------------------- files that are not results
def _text(path: Path) -> None:
    path.write_text("weights,means\n0.5,1.0\n")


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _plain_hdf5(path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as handle:
        handle["weights"] = np.arange(3.0)


def _netcdf4_without_group(path: Path) -> None:
    xr.Dataset({"weights": ("component", [0.5, 0.5])}).to_netcdf(path, engine="h5netcdf")


def _netcdf3(path: Path) -> None:
    xr.Dataset({"weights": ("component", [0.5, 0.5])}).to_netcdf(path, engine="scipy")


def _result_dataset() -> xr.Dataset:
    model = GaussianMixture(2, n_init=1, random_state=0).fit(X)
    return model.result_.to_dataset()


def _other_format(path: Path) -> None:
    dataset = _result_dataset()
    dataset.attrs.update({"format": "sklearn-gmm", "format_version": 1})
    dataset.to_netcdf(path, group="bayesgmm", engine="h5netcdf")


def _no_format(path: Path) -> None:
    _result_dataset().to_netcdf(path, group="bayesgmm", engine="h5netcdf")


def _damaged(path: Path) -> None:
    dataset = _result_dataset().drop_vars("means")
    dataset.attrs.update({"format": "bayesgmm-result", "format_version": 1})
    dataset.to_netcdf(path, group="bayesgmm", engine="h5netcdf")


NOT_RESULTS = {
    "plain-text": (_text, r"it is not a netCDF-4 \(HDF5\) file: it starts with b'weights,"),
    "empty": (_empty, r"it is empty"),
    "hdf5-without-group": (_plain_hdf5, r"no 'bayesgmm' group in a netCDF-4 file"),
    "netcdf4-without-group": (_netcdf4_without_group, r"no 'bayesgmm' group in a netCDF-4 file"),
    "netcdf3": (_netcdf3, r"it is a netCDF-3 file; bayesgmm results are netCDF-4"),
    "other-format": (_other_format, r"its 'format' attribute is 'sklearn-gmm', not "
                                    r"'bayesgmm-result'"),
    "no-format": (_no_format, r"it has no 'format' attribute"),
    "damaged": (_damaged, r"it is damaged or incomplete: \['means'\] missing"),
}  # fmt: skip


@pytest.mark.parametrize("kind", NOT_RESULTS)
def test_load_refuses_a_file_that_is_not_a_result(kind: str, tmp_path: Path) -> None:
    make, why = NOT_RESULTS[kind]
    path = tmp_path / "model.nc"
    make(path)
    with pytest.raises(ValueError, match=NOT_A_RESULT.format(why=why)) as excinfo:
        load(path)
    assert "bayesgmm" in str(excinfo.traceback[-1].path)


class _Payload:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_load_never_unpickles(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    path = tmp_path / "model.nc"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ValueError, match=NOT_A_RESULT.format(why=r"it looks like a Python pickle")):
        load(path)
    assert not marker.exists()


def test_loading_a_valid_file_uses_no_pickle(
    fitted: GaussianMixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.nc"
    save(fitted.result_, path)

    def refuse(*args, **kwargs):
        raise AssertionError("load called pickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(np, "load", refuse)
    _assert_same_result(load(path), fitted.result_)


def test_another_format_version_gets_a_clear_message(
    fitted: GaussianMixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "future.nc"
    with monkeypatch.context() as patched:
        patched.setattr(bayesgmm.io, "FORMAT_VERSION", 2)
        save(fitted.result_, path)
    with pytest.raises(ValueError) as excinfo:
        load(path)
    message = str(excinfo.value)
    assert "written in bayesgmm result format version 2" in message
    assert f"reads version {bayesgmm.io.FORMAT_VERSION}" in message
    assert f"the bayesgmm version that wrote it ({bayesgmm.__version__})" in message
    assert "refit or re-save" in message


# ------------------------------------------------------------------ Bayesian results
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_bayesian_round_trip_is_exact(
    covariance_type: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Posterior, feature names, covariance type and method survive save and load.

    The draws come from a stand-in sampler (tests/fake_sampler.py): persistence does
    not depend on how they were made, and this keeps the test fast.
    """
    from fake_sampler import em_parameters, fake_run_inference

    import bayesgmm.bayes.estimator as estimator
    from bayesgmm import BayesianGaussianMixture
    from bayesgmm.exceptions import SamplerWarning

    frame = pd.DataFrame(X, columns=["length", "größe", "3"])
    centre = em_parameters(X, 2, covariance_type)
    monkeypatch.setattr(estimator, "run_inference", fake_run_inference(centre))
    model = BayesianGaussianMixture(
        2, covariance_type=covariance_type, draws=100, chains=2, random_state=0,
        em_kwargs={"n_init": 1},
    )  # fmt: skip
    with pytest.warns(SamplerWarning):  # 200 draws: ESS below the default 400
        model.fit(frame)
    path = tmp_path / "bayes.nc"
    model.result_.save(path)
    loaded = load(path)
    _assert_same_result(loaded, model.result_)
    assert loaded.method == "nuts"
    original = model.result_.posterior
    assert set(loaded.posterior.groups()) == set(original.groups())
    for group in original.groups():
        assert loaded.posterior[group].identical(original[group]), group
    assert loaded.posterior.posterior["means"].coords["feature"].values.tolist() == [
        "length",
        "größe",
        "3",
    ]
    assert loaded.responsibilities(frame).identical(model.result_.responsibilities(frame))
    assert loaded.log_prob(frame).values.tobytes() == model.result_.log_prob(frame).values.tobytes()
