"""Bad and awkward input: each case gives a correct fit or an error naming the problem and fix.

The table below is the one in ``docs/validation_table.rst`` (a test keeps the two in
step). Every error is raised by bayesgmm's own code (no traceback frame inside numpy,
SciPy or PyTensor), has the stated type, and its text names both what is wrong and
what to do. Every accepted input is checked against an independent reference fit.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rounding_bounds import rounding_bounds

from bayesgmm import DegenerateComponentWarning, GaussianMixture
from bayesgmm.exceptions import CovarianceError, DataWarning, NotFittedError

DOCS_TABLE = Path(__file__).resolve().parents[1] / "docs" / "validation_table.rst"
FOREIGN_PACKAGES = ("numpy", "scipy", "pytensor", "pandas", "dask", "h5py", "h5netcdf")


def _blobs() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(-3, 1, (60, 2)), rng.normal(3, 1, (60, 2))])


X = _blobs()
N, D = X.shape
#: More features than rows: every full covariance estimate is singular.
WIDE = np.random.default_rng(1).normal(size=(10, 20))
#: reg_covar="auto" floors a constant feature at 1e-6 in its own units.
CONSTANT_FLOOR = 1e-6


def gm(**options: Any) -> GaussianMixture:
    options.setdefault("n_components", 2)
    options.setdefault("random_state", 0)
    return GaussianMixture(**options)


@pytest.fixture(scope="module")
def reference() -> GaussianMixture:
    """The fit that every accepted variant of X is compared with."""
    return gm().fit(X)


def _sorted_means(model: GaussianMixture) -> np.ndarray:
    return model.means_[np.argsort(model.means_[:, 0])]


def _same_fit(model: GaussianMixture, reference: GaussianMixture) -> None:
    """Bitwise-identical fit: same parameters, iterations and log-likelihood."""
    np.testing.assert_array_equal(model.means_, reference.means_)
    np.testing.assert_array_equal(model.covariances_, reference.covariances_)
    np.testing.assert_array_equal(model.weights_, reference.weights_)
    assert model.lower_bound_ == reference.lower_bound_
    assert model.n_iter_ == reference.n_iter_


def _close_fit(model, reference, *, shift=0.0, scale=1.0, rtol=1e-6, ll_rtol=1e-8) -> None:
    """Same optimum up to label order, after mapping the data by ``x * scale + shift``."""
    expected = _sorted_means(reference) * scale + shift
    np.testing.assert_allclose(_sorted_means(model), expected, rtol=rtol, atol=1e-6 * scale)
    order = np.argsort(model.means_[:, 0])
    ref_order = np.argsort(reference.means_[:, 0])
    np.testing.assert_allclose(
        model.covariances_[order], reference.covariances_[ref_order] * scale**2, rtol=1e-5
    )
    np.testing.assert_allclose(model.weights_[order], reference.weights_[ref_order], rtol=1e-6)
    np.testing.assert_allclose(
        model.lower_bound_, reference.lower_bound_ - D * np.log(scale), rtol=ll_rtol, atol=1e-8
    )


def _float32_fit(model: GaussianMixture, values: np.ndarray) -> None:
    """float32 in, float32 out; and the float64 fit of the same (rounded) data, from the
    same start, within the float32 E-step's rounding bound (tests/rounding_bounds.py)."""
    rounded = values.astype(np.float32).astype(np.float64)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(model, name).dtype == np.float32, name
    assert model.score_samples(rounded.astype(np.float32)).dtype == np.float32
    default = gm().fit(rounded)  # SQUAREM in both: the same optimum, to the stopping rule
    assert abs(model.lower_bound_ - default.lower_bound_) <= 2 * model.tol
    # the bound compares plain EM after the same iterations (no jumps for rounding to decide)
    fixed = dict(tol=0.0, max_iter=model.n_iter_)
    model = gm(**fixed).fit(rounded.astype(np.float32))
    double = gm(**fixed).fit(rounded)
    bounds = rounding_bounds(rounded, double)
    full = model.result_.covariances.values
    for name, ours, theirs in (
        ("weights_", model.weights_, double.weights_),
        ("means_", model.means_, double.means_),
        ("covariances", full, double.result_.covariances.values),
    ):
        excess = np.abs(ours - theirs) - bounds[name]
        assert excess.max() <= 0, (name, np.abs(ours - theirs).max(), bounds[name].max())
    assert abs(model.lower_bound_ - double.lower_bound_) <= bounds["lower_bound_"]


def _constant_column_fit(model: GaussianMixture, reference: GaussianMixture) -> None:
    """A constant column adds the same term to every component's density: the fit on the
    other columns is the reference's (to rounding), its variance is the floor, and the
    log-likelihood gains the closed-form log-density of a point at the mean of N(c, floor)."""
    order, ref_order = np.argsort(model.means_[:, 0]), np.argsort(reference.means_[:, 0])
    np.testing.assert_allclose(model.means_[order, :2], reference.means_[ref_order], rtol=1e-9)
    np.testing.assert_allclose(
        model.covariances_[order][:, :2, :2], reference.covariances_[ref_order], rtol=1e-9
    )
    np.testing.assert_allclose(model.covariances_[:, 2, 2], CONSTANT_FLOOR, rtol=1e-9)
    np.testing.assert_allclose(model.covariances_[:, :2, 2], 0.0, atol=1e-12)
    expected = reference.lower_bound_ - 0.5 * np.log(2 * np.pi * CONSTANT_FLOOR)
    np.testing.assert_allclose(model.lower_bound_, expected, rtol=1e-12)


def _dependent_column_fit(model, reference, combination) -> None:
    """A third column ``a x0 + b x1``: its means follow the same combination, and the fit
    on the first two columns is the reference's, up to the floor (1e-6 relative) that now
    sets the variance in the dependent direction."""
    a, b = combination
    np.testing.assert_allclose(
        model.means_[:, 2], a * model.means_[:, 0] + b * model.means_[:, 1], rtol=0, atol=1e-12
    )
    order, ref_order = np.argsort(model.means_[:, 0]), np.argsort(reference.means_[:, 0])
    np.testing.assert_allclose(model.means_[order, :2], reference.means_[ref_order], rtol=1e-5)
    np.testing.assert_allclose(model.weights_[order], reference.weights_[ref_order], rtol=1e-5)


def _one_component_fit(model, values: np.ndarray, reg_covar: float) -> None:
    """One component: the weighted mean and covariance (ddof=0) plus reg_covar, in closed form."""
    np.testing.assert_allclose(model.means_[0], values.mean(axis=0), rtol=1e-12, atol=1e-14)
    expected = np.cov(values.T, bias=True) + reg_covar * np.eye(values.shape[1])
    covariance = model.covariances_ if model.covariances_.ndim == 2 else model.covariances_[0]
    np.testing.assert_allclose(covariance, expected, rtol=1e-10, atol=1e-14)


def _on_one_point(model: GaussianMixture, value: float) -> None:
    """All rows equal: every component sits on them with the floor as its covariance."""
    np.testing.assert_allclose(model.means_, value, rtol=1e-14)
    floor = np.broadcast_to(CONSTANT_FLOOR * np.eye(model.n_features_in_), model.covariances_.shape)
    np.testing.assert_allclose(model.covariances_, floor, rtol=1e-12)
    np.testing.assert_allclose(model.weights_.sum(), 1.0, rtol=1e-14)


def _with(values: np.ndarray, row: int, col: int, value: float) -> np.ndarray:
    values = values.copy()
    values[row, col] = value
    return values


def _dask(values: np.ndarray, *, unknown_chunks: bool = False):
    da = pytest.importorskip("dask.array")
    array = da.from_array(values, chunks=(30, values.shape[1]))
    return array[array[:, 0] > -1e9] if unknown_chunks else array


def _sparse(values: np.ndarray):
    from scipy import sparse

    return sparse.csr_matrix(values)


def bgmm(**options: Any):
    from bayesgmm import BayesianGaussianMixture

    options.setdefault("n_components", 2)
    options.setdefault("random_state", 0)
    return BayesianGaussianMixture(**options)


def _fitted_on_frame() -> GaussianMixture:
    return gm().fit(pd.DataFrame(X, columns=["a", "b"]))


@dataclass(frozen=True)
class Case:
    """One row of the validation table."""

    id: str
    run: Callable[[], Any]
    error: type[Exception] | None = None
    #: regular expressions that must all match the message: the problem, then the fix
    match: tuple[str, ...] = ()
    #: for accepted input: check the fitted model against the reference fit
    check: Callable[[Any, GaussianMixture], None] | None = None
    #: for accepted input: the warning the fit must give (None: no degenerate-fit warning)
    warns: type[Warning] | None = None
    #: regular expressions that must all match that warning's message
    warning: tuple[str, ...] = ()
    #: for accepted input: whether the fit reports convergence
    converged: bool = True


CASES = [
    # --- values
    Case("nan", lambda: gm().fit(_with(X, 3, 1, np.nan)), ValueError,
         (r"Input X contains NaN \(1 values\)", r"drop those rows .* or impute")),
    Case("posinf", lambda: gm().fit(_with(X, 3, 1, np.inf)), ValueError,
         (r"infinity \(1 values\)", r"drop those rows .* or impute")),
    Case("neginf", lambda: gm().fit(_with(X, 3, 1, -np.inf)), ValueError,
         (r"infinity \(1 values\)", r"drop those rows .* or impute")),
    Case("nan-in-predict", lambda: gm().fit(X).predict(_with(X, 0, 0, np.nan)), ValueError,
         (r"contains NaN", r"impute")),
    Case("huge-values", lambda: gm().fit(X * 1e200), ValueError,
         (r"values as large as 6.*e\+200", r"overflow", r"Rescale the data first")),
    Case("tiny-values", lambda: gm().fit(X * 1e-200), ValueError,
         (r"underflow", r"Rescale them first")),
    # --- shape
    Case("1d", lambda: gm().fit(X[:, 0]), ValueError,
         (r"got a 1-D array of 120 values", r"reshape\(-1, 1\)")),
    Case("pandas-series", lambda: gm().fit(pd.Series(X[:, 0])), ValueError,
         (r"1-D array", r"reshape\(-1, 1\)")),
    Case("3d", lambda: gm().fit(X.reshape(N, D, 1)), ValueError,
         (r"got 3 dimensions with shape \(120, 2, 1\)", r"X\.reshape\(len\(X\), -1\)")),
    Case("empty-rows", lambda: gm().fit(np.empty((0, 2))), ValueError,
         (r"0 sample\(s\) \(shape=\(0, 2\)\)", r"minimum of 2 is required")),
    Case("empty-columns", lambda: gm().fit(np.empty((5, 0))), ValueError,
         (r"0 feature\(s\) \(shape=\(5, 0\)\) while a minimum of 1 is required",)),
    Case("one-row", lambda: gm(n_components=1).fit(X[:1]), ValueError,
         (r"1 sample\(s\)", r"minimum of 2 is required")),
    Case("ragged-rows", lambda: gm().fit([[1.0, 2.0], [3.0]]), ValueError,
         (r"could not be read as a 2-D array", r"same number of values")),
    Case("none", lambda: gm().fit(None), ValueError, (r"got None", r"n_samples, n_features")),
    Case("fewer-rows-than-components", lambda: gm(n_components=5).fit(X[:3]), ValueError,
         (r"n_samples >= n_components", r"n_components = 5, n_samples = 3",
          r"at most 3 components")),
    # --- parameters
    Case("n-components-zero", lambda: gm(n_components=0).fit(X), ValueError,
         (r"'n_components' parameter .* int in the range \[1, inf\)\. Got 0",)),
    Case("n-components-negative", lambda: gm(n_components=-2).fit(X), ValueError,
         (r"'n_components' .* range \[1, inf\)\. Got -2",)),
    Case("n-components-float", lambda: gm(n_components=2.5).fit(X), TypeError,
         (r"'n_components' .* must be an int", r"Got 2\.5 of type float")),
    Case("n-components-string", lambda: gm(n_components="2").fit(X), TypeError,
         (r"'n_components' .* must be an int", r"Got '2' of type str")),
    Case("n-components-numpy-int", lambda: gm(n_components=np.int64(2)).fit(X),
         check=lambda model, ref: _same_fit(model, ref)),
    Case("unknown-covariance-type", lambda: gm(covariance_type="fulll").fit(X), ValueError,
         (r"'covariance_type' parameter of GaussianMixture must be a str among",
          r"'spherical'", r"Got 'fulll'")),
    Case("unknown-init", lambda: gm(init_params="kmean").fit(X), ValueError,
         (r"'init_params' parameter .* among", r"'k-means\+\+'", r"Got 'kmean'")),
    Case("covariance-type-not-string", lambda: gm(covariance_type=1).fit(X), TypeError,
         (r"'covariance_type' .* must be a str", r"Got 1 of type int")),
    Case("reg-covar-negative", lambda: gm(reg_covar=-1e-6).fit(X), ValueError,
         (r"'reg_covar' parameter .* float in the range \[0.0, inf\)\. Got -1e-06",)),
    Case("n-init-zero", lambda: gm(n_init=0).fit(X), ValueError,
         (r"'n_init' parameter .* int in the range \[1, 100000\]\. Got 0",)),
    Case("random-state-string", lambda: gm(random_state="a").fit(X), TypeError,
         (r"random_state must be None, an int, a numpy Generator",)),
    Case("random-state-negative", lambda: gm(random_state=-1).fit(X), ValueError,
         (r"random_state must be a non-negative int \(a seed\).*got -1",
          r"Use a seed >= 0, such as 1")),
    Case("reg-covar-huge", lambda: gm(reg_covar=1e308).fit(X), ValueError,
         (r"'reg_covar' .* is 1e\+308, larger than any variance", r"would overflow float64",
          r"Use reg_covar='auto'")),
    Case("reg-covar-huge-int", lambda: gm(reg_covar=10**400).fit(X), ValueError,
         (r"'reg_covar' parameter .* float in the range \[0\.0, inf\)\. Got 1000",)),
    Case("tol-huge-int", lambda: gm(tol=10**400).fit(X), ValueError,
         (r"'tol' parameter .* float in the range \[0\.0, inf\)\. Got 1000",)),
    Case("max-iter-huge", lambda: gm(max_iter=10**20).fit(X), ValueError,
         (r"'max_iter' parameter .* int in the range \[0, 10000000\]\. Got 10{20}",)),
    Case("weights-init-string", lambda: gm(weights_init="auto").fit(X), TypeError,
         (r"weights_init must be an array of numbers .*got 'auto'", r"Pass None")),
    Case("means-init-string", lambda: gm(means_init="x").fit(X), TypeError,
         (r"means_init must be an array of numbers .*got 'x'", r"Pass None")),
    Case("reg-covar-huge-int-fits", lambda: gm(reg_covar=10**20, tol=10**20).fit(X),
         check=lambda model, ref: np.testing.assert_allclose(  # a float is absolute
             np.diagonal(model.covariances_, axis1=1, axis2=2), 1e20, rtol=1e-12)),
    Case("max-iter-zero", lambda: gm(max_iter=0).fit(X),
         check=lambda model, ref: (np.testing.assert_array_equal(model.n_iter_, 0),
                                   np.testing.assert_array_equal(len(model.lower_bounds_), 1)),
         converged=False),
    # --- types
    Case("strings", lambda: gm().fit([["a", "b"], ["c", "d"], ["e", "f"]]), ValueError,
         (r"X holds strings", r"Convert the columns to numbers")),
    Case("objects", lambda: gm().fit(np.array([[object(), 1.0]] * 5, dtype=object)),
         TypeError, (r"argument must be .* string.* number", r"Convert every column to numbers")),
    Case("numbers-as-objects", lambda: gm().fit(X.astype(object)),
         check=lambda model, ref: _same_fit(model, ref)),
    Case("complex", lambda: gm().fit(X + 1j), ValueError,
         (r"Complex data not supported", r"real and imaginary parts as separate columns")),
    Case("datetimes", lambda: gm().fit(np.zeros((4, 2), dtype="datetime64[D]")), TypeError,
         (r"dtype datetime64\[D\]", r"expected numbers", r"Convert the columns to numbers")),
    Case("booleans", lambda: gm(n_components=1).fit(X > 0),
         check=lambda model, ref: _same_fit(model, gm(n_components=1).fit((X > 0) * 1.0))),
    Case("integers", lambda: gm().fit(np.round(X * 1000).astype(np.int64)),
         check=lambda model, ref: _same_fit(model, gm().fit(np.round(X * 1000)))),
    Case("float32", lambda: gm().fit(X.astype(np.float32)),
         check=lambda model, ref: _float32_fit(model, X)),
    Case("masked-array", lambda: gm().fit(np.ma.masked_array(X, mask=X > 4)), ValueError,
         (r"X is a masked array with \d+ masked value\(s\)", r"does not accept missing",
          r"X\.filled\(value\)")),
    Case("masked-array-no-mask", lambda: gm().fit(np.ma.masked_array(X)),
         check=lambda model, ref: _same_fit(model, ref)),
    Case("fortran-order", lambda: gm().fit(np.asfortranarray(X)),
         check=lambda model, ref: _same_fit(model, ref)),
    Case("non-contiguous", lambda: gm().fit(np.repeat(X, 2, axis=1)[:, ::2]),
         check=lambda model, ref: _same_fit(model, ref)),
    Case("nested-lists", lambda: gm().fit(X.tolist()),
         check=lambda model, ref: _same_fit(model, ref)),
    Case("sparse-matrix", lambda: gm().fit(_sparse(X)), TypeError,
         (r"Sparse data was passed", r"X\.toarray\(\)")),
    Case("dataframe-non-numeric-column",
         lambda: gm().fit(pd.DataFrame({"a": X[:, 0], "b": ["x"] * N})), ValueError,
         (r"Column\(s\) \['b'\] of the DataFrame are not numeric", r"drop these columns")),
    Case("dataframe-mixed-column-names", lambda: gm().fit(pd.DataFrame(X, columns=["a", 1])),
         TypeError, (r"all input features have string names", r"X\.columns\.astype\(str\)")),
    Case("dataframe-nullable-with-missing",
         lambda: gm().fit(pd.DataFrame({"a": pd.array([1, None] * 60, dtype="Int64"),
                                        "b": X[:, 0]})),
         ValueError, (r"contains NaN \(60 values\)", r"impute")),
    Case("dataframe",
         lambda: gm().fit(pd.DataFrame(X, columns=["a", "b"])),
         check=lambda model, ref: (_same_fit(model, ref),
                                   np.testing.assert_array_equal(model.feature_names_in_,
                                                                 ["a", "b"]))),
    # --- degenerate features and rows
    Case("constant-column", lambda: gm().fit(np.c_[X, np.ones(N)]),
         check=lambda model, ref: _constant_column_fit(model, ref), warns=DataWarning,
         warning=(r"Feature\(s\) \['x2'\] are constant", r"Fitted anyway",
                  r"Drop these columns")),
    Case("constant-column-reg-covar-0", lambda: gm(reg_covar=0.0).fit(np.c_[X, np.ones(N)]),
         CovarianceError, (r"ill-defined empirical covariance", r"with reg_covar=0: "
                           r"Feature\(s\) \['x2'\] are constant", r"reg_covar='auto'")),
    Case("identical-columns-full", lambda: gm().fit(np.c_[X, X[:, 0]]),
         check=lambda model, ref: _dependent_column_fit(model, ref, (1.0, 0.0)),
         warns=DataWarning,
         warning=(r"identical or perfectly correlated: x0 and x2", r"Fitted anyway",
                  r"Drop the redundant column", r"covariance_type='diag'")),
    Case("identical-columns-reg-covar-0", lambda: gm(reg_covar=0.0).fit(np.c_[X, X[:, 0]]),
         CovarianceError, (r"ill-defined empirical covariance",
                           r"identical or perfectly correlated: x0 and x2")),
    Case("identical-columns-diag", lambda: gm(covariance_type="diag").fit(np.c_[X, X[:, 0]]),
         check=lambda model, ref: np.testing.assert_array_equal(model.means_[:, 0],
                                                                model.means_[:, 2])),
    Case("linearly-dependent-columns", lambda: gm().fit(np.c_[X, X[:, 0] - 2 * X[:, 1]]),
         check=lambda model, ref: _dependent_column_fit(model, ref, (1.0, -2.0)),
         warns=DataWarning,
         warning=(r"linearly dependent: a weighted sum of \['x0', 'x1', 'x2'\]",
                  r"reduce the features\s+with PCA")),
    Case("more-features-than-rows-full",
         lambda: gm(n_components=1, reg_covar=1e-3).fit(WIDE), warns=DataWarning,
         check=lambda model, ref: _one_component_fit(model, WIDE, 1e-3),
         warning=(r"needs more rows than features, but X has 10 row\(s\) .* and 20 features",
                  r"covariance_type='diag'", r"PCA\(n_components=9\)")),
    Case("more-features-than-rows-full-k2", lambda: gm().fit(WIDE),
         check=lambda model, ref: np.testing.assert_array_less(0, np.linalg.eigvalsh(
             model.covariances_)), warns=DegenerateComponentWarning,
         warning=(r"Every start ended with a degenerate component", r"fewer distinct points "
                  r"than it has dimensions")),
    Case("more-features-than-rows-tied",
         lambda: gm(n_components=1, covariance_type="tied", reg_covar=1e-3).fit(WIDE),
         check=lambda model, ref: _one_component_fit(model, WIDE, 1e-3), warns=DataWarning,
         warning=(r"'tied' needs more rows than features", r"PCA")),
    Case("more-features-than-rows-reg-covar-0",
         lambda: gm(n_components=1, reg_covar=0.0).fit(WIDE), CovarianceError,
         (r"ill-defined empirical covariance", r"needs more rows than features")),
    Case("more-features-than-rows-diag",
         lambda: gm(covariance_type="diag").fit(np.random.default_rng(1).normal(size=(10, 20))),
         check=lambda model, ref: np.testing.assert_array_less(0, model.covariances_)),
    Case("all-rows-identical", lambda: gm().fit(np.full((50, 2), 3.0)),
         check=lambda model, ref: _on_one_point(model, 3.0), warns=DataWarning,
         warning=(r"All rows of X .* are identical", r"Check that the data were read correctly")),
    Case("duplicated-rows", lambda: gm().fit(np.r_[X, X]),
         check=lambda model, ref: _close_fit(model, ref)),
    # --- scale
    Case("offset-1e8", lambda: gm().fit(X + 1e8),
         check=lambda model, ref: _close_fit(model, ref, shift=1e8)),
    Case("scaled-1e-8", lambda: gm().fit(X * 1e-8),
         check=lambda model, ref: _close_fit(model, ref, scale=1e-8)),
    Case("scaled-1e8", lambda: gm().fit(X * 1e8),
         check=lambda model, ref: _close_fit(model, ref, scale=1e8)),
    Case("offset-1e16", lambda: gm().fit(X + 1e16), warns=DataWarning,
         check=lambda model, ref: np.testing.assert_allclose(
             _sorted_means(model) - 1e16, _sorted_means(ref), atol=4.0),
         warning=(r"\['x0', 'x1'\] exceed float64's resolution: values reach 1e\+16",
                  r"float64 steps by 2 there", r"Subtract an offset first")),
    # --- sample weights
    Case("sample-weight-negative", lambda: gm().fit(X, sample_weight=np.r_[-1.0, np.ones(N - 1)]),
         ValueError, (r"Negative values in sample_weight \(1 rows, smallest -1\)",
                      r"must be >= 0")),
    Case("sample-weight-nan", lambda: gm().fit(X, sample_weight=np.r_[np.nan, np.ones(N - 1)]),
         ValueError, (r"sample_weight contains 1 NaN", r"give every row a finite")),
    Case("sample-weight-wrong-length", lambda: gm().fit(X, sample_weight=np.ones(N - 1)),
         ValueError, (r"sample_weight\.shape == \(119,\), expected \(120,\)",
                      r"one weight per row")),
    Case("sample-weight-all-zero", lambda: gm().fit(X, sample_weight=np.zeros(N)), ValueError,
         (r"at least one non-zero", r"every weight is zero")),
    Case("sample-weight-too-few-nonzero",
         lambda: gm(n_components=3).fit(X, sample_weight=np.r_[1.0, 1.0, np.zeros(N - 2)]),
         ValueError, (r"Only 2 row\(s\) of X have a non-zero sample_weight",
                      r"at most 2 components")),
    Case("sample-weight-strings", lambda: gm().fit(X, sample_weight=["a"] * N), TypeError,
         (r"sample_weight must hold numbers", r"one non-negative number per row")),
    Case("sample-weight-integer-2", lambda: gm().fit(X, sample_weight=np.full(N, 2)),
         check=lambda model, ref: _close_fit(model, ref)),
    Case("sample-weight-subnormal", lambda: gm().fit(X, sample_weight=np.full(N, 5e-324)),
         check=lambda model, ref: _close_fit(model, ref, rtol=1e-12, ll_rtol=1e-14)),
    Case("sample-weight-huge", lambda: gm().fit(X, sample_weight=np.full(N, 1e300)),
         check=lambda model, ref: _close_fit(model, ref, rtol=1e-12, ll_rtol=1e-14)),
    # --- prediction
    Case("predict-wrong-number-of-features", lambda: gm().fit(X).predict(X[:, :1]), ValueError,
         (r"X has 1 features, but GaussianMixture is expecting 2 features as input",
          r"same columns, in the same order")),
    Case("predict-other-column-names",
         lambda: _fitted_on_frame().predict(pd.DataFrame(X, columns=["a", "c"])), ValueError,
         (r"feature names should match", r"unseen at fit time:\n- c",
          r"seen at fit time, yet now missing:\n- b", r"X\[model\.feature_names_in_\]")),
    Case("predict-reordered-columns",
         lambda: _fitted_on_frame().predict(pd.DataFrame(X, columns=["b", "a"])), ValueError,
         (r"must be in the same order as they were in fit", r"X\[model\.feature_names_in_\]")),
    Case("result-predict-other-column-names",
         lambda: _fitted_on_frame().result_.predict(pd.DataFrame(X, columns=["a", "c"])),
         ValueError, (r"X has columns \['a', 'c'\], but the model was fitted on \['a', 'b'\]",
                      r"Pass the same columns in the same order")),
    Case("result-predict-wrong-number-of-features",
         lambda: gm().fit(X).result_.predict(X[:, :1]), ValueError,
         (r"X has 1 features, but MixtureResult is expecting 2", r"same columns")),
    Case("predict-before-fit", lambda: gm().predict(X), NotFittedError,
         (r"not fitted yet", r"Call 'fit'")),
    # --- dask
    Case("dask-unknown-chunks", lambda: gm().fit(_dask(X, unknown_chunks=True)), ValueError,
         (r"unknown \(NaN\) chunk sizes", r"X\.compute_chunk_sizes\(\)")),
    Case("dask-with-nan", lambda: gm().fit(_dask(_with(X, 3, 1, np.nan))), ValueError,
         (r"contains NaN or infinity", r"impute")),
    Case("dask-huge-values", lambda: gm().fit(_dask(_with(X, 3, 1, 1e300))), ValueError,
         (r"values as large as 1e\+300", r"overflow", r"Rescale the data first")),
    Case("dask-sample-weight-negative",
         lambda: gm().fit(_dask(X), sample_weight=np.r_[-1.0, np.ones(N - 1)]), ValueError,
         (r"Negative values in sample_weight \(1 rows, smallest -1\)", r"must be >= 0")),
    Case("dask-sample-weight-wrong-length",
         lambda: gm().fit(_dask(X), sample_weight=_dask(np.ones((N - 1, 1)))[:, 0]), ValueError,
         (r"sample_weight\.shape == \(119,\), expected \(120,\)", r"one weight per row")),
    Case("dask", lambda: gm().fit(_dask(X)), check=lambda model, ref: _close_fit(model, ref)),
    # --- the Bayesian estimator: the same gate, refusing before PyMC compiles anything
    Case("bayes-unknown-method", lambda: bgmm(method="hmc").fit(X), ValueError,
         (r"'method' parameter of BayesianGaussianMixture must be a str among",
          r"'fullrank_advi'", r"Got 'hmc'")),
    Case("bayes-unknown-nuts-sampler", lambda: bgmm(nuts_sampler="stan").fit(X), ValueError,
         (r"'nuts_sampler' parameter .* among", r"'nutpie'", r"Got 'stan'")),
    Case("bayes-nan", lambda: bgmm().fit(_with(X, 3, 1, np.nan)), ValueError,
         (r"Input X contains NaN \(1 values\)",
          r"BayesianGaussianMixture does not accept missing", r"impute")),
    Case("bayes-constant-column",
         lambda: bgmm().fit(pd.DataFrame(np.c_[X, np.ones(N)], columns=["a", "b", "c"])),
         ValueError, (r"Feature\(s\) \['c'\] are constant", r"Drop these columns")),
    Case("bayes-more-features-than-rows",
         lambda: bgmm().fit(np.random.default_rng(1).normal(size=(10, 20))), ValueError,
         (r"needs more rows than features", r"covariance_type='diag'")),
    Case("bayes-fewer-rows-than-components", lambda: bgmm(n_components=5).fit(X[:3]),
         ValueError, (r"n_samples=3 should be >= n_components=5", r"fewer components")),
    Case("bayes-dask", lambda: bgmm().fit(_dask(X)), TypeError,
         (r"BayesianGaussianMixture with method='nuts' .* needs the data in memory",
          r"\.compute\(\)", r"method='advi'")),
    Case("bayes-draws-zero", lambda: bgmm(draws=0).fit(X), ValueError,
         (r"'draws' parameter .* int in the range \[1, inf\)\. Got 0",)),
    Case("bayes-target-accept-one", lambda: bgmm(target_accept=1.0).fit(X), ValueError,
         (r"'target_accept' parameter .* range \(0, 1\)\. Got 1\.0",)),
    Case("bayes-predict-before-fit", lambda: bgmm().predict(X), NotFittedError,
         (r"BayesianGaussianMixture instance is not fitted yet", r"Call 'fit'")),
]  # fmt: skip


def _foreign_frames(excinfo: pytest.ExceptionInfo) -> list[str]:
    """Traceback frames of the raised error that lie inside numerical libraries."""
    found = []
    for entry in excinfo.traceback:
        path = str(entry.path).replace("\\", "/")
        if "site-packages/" in path:
            package = path.split("site-packages/")[1].split("/")[0]
            if package in FOREIGN_PACKAGES:
                found.append(f"{path}:{entry.lineno}")
    return found


@pytest.mark.parametrize("case", [c for c in CASES if c.error], ids=lambda c: c.id)
def test_bad_input_raises_clear_error(case: Case) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(case.error) as excinfo:
            case.run()
    error = excinfo.value
    assert isinstance(error, case.error), repr(error)
    message = str(error)
    for pattern in case.match:
        assert re.search(pattern, message, flags=re.S), f"{pattern!r} not in {message!r}"
    assert not _foreign_frames(excinfo), _foreign_frames(excinfo)
    assert "bayesgmm" in str(excinfo.traceback[-1].path)


@pytest.mark.parametrize("case", [c for c in CASES if not c.error], ids=lambda c: c.id)
def test_awkward_input_fits_correctly(case: Case, reference: GaussianMixture) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = case.run()
    degenerate = [w for w in caught if issubclass(w.category, DegenerateComponentWarning)]
    if case.warns is None:
        assert not degenerate, degenerate[0].message
    else:
        messages = [str(w.message) for w in caught if issubclass(w.category, case.warns)]
        assert messages, f"no {case.warns.__name__}"
        for pattern in case.warning:
            assert any(re.search(pattern, m, flags=re.S) for m in messages), (pattern, messages)
    assert model.converged_ == case.converged
    assert np.isfinite(model.lower_bound_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        case.check(model, reference)


def test_table_has_at_least_25_cases() -> None:
    assert len(CASES) >= 25
    assert len({case.id for case in CASES}) == len(CASES)


def test_docs_table_lists_every_case() -> None:
    text = DOCS_TABLE.read_text(encoding="utf-8")
    missing = [case.id for case in CASES if f"``{case.id}``" not in text]
    assert not missing, f"add these cases to {DOCS_TABLE.name}: {missing}"
