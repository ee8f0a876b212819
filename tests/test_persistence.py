"""Saving and loading results: exact round trips, and refusal of anything else.

A result file is netCDF-4 with the parameters in the group ``bayesgmm``; loading reads
arrays and attributes only, so it can never run code. Files that are not bayesgmm
results, or that were written in another format version, are refused with a message
that says which and what to do.
"""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayesgmm.io
from bayesgmm import GaussianMixture, MixtureResult, load, save
from bayesgmm.covariance import MODELS

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
NOT_A_RESULT = (
    r"is not a bayesgmm result file \({why}.*\)\. Load files written by MixtureResult\.save"
)


def _data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(-2, 1, (40, 3)), rng.normal(2, 0.5, (40, 3))])


X = _data()


@pytest.fixture(scope="module", params=sorted(MODELS))
def fitted(request) -> GaussianMixture:
    """An EM fit of every covariance model (their covariances have different shapes)."""
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


# ------------------------------------------------------------ crafted files: tools
h5py = pytest.importorskip("h5py")


@pytest.fixture(scope="module")
def em_result() -> MixtureResult:
    frame = pd.DataFrame(X, columns=["length", "width", "depth"])
    return GaussianMixture(2, n_init=1, random_state=0).fit(frame).result_


@pytest.fixture(scope="module")
def bayes_result() -> MixtureResult:
    """A Bayesian result from the stand-in sampler (tests/fake_sampler.py), all five groups."""
    from fake_sampler import em_parameters, fake_run_inference

    import bayesgmm.bayes.estimator as estimator
    from bayesgmm import BayesianGaussianMixture
    from bayesgmm.exceptions import SamplerWarning

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(estimator, "run_inference", fake_run_inference(em_parameters(X, 2, "full")))
        model = BayesianGaussianMixture(2, draws=20, chains=2, random_state=0,
                                        em_kwargs={"n_init": 1})  # fmt: skip
        with pytest.warns(SamplerWarning):
            model.fit(pd.DataFrame(X, columns=["length", "width", "depth"]))
    return model.result_


def _saved(result: MixtureResult, tmp_path: Path, name: str = "model.nc") -> Path:
    path = tmp_path / name
    save(result, path)
    return path


def _saved_and_edited(result: MixtureResult, tmp_path: Path, edit) -> Path:
    """Save ``result``, then let ``edit`` change the file through h5py."""
    path = _saved(result, tmp_path)
    with h5py.File(path, "r+") as handle:
        edit(handle)
    return path


def _replace(group, name: str, make=None, **create):
    """Replace ``group[name]`` by a new dataset, keeping its netCDF dims and attributes.

    ``make(group, name)`` creates the new dataset; by default ``create_dataset(**create)``.
    """
    old = group[name]
    attrs = {key: value for key, value in old.attrs.items() if key != "DIMENSION_LIST"}
    scales = [old.dims[axis][0] for axis in range(old.ndim)]
    for axis, scale in enumerate(scales):
        old.dims[axis].detach_scale(scale)
    del group[name]
    new = make(group, name) if make else group.create_dataset(name, **create)
    for key, value in attrs.items():
        new.attrs[key] = value
    for axis, scale in enumerate(scales):
        new.dims[axis].attach_scale(scale)
    return new


def _refused(path: Path, why: str) -> str:
    """Load must refuse ``path`` with a message naming the file and matching ``why``."""
    pattern = rf"is not a bayesgmm result file \(.*{why}.*\)\. Load files written by Mixture"
    with pytest.raises(ValueError, match=pattern) as excinfo:
        load(path)
    assert str(path) in str(excinfo.value)
    return str(excinfo.value)


# ------------------------------------------------------------ data from outside the file
def _secret(tmp_path: Path, values: np.ndarray) -> Path:
    secret = tmp_path / "outside" / "secret.bin"
    secret.parent.mkdir(exist_ok=True)
    secret.write_bytes(values.astype("<f8").tobytes())
    return secret


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "dot-dot"])
def test_external_raw_storage_is_refused_before_reading(em_result, tmp_path, relative):
    """Non-regression: a variable's bytes came from any readable file (`info` printed them)."""
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)
    path = _saved(em_result, folder)
    secret = _secret(tmp_path, em_result.means.values.ravel() + 1000.0)
    name = "../../outside/secret.bin" if relative else str(secret)
    with h5py.File(path, "r+") as handle:
        shape = handle["bayesgmm/means"].shape
        _replace(handle["bayesgmm"], "means", shape=shape, dtype="<f8", external=[(name, 0, 48)])
    _refused(path, r"its variable 'means' keeps its values in other files \[.*secret")


def test_external_storage_on_a_fifo_does_not_hang(em_result, tmp_path):
    """Non-regression: external storage pointed at a FIFO made load block forever."""
    import threading

    path = _saved(em_result, tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with h5py.File(path, "r+") as handle:
        _replace(
            handle["bayesgmm"], "weights", shape=(2,), dtype="<f8", external=[(str(fifo), 0, 16)]
        )
    outcome: list[BaseException] = []
    worker = threading.Thread(target=lambda: outcome.append(_error_of(load, path)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    if worker.is_alive():  # unblock the reader, then fail
        with open(fifo, "wb") as writer:
            writer.write(bytes(16))
        worker.join(timeout=30)
        pytest.fail("load blocked on a FIFO named by external storage")
    assert isinstance(outcome[0], ValueError)
    assert "keeps its values in other files" in str(outcome[0])


def _error_of(function, *args) -> BaseException | None:
    try:
        function(*args)
    except BaseException as error:  # the test inspects it
        return error
    return None


def test_loading_a_regular_file_only(tmp_path):
    fifo = tmp_path / "model.nc"
    os.mkfifo(fifo)
    _refused(fifo, r"it is not a regular file \(a pipe, socket or device\)")
    _refused(tmp_path, r"it is a folder")


def test_virtual_datasets_are_refused(em_result, tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle["means"] = em_result.means.values + 1000.0
    path = _saved(em_result, tmp_path)
    layout = h5py.VirtualLayout(shape=(2, 3), dtype="<f8")
    layout[:] = h5py.VirtualSource(str(other), "means", shape=(2, 3))
    with h5py.File(path, "r+") as handle:
        _replace(handle["bayesgmm"], "means", lambda group, name: group.create_virtual_dataset(
            name, layout))  # fmt: skip
    _refused(path, r"its variable 'means' is a virtual dataset")


@pytest.mark.parametrize("kind", ["external", "soft"])
def test_links_are_refused(em_result, tmp_path, kind):
    other = tmp_path / "other.nc"
    save(em_result, other)
    path = _saved(em_result, tmp_path)
    with h5py.File(path, "r+") as handle:
        del handle["bayesgmm/history"]
        handle["bayesgmm/history"] = (
            h5py.ExternalLink(str(other), "/bayesgmm/history") if kind == "external"
            else h5py.SoftLink("/bayesgmm/weights")
        )  # fmt: skip
    _refused(path, r"'bayesgmm/history' is a link to .*; a result file holds its data itself")


def test_a_linked_parameter_group_is_refused(em_result, tmp_path):
    other = _saved(em_result, tmp_path, "other.nc")
    path = tmp_path / "model.nc"
    with h5py.File(path, "w") as handle:
        handle["bayesgmm"] = h5py.ExternalLink(str(other), "/bayesgmm")
    _refused(path, r"'bayesgmm' is a link to '.*other\.nc':/bayesgmm")


# ------------------------------------------------------------ sizes before reading
def test_a_small_file_cannot_claim_gigabytes(em_result, tmp_path):
    """Non-regression: a 16 KiB file with a compressed fill-value variable took 2.1 GB."""
    import tracemalloc

    import h5netcdf

    path = _saved(em_result, tmp_path)
    with h5netcdf.File(path, "a") as handle:
        group = handle.groups["bayesgmm"]
        group.dimensions["rows"] = 16000
        group.dimensions["columns"] = 16000
        group.create_variable("huge", ("rows", "columns"), "f8", compression="gzip",
                              chunks=(1000, 1000), fillvalue=1.0)  # fmt: skip
    assert path.stat().st_size < 64 * 1024
    tracemalloc.start()
    try:
        _refused(path, r"its variable 'huge' claims \(16000, 16000\) values")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6


def test_a_variable_of_a_result_still_needs_its_bytes(tmp_path):
    """Where the schema allows any length (the EM history), the stored bytes bound it."""
    import h5netcdf

    result = MixtureResult(weights=np.array([1.0]), means=np.zeros((1, 2)),
                           covariances=np.ones(1), covariance_type="spherical")  # fmt: skip
    path = _saved(result, tmp_path)
    with h5netcdf.File(path, "a") as handle:
        group = handle.groups["bayesgmm"]
        group.dimensions["iteration"] = 10**8
        group.create_variable("history", ("iteration",), "f8", compression="gzip",
                              chunks=(10**6,), fillvalue=-1.0)  # fmt: skip
    _refused(path, r"its variable 'history' claims \(100000000,\) values \(800000000 "
                   r"bytes\) but the file stores \d+ bytes")  # fmt: skip


def test_lengths_must_agree_with_the_header(em_result, bayes_result, tmp_path):
    path = _saved(em_result, tmp_path)
    with h5py.File(path, "r+") as handle:
        handle["bayesgmm"].attrs["n_components"] = np.int64(3)
    _refused(path, r"its variable 'weights' has length 2 along 'component', but the header "
                   r"says n_components=3")  # fmt: skip
    path = _saved(bayes_result, tmp_path, "bayes.nc")
    with h5py.File(path, "r+") as handle:
        assert handle["bayesgmm"].attrs["n_observations"] == len(X)
        handle["bayesgmm"].attrs["n_observations"] = np.int64(len(X) + 1)
    # the first group with rows that is checked: posterior_predictive or log_likelihood
    _refused(path, rf"'\w+/\w+' has length {len(X)} along 'observation', but the "
                   rf"header says n_observations={len(X) + 1}")  # fmt: skip


def test_a_variable_of_another_length_is_refused(em_result, tmp_path):
    path = _saved(em_result, tmp_path)
    with h5py.File(path, "r+") as handle:
        _replace(handle["bayesgmm"], "weights", data=np.full(3, 1 / 3))
    _refused(path, r"its variable 'weights' has length 3 along 'component', but the header "
                   r"says n_components=2")  # fmt: skip


def test_a_result_without_components_is_refused(tmp_path):
    path = tmp_path / "model.nc"
    empty = xr.Dataset(
        {"weights": ("component", np.zeros(0)),
         "means": (("component", "feature"), np.zeros((0, 1))),
         "covariances": ("component", np.zeros(0))},
        coords={"feature": ["x"]},
        attrs={"covariance_type": "spherical", "format": "bayesgmm-result", "format_version": 1},
    )  # fmt: skip
    empty.to_netcdf(path, group="bayesgmm", engine="h5netcdf")
    _refused(path, r"its variable 'weights' has no entries along 'component'")


# ------------------------------------------------------------ values
def _set(name: str, value):
    def edit(handle):
        handle["bayesgmm"][name][...] = value

    return edit


def _attr(name: str, value):
    def edit(handle):
        handle["bayesgmm"].attrs[name] = value

    return edit


def _complex_means(handle):
    _replace(handle["bayesgmm"], "means", data=np.ones((2, 3)) * (1 + 1j))


def _scaled_means(handle):
    handle["bayesgmm/means"].attrs["scale_factor"] = 2.0


def _filled_weights(handle):
    del handle["bayesgmm/weights"].attrs["_FillValue"]
    _replace(handle["bayesgmm"], "weights", data=np.array([0.5, 0.5]), fillvalue=0.5)
    handle["bayesgmm/weights"].attrs["_FillValue"] = 0.5


_ASYMMETRIC = np.array([[1.0, 0.5, 0.0], [0.1, 1.0, 0.0], [0.0, 0.0, 1.0]])
_INDEFINITE = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def _set_covariance(component: int, matrix: np.ndarray):
    def edit(handle):
        handle["bayesgmm/covariances"][component] = matrix

    return edit


BAD_VALUES = {
    "nan-weight": (_set("weights", [np.nan, 1.0]), r"its variable 'weights' \(component 0\) is N"),
    "negative-weight": (_set("weights", [-0.25, 1.25]), r"'weights' \(component 0\) is negative"),
    "unnormalised": (_set("weights", [0.5, 0.6]), r"'weights' sums to 1\.1\d*, not 1 \(within"),
    "nan-mean": (_set("means", [[0, 0, 0], [0, np.nan, 0]]),
                 r"'means' \(component 1, feature 1\) is NaN or infinite"),
    "complex-means": (_complex_means, r"its variable 'means' holds complex128"),
    "asymmetric": (_set_covariance(0, _ASYMMETRIC), r"'covariances' \(component 0\) is not symm"),
    "indefinite": (_set_covariance(1, _INDEFINITE),
                   r"'covariances' \(component 1\) is not positive definite"),
    "converged-text": (_attr("converged", "False"),
                       r"its attribute 'converged' is 'False'; it must be 0 or 1"),
    "converged-two": (_attr("converged", np.int64(2)), r"'converged' is 2; it must be 0 or 1"),
    "names-given-text": (_attr("feature_names_given", "yes"), r"'feature_names_given' is 'yes'"),
    "deep-json": (_attr("degenerate", "[" * 20000 + "]" * 20000),
                  r"its attribute 'degenerate' is '\[\[\[.*\.\.\.', not a JSON list of strings"),
    "json-not-list": (_attr("degenerate", '{"a": 1}'), r"'degenerate' .* not a JSON list"),
    "unknown-type": (_attr("covariance_type", "round"), r"'covariance_type' is 'round', not one"),
    "method-number": (_attr("method", np.int64(3)), r"its attribute 'method' is 3, not text"),
    "nan-log-likelihood": (_attr("log_likelihood", np.nan), r"'log_likelihood' is nan, not a fin"),
    "negative-reg": (_attr("reg_covar", -1.0), r"'reg_covar' is -1\.0, not a finite number >= 0"),
    "scale-factor": (_scaled_means, r"'means' has attribute\(s\) \['scale_factor'\], which "
                                    r"would change its values"),
    "fill-value": (_filled_weights, r"'weights' has the fill value 0\.5, not NaN"),
}  # fmt: skip


@pytest.mark.parametrize(
    ("covariance_type", "values", "why"),
    [
        ("diag", [[1.0, -1.0, 1.0], [1.0, 1.0, 1.0]], r"\(component 0, feature 1\) is not posit"),
        ("spherical", [1.0, 0.0], r"'covariances' \(component 1\) is not positive \(a variance\)"),
        ("tied", _INDEFINITE, r"its variable 'covariances' is not positive definite"),
    ],
)  # fmt: skip
def test_variances_are_checked_per_covariance_type(covariance_type, values, why, tmp_path):
    model = GaussianMixture(2, covariance_type=covariance_type, n_init=1, random_state=0).fit(X)
    path = _saved(model.result_, tmp_path)
    with h5py.File(path, "r+") as handle:
        handle["bayesgmm/covariances"][...] = values
    _refused(path, why)


def test_a_float32_fit_round_trips(tmp_path):
    """The tolerances of the value checks admit what a float32 fit stores."""
    model = GaussianMixture(3, n_init=1, random_state=0).fit(X.astype(np.float32))
    _assert_same_result(load(_saved(model.result_, tmp_path)), model.result_)


def _delete(name: str):
    def edit(handle):
        del handle[name]

    return edit


def _posterior_covariance(handle):
    handle["posterior/covariances"][1, 3, 0] = _INDEFINITE


def _add_group(handle):
    handle.create_group("prior")


BAD_POSTERIORS = {
    "no-posterior": (_delete("posterior"), r"method 'nuts' needs a 'posterior' group"),
    "no-posterior-means": (_delete("posterior/means"), r"its group 'posterior' lacks \['means'\]"),
    "indefinite-draw": (_posterior_covariance, r"its variable 'posterior/covariances' \(chain 1, "
                                               r"draw 3, component 0\) is not positive definite"),
    "nan-draw": (lambda h: h["posterior/weights"].__setitem__((0, 5, 1), np.nan),
                 r"'posterior/weights' \(chain 0, draw 5, component 1\) is NaN"),
    "not-a-permutation": (lambda h: h["sample_stats/label_permutation"].__setitem__((0, 2), [0, 0]),
                          r"'sample_stats/label_permutation' \(chain 0, draw 2\) is not a perm"),
    "nan-observation": (lambda h: h["observed_data/x"].__setitem__((4, 0), np.nan),
                        r"'observed_data/x' has a value that is not finite"),
    "unknown-group": (_add_group, r"it has group\(s\) \['prior'\] that a result does not have"),
}  # fmt: skip


CRAFTED = {f"em-{kind}": ("em_result", *case) for kind, case in BAD_VALUES.items()}
CRAFTED.update({f"bayes-{kind}": ("bayes_result", *case) for kind, case in BAD_POSTERIORS.items()})


@pytest.mark.parametrize("kind", CRAFTED)
def test_values_and_groups_are_checked_on_load(request, tmp_path, kind):
    """Non-regression: all of these loaded; predict then labelled every row 0, or a later
    call failed with AttributeError, TypeError (a non-positive-definite draw), ..."""
    fixture, edit, why = CRAFTED[kind]
    _refused(_saved_and_edited(request.getfixturevalue(fixture), tmp_path, edit), why)


def test_an_em_file_with_a_posterior_is_refused(em_result, bayes_result, tmp_path):
    path = _saved(em_result, tmp_path)
    posterior = bayes_result.posterior.posterior
    posterior.to_netcdf(path, mode="a", group="posterior", engine="h5netcdf")
    _refused(path, r"it holds group\(s\) \['posterior'\], but method 'em' has no posterior")


def test_from_dataset_checks_what_it_is_given(em_result):
    dataset = em_result.to_dataset()
    dataset.attrs["converged"] = "False"
    with pytest.raises(ValueError, match=r"not a result's .*'converged' is 'False'; it must be"):
        MixtureResult.from_dataset(dataset)
    dataset = em_result.to_dataset()
    dataset["weights"] = ("component", [0.5, 0.6])
    with pytest.raises(ValueError, match=r"'weights' sums to 1\.1"):
        MixtureResult.from_dataset(dataset)


# ------------------------------------------------------------ saving keeps the old file
def _no_temporaries(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_save_that_fails_midway_leaves_the_old_file(em_result, tmp_path, monkeypatch):
    import errno

    path = _saved(em_result, tmp_path)
    before = path.read_bytes()
    writes = []
    original = xr.Dataset.to_netcdf

    def full_disk(self, target, *args, **kwargs):
        original(self, target, *args, **kwargs)  # bytes reach the temporary file
        writes.append(Path(target))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full_disk)
    other = GaussianMixture(3, n_init=1, random_state=1).fit(X).result_
    with pytest.raises(OSError, match=r"Cannot save the result to .*model\.nc.*: No space left on "
                                      r"device; the existing file is unchanged"):  # fmt: skip
        save(other, path)
    assert writes and writes[0].parent == tmp_path and writes[0] != path
    assert path.read_bytes() == before
    _no_temporaries(tmp_path)


def test_an_interrupted_save_leaves_the_old_file(em_result, tmp_path, monkeypatch):
    path = _saved(em_result, tmp_path)
    before = path.read_bytes()

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save(em_result, path)
    assert path.read_bytes() == before
    _no_temporaries(tmp_path)


def test_save_checks_before_writing(em_result, bayes_result, tmp_path):
    """Non-regression: each of these deleted the previous model, then failed."""
    path = _saved(em_result, tmp_path)
    before = path.read_bytes()
    surrogate = MixtureResult(weights=np.array([1.0]), means=np.zeros((1, 2)),
                              covariances=np.ones(1), covariance_type="spherical",
                              feature_names=["ok", "bad\udcff"])  # fmt: skip
    with pytest.raises(ValueError, match=r"Cannot save the result to .*: a value of 'feature', "
                                         r"'bad\\udcff', is not valid Unicode \(surrogates not "
                                         r"allowed: '\\udcff'\); rename it\. Nothing was "
                                         r"written; the existing file is unchanged\."):  # fmt: skip
        save(surrogate, path)
    nan = MixtureResult(weights=np.array([np.nan, 1.0]), means=np.zeros((2, 1)),
                        covariances=np.ones(2), covariance_type="spherical")  # fmt: skip
    with pytest.raises(ValueError, match=r"'weights' \(component 0\) is NaN or infinite\. Nothing"):
        save(nan, path)
    attrs = bayes_result.posterior.posterior.attrs
    attrs["note"] = {"made": "by hand"}
    try:
        with pytest.raises(ValueError, match=r"the attribute 'note' of the group "
                                             r"'posterior' is \{'made': 'by hand'\} "
                                             r"\(dict\); netCDF"):  # fmt: skip
            save(bayes_result, path)
    finally:
        del attrs["note"]
    assert path.read_bytes() == before
    _no_temporaries(tmp_path)


def test_a_new_file_gets_the_usual_permissions(em_result, tmp_path):
    import stat

    umask = os.umask(0o022)
    os.umask(umask)
    path = _saved(em_result, tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


_SAVER = """
import sys, time
import numpy as np
from bayesgmm import MixtureResult, save
import bayesgmm.io as io

def result(k, n_history):
    return MixtureResult(weights=np.full(k, 1 / k), means=np.arange(k, dtype=float)[:, None],
                         covariances=np.ones(k), covariance_type="spherical",
                         history=np.linspace(-10.0, -1.0, n_history))

old, new = result(1, 10), result(2, 2_000_000)
path = sys.argv[1]
save(old, path)
if sys.argv[2] == "pause":  # stop inside the save, after the temporary file is written
    original = io._write_groups
    def written(*args):
        original(*args)
        print("written", flush=True)
        time.sleep(600)
    io._write_groups = written
    save(new, path)
print("ready", flush=True)
while True:
    save(new, path)
    save(old, path)
"""


@pytest.mark.parametrize("when", ["pause", "random", "random-again"])
def test_kill_during_save_leaves_the_old_or_the_new_file(tmp_path, when):
    """kill -9 while saving: the target is the old or the new model, never a broken file."""
    import random
    import signal
    import subprocess
    import sys

    path = tmp_path / "model.nc"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    child = subprocess.Popen([sys.executable, "-c", _SAVER, str(path), when],
                             stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        line = child.stdout.readline().strip()
        assert line == ("written" if when == "pause" else "ready")
        if when != "pause":
            time.sleep(random.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
        child.stdout.close()
    loaded = load(path)
    assert loaded.n_components in (1, 2)
    if when == "pause":  # killed before the rename: the old file, and a temporary beside it
        assert loaded.n_components == 1
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_saved_log_likelihood_kept_in_float32_or_dropped_and_restored(tmp_path):
    """The pointwise log-likelihood is most of a Bayesian file: float32 halves it, "drop"
    leaves it out, and restore_log_likelihood recomputes it from the stored data."""
    from bayes_fakes import fake_posterior_result

    rng = np.random.default_rng(5)
    data = np.concatenate([rng.normal(-2, 1, (300, 2)), rng.normal(2, 1, (300, 2))])
    full = np.stack([np.eye(2), np.eye(2)])
    result = fake_posterior_result([0.5, 0.5], [[-2, -2], [2, 2]], full, data, draws=100)
    observed = xr.Dataset(
        {"X": (("observation", "feature"), data)},
        coords={"observation": np.arange(len(data)), "feature": result.feature_names},
    )
    del result.posterior.observed_data
    result.posterior.add_groups(observed_data=observed)  # as a fit stores its data
    sizes, loaded = {}, {}
    for storage in ("keep", "float32", "drop"):
        path = tmp_path / f"{storage}.nc"
        result.save(path, log_likelihood=storage)
        sizes[storage] = path.stat().st_size
        loaded[storage] = load(path)
    original = result.posterior.log_likelihood["X"].values
    assert "log_likelihood" in result.posterior.groups()  # the result in memory is unchanged
    assert sizes["drop"] < sizes["float32"] < sizes["keep"]
    halved = loaded["float32"].posterior.log_likelihood["X"].values
    assert halved.dtype == np.float32
    np.testing.assert_allclose(halved, original, rtol=np.finfo(np.float32).eps)
    dropped = loaded["drop"]
    assert "log_likelihood" not in dropped.posterior.groups()
    dropped.restore_log_likelihood()
    restored = dropped.posterior.log_likelihood["X"].values
    np.testing.assert_allclose(restored, dropped.log_likelihood_draws(data).values, rtol=1e-12)
    with pytest.raises(ValueError, match="'log_likelihood' parameter"):
        result.save(tmp_path / "bad.nc", log_likelihood="half")


def test_a_real_bayesian_fit_with_its_predictive_draws_round_trips(tmp_path):
    """A fit stores its model's free variables and posterior predictive draws too; the
    file takes them, and gives them back as they were."""
    from bayesgmm import BayesianGaussianMixture

    rng = np.random.default_rng(0)
    data = np.concatenate([rng.normal(-2, 1, (60, 2)), rng.normal(2, 1, (60, 2))])
    for covariance_type in ("full", "diag"):
        fit = BayesianGaussianMixture(
            2, covariance_type=covariance_type, method="map", random_state=0
        ).fit(data)
        path = tmp_path / f"{covariance_type}.nc"
        save(fit.result_, path)
        back = load(path).posterior
        for group in fit.result_.posterior.groups():
            assert back[group].identical(fit.result_.posterior[group]), group


# ------------------------------------------------------------ a MAP-EM fit's prior
@pytest.fixture(scope="module", params=["VVV", "VII"])
def map_fit(request) -> GaussianMixture:
    """A MAP-EM fit: its prior's scale a matrix (VVV) or a number (VII), mclust's default
    prior but for a user's mean, so that a loader that fell back to the data's mean
    would be caught."""
    prior = {"mean": X.mean(axis=0) + 0.5, "dof": 7.0}
    return GaussianMixture(2, covariance_type=request.param, prior=prior, random_state=0).fit(X)


def test_a_map_fit_keeps_its_prior_through_a_file(map_fit, tmp_path):
    """Every hyperparameter comes back bit for bit, with the fit's values; a fit without
    a prior loads without one."""
    loaded = load(_saved(map_fit.result_, tmp_path))
    assert loaded.conjugate_prior == map_fit.prior_
    assert np.ndim(loaded.conjugate_prior.scale) == np.ndim(map_fit.prior_.scale)
    np.testing.assert_array_equal(loaded.conjugate_prior.mean, X.mean(axis=0) + 0.5)
    assert loaded.conjugate_prior.dof == 7.0 and loaded.conjugate_prior.shrinkage == 0.01
    _assert_same_result(loaded, map_fit.result_)
    assert "conjugate prior (MAP): shrinkage 0.01, dof 7" in repr(loaded)
    plain = GaussianMixture(2, covariance_type="VII", random_state=0).fit(X)
    assert load(_saved(plain.result_, tmp_path, "plain.nc")).conjugate_prior is None


def _map_result_file(tmp_path, edit) -> Path:
    fit = GaussianMixture(2, covariance_type="VVV", prior="default", random_state=0).fit(X)
    return _saved_and_edited(fit.result_, tmp_path, edit)


BAD_PRIORS = {
    "dof-alone": (lambda h: h["bayesgmm"].attrs.__delitem__("prior_shrinkage"),
                  r"it holds only 'prior_dof' of the prior"),
    "negative-dof": (_attr("prior_dof", -1.0), r"'prior_dof' is -1\.0, not a finite number >= 0"),
    "infinite-shrinkage": (_attr("prior_shrinkage", np.inf),
                           r"'prior_shrinkage' is inf, not a finite number >= 0"),
    "nan-mean": (_set("prior_mean", [np.nan, 0.0, 0.0]), r"'prior_mean' is NaN or infinite"),
    "indefinite-scale": (_set("prior_scale", _INDEFINITE), r"'prior_scale' is not positive defin"),
    "asymmetric-scale": (_set("prior_scale", _ASYMMETRIC), r"'prior_scale' is not symmetric"),
    "scale-without-attrs": (lambda h: [h["bayesgmm"].attrs.__delitem__(name)
                                       for name in ("prior_shrinkage", "prior_dof")],
                            r"holds \['prior_mean', 'prior_scale'\] but no 'prior_shrinkage'"),
}  # fmt: skip


@pytest.mark.parametrize("kind", BAD_PRIORS)
def test_a_damaged_prior_is_refused(kind, tmp_path):
    edit, why = BAD_PRIORS[kind]
    _refused(_map_result_file(tmp_path, edit), why)


def test_a_result_checks_the_prior_it_is_given(map_fit):
    result = map_fit.result_
    with pytest.raises(
        ValueError, match=r"conjugate_prior\.mean must hold one value per feature \(3\)"
    ):
        MixtureResult(
            weights=result._weights, means=result._means, covariances=result._covariances,
            covariance_type=result.covariance_type,
            conjugate_prior=type(map_fit.prior_)(0.01, np.zeros(2), 5.0, 1.0),
        )  # fmt: skip
    with pytest.raises(
        ValueError, match=r"conjugate_prior must be a bayesgmm\.conjugate_prior\.Resol"
    ):
        MixtureResult(
            weights=result._weights, means=result._means, covariances=result._covariances,
            covariance_type=result.covariance_type, conjugate_prior={"dof": 5.0},
        )  # fmt: skip
