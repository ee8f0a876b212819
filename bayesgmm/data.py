"""Input validation: the one place that turns user input into arrays or raises.

Every public entry point (``fit``, ``predict``, ``score_samples`` ... of both
estimators, and the tools built on results) sends its ``X`` through
:func:`check_X`, its ``sample_weight`` through :func:`check_sample_weight` and its
options through :func:`check_int`, :func:`check_float` and :func:`check_option`.
Messages name what was given, what is allowed and how to fix it.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .exceptions import ILL_DEFINED_COVARIANCE, CovarianceError, DataWarning

__all__ = [
    "ValidatedData",
    "check_X",
    "check_observed",
    "check_features",
    "check_resolution",
    "check_sample_weight",
    "scale_sample_weight",
    "check_random_state",
    "check_int",
    "check_float",
    "check_option",
    "is_dask_array",
]


#: Largest absolute value accepted in X: squares and cross-products must stay finite.
MAX_ABS_VALUE = 1e100
#: Smallest per-feature standard deviation accepted: smaller variances underflow.
MIN_FEATURE_STD = 1e-100
#: A standardised covariance eigenvalue below this marks linearly dependent features.
COLLINEAR_EIGENVALUE = 1e-12
#: Rows looked at when testing features for linear dependence.
COLLINEAR_ROWS = 50_000
#: Sample weights whose largest is within 2**WEIGHT_EXPONENT_LIMIT of 1 are used as given.
WEIGHT_EXPONENT_LIMIT = 100
#: A feature whose spread is fewer float steps (at its largest value) than this is
#: coarser than a fit's default tolerance can tell from the rounding (1e-6 relative).
RESOLUTION_STEPS = 1e6


@dataclass(frozen=True)
class ValidatedData:
    """An input matrix after validation.

    Attributes
    ----------
    X : ndarray or dask array of shape (n_samples, n_features)
        Float data (float64 unless float32 was given or asked for).
    feature_names : ndarray of str or None
        Column names when ``X`` was a DataFrame with string column names.
    input_dtype : numpy dtype
        float32 when the input was float32 data, float64 otherwise: the dtype that
        fitted attributes and per-row results follow, as scikit-learn's do (whatever
        the working precision ``X`` was converted to).
    """

    X: Any
    feature_names: np.ndarray | None
    input_dtype: np.dtype = np.dtype(np.float64)


def is_dask_array(X: Any) -> bool:
    """Return True for a dask array (checked by duck typing, dask need not be installed)."""
    return type(X).__module__.startswith("dask.") and hasattr(X, "chunks")


def _feature_names(X: Any) -> np.ndarray | None:
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "iloc"):
        return None
    names = list(columns)
    kinds = {type(name).__name__ for name in names}
    if len(kinds) > 1 and "str" in kinds:
        raise TypeError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {sorted(kinds)} as feature name / column name types. "
            "Convert them all to strings, for example with "
            "X.columns = X.columns.astype(str)."
        )
    if kinds == {"str"}:
        return np.asarray(names, dtype=object)
    return None


def _is_numeric_dtype(dtype: Any) -> bool:
    try:
        return np.dtype(dtype).kind in "biuf"
    except TypeError:  # pandas extension dtypes (Int64, Float64, category, string)
        return getattr(dtype, "kind", "O") in "biuf"


def _dataframe_to_numpy(X: Any) -> np.ndarray:
    bad = [str(name) for name, dtype in X.dtypes.items() if not _is_numeric_dtype(dtype)]
    if bad:
        raise ValueError(
            f"Column(s) {bad} of the DataFrame are not numeric. A Gaussian mixture needs "
            "numeric features: drop these columns (X.drop(columns=[...])) or encode them "
            "as numbers first."
        )
    return X.to_numpy(dtype=np.float64, na_value=np.nan)


def _is_sparse(X: Any) -> bool:
    return type(X).__module__.startswith("scipy.sparse") or hasattr(X, "tocsr")


def _unmasked(X: Any, estimator: str, allow_nan: bool = False) -> Any:
    """A masked array's data, refusing masked values (np.asarray would drop the mask), or
    with them as NaN when missing values are allowed."""
    n_masked = int(np.ma.count_masked(X))
    if n_masked and allow_nan:
        dtype = np.float32 if X.dtype == np.float32 else np.float64
        return np.ma.filled(X.astype(dtype), np.nan)
    if n_masked:
        raise ValueError(
            f"X is a masked array with {n_masked} masked value(s); {estimator} does not "
            "accept missing values: drop those rows (X.data[~np.ma.getmaskarray(X).any("
            "axis=1)]) or fill them (X.filled(value)) before fitting, or fit "
            f"{_marginal_fitter(estimator)}(missing='marginal'), which takes them as missing "
            "values."
        )
    return np.ma.getdata(X)


def _to_numeric(X: Any) -> np.ndarray:
    """X as a float array: float32 when it holds float32 numbers, float64 otherwise."""
    if hasattr(X, "iloc"):
        if getattr(X, "ndim", 2) == 1:  # a Series: 1-D, rejected with reshape advice below
            X = X.to_numpy()
    if hasattr(X, "iloc"):
        float32 = all(dtype == np.float32 for dtype in X.dtypes)
        X = _dataframe_to_numpy(X)
        if float32:
            X = X.astype(np.float32)
    if isinstance(X, str) or (not hasattr(X, "__len__") and not hasattr(X, "__array__")):
        raise TypeError(
            f"Expected X as a 2-D array-like of numbers (ndarray, DataFrame or nested lists), "
            f"got {type(X).__name__}."
        )
    if _is_sparse(X):
        raise TypeError(
            f"Sparse data was passed for X ({type(X).__name__}), but dense data is required: "
            "a Gaussian mixture's covariances are dense. Use X.toarray() to convert to a "
            "dense numpy array."
        )
    try:
        array = np.asarray(X)
    except ValueError as error:
        raise ValueError(
            f"X could not be read as a 2-D array of numbers ({error}). Its rows probably have "
            "different lengths: give every row the same number of values (one per feature)."
        ) from None
    if np.iscomplexobj(array):
        raise ValueError(
            "Complex data not supported: a Gaussian mixture is defined on real numbers. "
            "Pass the real and imaginary parts as separate columns."
        )
    if array.dtype.kind in "OUS":
        if array.dtype.kind in "US":
            raise ValueError(
                f"X holds strings (dtype {array.dtype}); a Gaussian mixture needs numbers. "
                "Convert the columns to numbers or drop the text columns."
            )
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(
                "X holds objects that are not numbers: float() argument must be a string "
                f"or a real number ({error}). Convert every column to numbers first."
            ) from None
    elif array.dtype.kind not in "biuf":
        raise TypeError(
            f"X has dtype {array.dtype}; expected numbers (int, float or bool). Convert the "
            "columns to numbers first (dates, for example, to seconds since a reference time)."
        )
    return np.asarray(array, dtype=np.float32 if array.dtype == np.float32 else np.float64)


def check_X(
    X: Any,
    *,
    estimator: str = "GaussianMixture",
    min_samples: int = 1,
    n_features: int | None = None,
    feature_names: np.ndarray | None = None,
    check_names: bool = False,
    dtype: Any = None,
    allow_dask: bool = True,
    allow_nan: bool = False,
) -> ValidatedData:
    """Validate a data matrix and return it as a float array with its feature names.

    Parameters
    ----------
    X : array-like, DataFrame or dask array of shape (n_samples, n_features)
        The data.
    estimator : str, default="GaussianMixture"
        Name used in messages.
    min_samples : int, default=1
        Fewest rows accepted.
    n_features : int or None, default=None
        Number of columns the fitted model expects (None when fitting).
    feature_names : ndarray of str or None, default=None
        Column names seen during fit, checked against a DataFrame's columns.
    check_names : bool, default=False
        Whether to compare column names with ``feature_names`` (set after fit).
    dtype : numpy dtype or None, default=None
        Target float dtype; None keeps float32 input as float32 and turns everything
        else into float64.
    allow_dask : bool, default=True
        Whether a dask array is accepted (it is returned unconverted, checked lazily).
    allow_nan : bool, default=False
        Whether NaN marks a missing value (``GaussianMixture(missing="marginal")``);
        infinity is refused either way.

    Returns
    -------
    ValidatedData
        The array (C-contiguous for numpy input) and the feature names.

    Examples
    --------
    >>> check_X([[1, 2], [3, 4]]).X.dtype
    dtype('float64')
    """
    if X is None:
        raise ValueError(
            f"{estimator} needs data X of shape (n_samples, n_features); got None. "
            "Expected array-like (array or non-string sequence), got None."
        )
    names = _feature_names(X)
    if check_names:
        _check_names(estimator, names, feature_names)
    if isinstance(X, np.ma.MaskedArray):
        X = _unmasked(X, estimator, allow_nan)
    if is_dask_array(X):
        if not allow_dask:
            raise TypeError(f"{estimator} does not accept dask arrays here; call .compute().")
        input_dtype = np.dtype(np.float32 if X.dtype == np.float32 else np.float64)
        array = _check_dask(X, estimator, dtype)
    else:
        array = _to_numeric(X)
        input_dtype = array.dtype
        array = _check_array(array if dtype is None else array.astype(dtype), estimator, allow_nan)
    n_samples, n_cols = array.shape
    if n_cols == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape=({n_samples}, 0)) while a minimum of 1 is "
            "required."
        )
    if n_samples < min_samples:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={array.shape}) while a minimum "
            f"of {min_samples} is required by {estimator}."
        )
    if n_features is not None and n_cols != n_features:
        raise ValueError(
            f"X has {n_cols} features, but {estimator} is expecting {n_features} features "
            "as input. Pass the same columns, in the same order, as during fit."
        )
    return ValidatedData(array, names, input_dtype)


def _check_array(array: np.ndarray, estimator: str, allow_nan: bool = False) -> np.ndarray:
    """A 2-D array of finite values (or NaN, when allowed) that can be squared, C-contiguous."""
    _check_shape(array, estimator)
    if array.shape[0] and not np.isfinite(array).all():
        n_nan = int(np.isnan(array).sum())
        n_inf = int(np.isinf(array).sum())
        if allow_nan and not n_inf:
            _check_magnitude(array, nan=True)
            return np.ascontiguousarray(array)
        if allow_nan:
            raise ValueError(
                f"Input X contains infinity ({n_inf} values). NaN marks a missing value, but "
                "an infinite one has no density: replace it by NaN (missing) or drop its rows."
            )
        raise ValueError(
            f"Input X contains NaN ({n_nan} values) or infinity ({n_inf} values). "
            f"{estimator} does not accept missing or infinite values: drop those rows "
            "(X[np.isfinite(X).all(axis=1)]) or impute them before fitting, or fit "
            f"{_marginal_fitter(estimator)}(missing='marginal'), which takes NaN as missing "
            "values (the likelihood of each row's observed coordinates)."
        )
    _check_magnitude(array)
    return np.ascontiguousarray(array)


def _marginal_fitter(estimator: str) -> str:
    """The estimator whose ``missing="marginal"`` an error about NaN names: the one
    fitting, where it has the option, else GaussianMixture."""
    return estimator if estimator == "BayesianGaussianMixture" else "GaussianMixture"


def _magnitude_error(largest: float) -> ValueError:
    return ValueError(
        f"X has values as large as {largest:.3g} in absolute value; above {MAX_ABS_VALUE:g} "
        "their squares overflow float64 and the fit would return inf or NaN. Rescale the "
        "data first, for example divide each column by its largest absolute value "
        "(X / np.abs(X).max(axis=0)), and scale the results back."
    )


def _check_magnitude(array: np.ndarray, nan: bool = False) -> None:
    if not array.size or array.dtype.kind in "biu":
        return
    if nan:  # NaN marks missing values: the largest of the others
        if np.isnan(array).all():
            return
        largest = max(float(np.nanmax(array)), -float(np.nanmin(array)))
    else:
        largest = max(float(array.max()), -float(array.min()))  # no temporary copy of X
    if largest > MAX_ABS_VALUE:
        raise _magnitude_error(largest)


def _check_shape(array: np.ndarray, estimator: str) -> None:
    if array.ndim == 0:
        raise ValueError(f"Expected a 2-D array, got a scalar {array!r}.")
    if array.ndim == 1:
        raise ValueError(
            f"Expected a 2-D array, got a 1-D array of {array.shape[0]} values. "
            "Reshape your data either using array.reshape(-1, 1) if your data has a single "
            "feature or array.reshape(1, -1) if it contains a single sample."
        )
    if array.ndim > 2:
        raise ValueError(
            f"Expected a 2-D array (n_samples, n_features), got {array.ndim} dimensions with "
            f"shape {array.shape}. Flatten the trailing axes first, for example "
            "X.reshape(len(X), -1)."
        )


def _check_dask(X: Any, estimator: str, dtype: Any) -> Any:
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D dask array, got {X.ndim} dimensions.")
    if any(np.isnan(size) for sizes in X.chunks for size in sizes):
        raise ValueError(
            f"{estimator} needs a dask array with known chunk sizes, but this one has unknown "
            "(NaN) chunk sizes, as after boolean indexing. Call X.compute_chunk_sizes() "
            "first."
        )
    if len(X.chunks[1]) != 1:
        X = X.rechunk({1: -1})
    if X.dtype.kind not in "biuf":
        raise TypeError(f"The dask array has dtype {X.dtype}; expected numbers.")
    target = dtype if dtype is not None else (np.float32 if X.dtype == np.float32 else np.float64)
    return X.astype(target)


def _check_names(estimator: str, names: np.ndarray | None, fitted: np.ndarray | None) -> None:
    if names is None and fitted is None:
        return
    if names is not None and fitted is None:
        warnings.warn(
            f"X has feature names, but {estimator} was fitted without feature names",
            UserWarning,
            stacklevel=4,
        )
        return
    if names is None:
        warnings.warn(
            f"X does not have valid feature names, but {estimator} was fitted with feature names",
            UserWarning,
            stacklevel=4,
        )
        return
    if len(names) == len(fitted) and np.all(names == fitted):
        return
    message = "The feature names should match those that were passed during fit.\n"
    unexpected = sorted(set(names) - set(fitted))
    missing = sorted(set(fitted) - set(names))

    def listing(values: list[str]) -> str:
        lines = [f"- {value}\n" for value in values[:5]]
        return "".join(lines) + ("- ...\n" if len(values) > 5 else "")

    if unexpected:
        message += "Feature names unseen at fit time:\n" + listing(unexpected)
    if missing:
        message += "Feature names seen at fit time, yet now missing:\n" + listing(missing)
    if not unexpected and not missing:
        message += "Feature names must be in the same order as they were in fit.\n"
    message += "Pass the columns seen during fit, in that order: X[model.feature_names_in_]."
    raise ValueError(message)


def check_observed(
    X: np.ndarray,
    weights: np.ndarray,
    feature_names: np.ndarray | None = None,
    estimator: str = "GaussianMixture",
) -> None:
    """Check that every feature of data with missing values (NaN) is observed somewhere.

    A feature without any observed value (in a row with non-zero weight) has no mean or
    variance to estimate; rows with every value missing are allowed (they carry no
    information and leave the fit as it is).

    Raises
    ------
    ValueError
        Naming the features that are never observed.

    Examples
    --------
    >>> check_observed(np.array([[1.0, np.nan], [2.0, np.nan]]), np.ones(2))
    Traceback (most recent call last):
    ...
    ValueError: Feature(s) ['x1'] are missing (NaN) in every row ...
    """
    observed = ~np.isnan(X[np.asarray(weights) > 0])
    never = np.flatnonzero(~observed.any(axis=0))
    if len(never):
        raise ValueError(
            f"Feature(s) {_names(feature_names, X.shape[1], never)} are missing (NaN) in every "
            f"row with non-zero weight, so {estimator} has nothing to estimate their means "
            "and variances from. Drop these columns before fitting."
        )


def check_features(
    X: Any,
    weights: Any,
    variance: np.ndarray,
    *,
    n_components: int,
    covariance_type: str,
    feature_names: np.ndarray | None = None,
    estimator: str = "GaussianMixture",
    reg_covar: float | str | None = None,
) -> None:
    """Check that the model can be fitted to the features of validated data.

    Runs once the weighted per-feature variances are known. It refuses, with the cause
    and the fix: values that are not finite (dask data are only checked here), spreads
    whose variance underflows, and fewer rows with non-zero weight than components.
    Data that leave a covariance singular (constant features, all rows identical and,
    for full covariance matrices, no more rows than features or linearly dependent
    features) are refused too, unless a positive ``reg_covar`` floors the variances:
    then they are fitted, as scikit-learn fits them, with a :class:`DataWarning`.

    Parameters
    ----------
    X, weights : ndarray or dask array
        Outputs of :func:`check_X` and :func:`check_sample_weight` (frequency weights).
    variance : ndarray of shape (n_features,)
        Weighted variance of each feature.
    n_components : int
        Number of mixture components.
    covariance_type : str
        A covariance model's name or alias (:mod:`bayesgmm.covariance`).
    feature_names : ndarray of str or None, default=None
        Used in messages; ``x0, x1, ...`` when None.
    estimator : str, default="GaussianMixture"
        Name used in messages.
    reg_covar : "auto", float or None, default=None
        The fit's variance floor (GaussianMixture's); None for a model without one.

    Raises
    ------
    ValueError
        Naming the offending features and what to do (a CovarianceError when
        ``reg_covar=0`` leaves the covariances singular).

    Examples
    --------
    >>> X = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    >>> check_features(X, np.ones(3), X.var(axis=0), n_components=1,
    ...                covariance_type="diag")
    Traceback (most recent call last):
    ...
    ValueError: Feature(s) ['x1'] are constant: ...
    """
    variance = np.asarray(variance, dtype=np.float64)
    n_features = len(variance)
    if not np.isfinite(variance).all():
        _raise_for_non_finite(X, variance, feature_names, estimator)
    constant = _constant_features(X, weights, variance, feature_names)
    n_rows = int(np.count_nonzero(np.asarray(weights)))  # computes a dask array's weights
    if n_rows < n_components:
        raise ValueError(
            f"Only {n_rows} row(s) of X have a non-zero sample_weight, fewer than "
            f"n_components={n_components}. Use at most {n_rows} components or give more "
            "rows a positive weight."
        )
    problems = _constant_problems(constant, n_features, feature_names)
    if _full_matrices(covariance_type) and n_features - len(constant) > 1:
        problems.extend(
            _singular_matrices(X, weights, n_rows, covariance_type, constant, feature_names)
        )
    for what, fix in problems:
        if reg_covar is None:
            raise ValueError(f"{what} {fix}")
        if reg_covar != "auto" and reg_covar <= 0:
            raise CovarianceError(
                f"{ILL_DEFINED_COVARIANCE} Here, with reg_covar=0: {what} {fix} Or use "
                "reg_covar='auto' (the default) to fit them regularised."
            )
        warnings.warn(f"{what} {REGULARISED_NOTE} {fix}", DataWarning, stacklevel=4)


#: What a :class:`DataWarning` about singular data adds to the problem it names.
REGULARISED_NOTE = (
    "Fitted anyway, as scikit-learn does: reg_covar's floor keeps every covariance "
    "positive definite, but in the singular direction(s) it, not the data, sets the "
    "variance, so the log-likelihood, BIC and AIC depend on reg_covar."
)


def _constant_problems(constant: np.ndarray, n_features: int, feature_names: Any) -> list:
    """(what, fix) for constant features, or for all rows identical."""
    if len(constant) == n_features:
        return [(
            "All rows of X (with non-zero weight) are identical: there is no spread for a "
            "mixture to describe.",
            "Check that the data were read correctly.",
        )]  # fmt: skip
    if len(constant):
        return [(
            f"Feature(s) {_names(feature_names, n_features, constant)} are constant: a "
            "Gaussian mixture cannot estimate a variance for them.",
            "Drop these columns before fitting.",
        )]  # fmt: skip
    return []


def _full_matrices(covariance_type: str) -> bool:
    """Whether the model's covariances are full matrices (a singular data direction hurts)."""
    from .covariance import COVARIANCE_TYPES

    model = COVARIANCE_TYPES.get(covariance_type)
    return model is None or not model.layout.diagonal


def _raise_for_non_finite(X: Any, variance: np.ndarray, feature_names: Any, estimator: str):
    """The error for a variance that is not finite: NaN or infinity, or huge dask values."""
    if is_dask_array(X):
        import dask
        import dask.array as da

        n_bad, largest = dask.compute((~da.isfinite(X)).sum(), abs(X).max())
        if not n_bad and float(largest) > MAX_ABS_VALUE:
            raise _magnitude_error(float(largest))
    bad = np.flatnonzero(~np.isfinite(variance))
    raise ValueError(
        f"Input X contains NaN or infinity: the variance of feature(s) "
        f"{_names(feature_names, len(variance), bad)} is not finite. {estimator} does not "
        "accept missing or infinite values: drop those rows or impute them before fitting."
    )


def _constant_features(X: Any, weights: Any, variance: np.ndarray, feature_names: Any):
    """Indices of the features without spread; raises for a spread that underflows."""
    tiny = np.flatnonzero(variance <= MIN_FEATURE_STD**2)
    if not len(tiny):
        return tiny
    spread = _spread(X, weights, tiny)
    if (spread > 0).any():
        raise ValueError(
            f"Feature(s) {_names(feature_names, len(variance), tiny[spread > 0])} vary by "
            f"at most {spread.max():.3g}, so small that their variances underflow float64 "
            f"(standard deviation below {MIN_FEATURE_STD:g}). Rescale them first, for "
            "example divide each column by its largest absolute value, and scale the "
            "results back."
        )
    return tiny


def _singular_matrices(X, weights, n_rows, covariance_type, constant, feature_names) -> list:
    """(what, fix) of what makes full covariance matrices singular, besides constant features."""
    n_features = X.shape[1]
    if n_rows <= n_features:
        return [(
            f"covariance_type={covariance_type!r} needs more rows than features, but X has "
            f"{n_rows} row(s) (with non-zero weight) and {n_features} features, so every "
            "covariance estimate is singular.",
            "Use covariance_type='diag' or 'spherical', or reduce the number of features "
            "first, for example with sklearn.decomposition.PCA(n_components="
            f"{max(1, min(n_rows - 1, n_features))}).",
        )]  # fmt: skip
    what = _collinearity(X, weights, constant, feature_names)
    if what is None:
        return []
    return [(
        f"Features of X are {what}. With covariance_type={covariance_type!r} every "
        "covariance of them is singular.",
        "Drop the redundant column(s), reduce the features with PCA, or use "
        "covariance_type='diag' or 'spherical'.",
    )]  # fmt: skip


def _names(feature_names: Any, n_features: int, index: np.ndarray) -> list[str]:
    names = feature_names if feature_names is not None else [f"x{i}" for i in range(n_features)]
    return [str(names[i]) for i in index]


def _spread(X: Any, weights: Any, columns: np.ndarray) -> np.ndarray:
    """Range (max - min) of the given columns over the rows with non-zero weight."""
    if is_dask_array(X):
        import dask

        kept = X[:, columns][weights > 0] if is_dask_array(weights) else X[:, columns]
        low, high = dask.compute(kept.min(axis=0), kept.max(axis=0))
        return np.asarray(high, dtype=np.float64) - np.asarray(low, dtype=np.float64)
    kept = np.asarray(X[np.asarray(weights) > 0][:, columns], dtype=np.float64)
    return kept.max(axis=0) - kept.min(axis=0)


def _collinearity(X: Any, weights: Any, constant: np.ndarray, feature_names: Any) -> str | None:
    """How non-constant features are linear combinations of others, or None if they are not."""
    n_samples, n_features = X.shape
    step = max(1, -(-n_samples // COLLINEAR_ROWS))
    rows = np.asarray(X[::step], dtype=np.float64)  # computes a strided sample of dask data
    row_weights = np.asarray(weights[::step], dtype=np.float64)
    columns = np.setdiff1d(np.arange(n_features), constant)
    rows = rows[:, columns]
    if np.count_nonzero(row_weights) <= len(columns):
        return None
    mean = np.average(rows, axis=0, weights=row_weights)
    scale = np.sqrt(np.average((rows - mean) ** 2, axis=0, weights=row_weights))
    if not (scale > 0).all():
        return None  # the sample missed the spread of a feature; nothing to conclude
    Z = (rows - mean) / scale
    correlation = (Z * row_weights[:, None]).T @ Z / row_weights.sum()
    eigenvalues, eigenvectors = np.linalg.eigh(correlation)
    if eigenvalues[0] >= COLLINEAR_EIGENVALUE:
        return None
    upper = np.triu(np.abs(correlation) >= 1 - 1e-10, k=1)
    pairs = [
        " and ".join(_names(feature_names, n_features, columns[pair]))
        for pair in np.argwhere(upper)[:5]
    ]
    if pairs:
        return "identical or perfectly correlated: " + "; ".join(pairs)
    involved = columns[np.abs(eigenvectors[:, 0]) > 1e-3]
    return (
        f"linearly dependent: a weighted sum of {_names(feature_names, n_features, involved)} "
        "is constant"
    )


def check_resolution(
    spread: np.ndarray,
    magnitude: np.ndarray,
    dtype: Any,
    feature_names: np.ndarray | None = None,
) -> None:
    """Warn when float arithmetic cannot resolve the spread of a feature's values.

    Far from zero, floats are coarse: at 1e16 float64 steps by 2. Data whose spread is
    fewer than :data:`RESOLUTION_STEPS` such steps have values rounded to a grid that
    the fit cannot see, and parameters stored in the same precision lose what remains:
    the fitted log-likelihood and ``score`` of the returned model then disagree.

    Parameters
    ----------
    spread : ndarray of shape (n_features,)
        A (robust) standard deviation per feature; 0 for a constant feature.
    magnitude : ndarray of shape (n_features,)
        The largest absolute value per feature.
    dtype : numpy dtype
        The precision of the data (float32 or float64).
    feature_names : ndarray of str or None, default=None
        Used in messages; ``x0, x1, ...`` when None.

    Warns
    -----
    DataWarning
        Naming the features, their magnitude, spread and the float step there.

    Examples
    --------
    >>> check_resolution(np.array([1.0]), np.array([1e4]), np.float64)  # resolved: silent
    """
    step = np.spacing(np.asarray(magnitude).astype(dtype)).astype(np.float64)
    coarse = np.flatnonzero((spread > 0) & (spread < RESOLUTION_STEPS * step))
    if not len(coarse):
        return
    worst = coarse[np.argmax(step[coarse] / spread[coarse])]
    warnings.warn(
        f"Feature(s) {_names(feature_names, len(spread), coarse)} exceed {np.dtype(dtype)}'s "
        f"resolution: values reach {magnitude[worst]:.3g} in magnitude but spread by only "
        f"{spread[worst]:.3g} (a robust standard deviation), and {np.dtype(dtype)} steps by "
        f"{step[worst]:.3g} there. The data are rounded to that step and the fit cannot be "
        "better than it (its lower_bound_ and score may disagree). Subtract an offset first, "
        "for example X - np.median(X, axis=0), and add it back to the means.",
        DataWarning,
        stacklevel=4,  # check_resolution, the estimator's helper, fit, the caller
    )


def check_sample_weight(sample_weight: Any, n_samples: int, dtype: Any = np.float64) -> np.ndarray:
    """Validate sample weights: finite, non-negative, one per row, not all zero.

    Weights are frequency (or survey) weights: an integer weight ``w`` counts a row
    ``w`` times, so it gives the same fit as repeating the row.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,) or None
        The weights; None means one for every row.
    n_samples : int
        Number of rows of X.
    dtype : numpy dtype, default=np.float64
        Dtype of the returned array.

    Returns
    -------
    ndarray of shape (n_samples,)

    Examples
    --------
    >>> check_sample_weight(None, 3)
    array([1., 1., 1.])
    """
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n_samples, sample_weight)
    if is_dask_array(sample_weight):
        return _check_dask_sample_weight(sample_weight, n_samples, dtype)
    weights = np.asarray(sample_weight)
    if weights.dtype.kind not in "biuf":
        raise TypeError(
            f"sample_weight must hold numbers; got dtype {weights.dtype}. Pass one "
            "non-negative number per row of X."
        )
    weights = weights.astype(dtype)
    if weights.ndim != 1 or weights.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight.shape == {weights.shape}, expected ({n_samples},): one weight per "
            "row of X."
        )
    finite = np.isfinite(weights)
    _raise_for_weights(
        int((~finite).sum()),
        int((weights < 0).sum()),
        float(weights[finite].min()) if finite.any() else np.nan,
        int((weights > 0).sum()),
    )
    return weights


def _check_dask_sample_weight(weights: Any, n_samples: int, dtype: Any) -> Any:
    """The checks of :func:`check_sample_weight` on a dask array, in one pass over it."""
    import dask
    import dask.array as da

    if weights.dtype.kind not in "biuf":
        raise TypeError(
            f"sample_weight must hold numbers; got dtype {weights.dtype}. Pass one "
            "non-negative number per row of X."
        )
    if weights.ndim != 1 or weights.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight.shape == {weights.shape}, expected ({n_samples},): one weight per "
            "row of X."
        )
    weights = weights.astype(dtype)
    n_bad, n_negative, smallest, n_positive = dask.compute(
        (~da.isfinite(weights)).sum(),
        (weights < 0).sum(),
        weights.min(),
        (weights > 0).sum(),
    )
    _raise_for_weights(int(n_bad), int(n_negative), float(smallest), int(n_positive))
    return weights


def _raise_for_weights(n_bad: int, n_negative: int, smallest: float, n_positive: int) -> None:
    if n_bad:
        raise ValueError(
            f"sample_weight contains {n_bad} NaN or infinite value(s); give every row a "
            "finite, non-negative weight."
        )
    if n_negative:
        raise ValueError(
            f"Negative values in sample_weight ({n_negative} rows, smallest {smallest:g}); "
            "weights count rows and must be >= 0."
        )
    if not n_positive:
        raise ValueError(
            "Sample weights must contain at least one non-zero number: every weight is zero, "
            "so there is nothing to fit."
        )


def scale_sample_weight(weights: Any) -> Any:
    """Checked weights scaled by a power of two when their largest is far from 1.

    A weight of 5e-324 for every row is a valid frequency weight (the fit is the
    unweighted one) but products and sums of such weights underflow to zero. Scaling
    every weight by the same power of two, so that the largest lies in [0.5, 1), is
    exact and changes no fit (a fit depends on weights only through their ratios);
    weights within a factor ``2**100`` of 1 are returned unchanged. Weights more than
    ``2**1074`` times smaller than the largest become zero: their rows have no
    numerical influence on the fit either way.

    Parameters
    ----------
    weights : ndarray or dask array of shape (n_samples,)
        Output of :func:`check_sample_weight`.

    Returns
    -------
    ndarray or dask array of shape (n_samples,)

    Examples
    --------
    >>> scale_sample_weight(np.array([5e-324, 1e-323]))
    array([0.5, 1. ])
    """
    largest = weights.max()
    largest = float(largest.compute() if is_dask_array(weights) else largest)
    exponent = int(np.frexp(largest)[1])
    if abs(exponent) <= WEIGHT_EXPONENT_LIMIT:
        return weights
    if is_dask_array(weights):
        return weights.map_blocks(np.ldexp, -exponent, dtype=weights.dtype)
    return np.ldexp(weights, -exponent)


def check_random_state(random_state: Any) -> np.random.Generator:
    """Turn ``random_state`` (None, int, Generator or RandomState) into a numpy Generator.

    Examples
    --------
    >>> check_random_state(0).integers(10)  # doctest: +SKIP
    """
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(
                f"random_state must be a non-negative int (a seed), None, a numpy Generator "
                f"or RandomState; got {random_state}. Use a seed >= 0, such as "
                f"{abs(int(random_state))}."
            )
        return np.random.default_rng(int(random_state))
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    raise TypeError(
        f"random_state must be None, an int, a numpy Generator or RandomState; got "
        f"{type(random_state).__name__}."
    )


def check_int(owner: str, name: str, value: Any, low: int, high: int | None = None) -> int:
    """Check an integer parameter, in the template scikit-learn uses.

    Examples
    --------
    >>> check_int("GaussianMixture", "n_components", 3, 1)
    3
    """
    upper = "inf)" if high is None else f"{high}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"The '{name}' parameter of {owner} must be an int in the range [{low}, {upper}. "
            f"Got {value!r} of type {type(value).__name__} instead."
        )
    if value < low or (high is not None and value > high):
        raise ValueError(
            f"The '{name}' parameter of {owner} must be an int in the range [{low}, {upper}. "
            f"Got {value!r} instead."
        )
    return int(value)


def check_float(owner: str, name: str, value: Any, low: float, *, strict: bool = False) -> float:
    """Check a real parameter against a lower bound.

    Examples
    --------
    >>> check_float("GaussianMixture", "tol", 1e-3, 0.0)
    0.001
    """
    bound = f"({low}, inf)" if strict else f"[{low}, inf)"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"The '{name}' parameter of {owner} must be a float in the range {bound}. "
            f"Got {value!r} of type {type(value).__name__} instead."
        )
    try:
        number = float(value)
    except OverflowError:  # an int beyond float64's range
        number = np.inf
    if not np.isfinite(number) or number < low or (strict and number == low):
        raise ValueError(
            f"The '{name}' parameter of {owner} must be a float in the range {bound}. "
            f"Got {value!r} instead."
        )
    return number


def check_option(owner: str, name: str, value: Any, options: Iterable[str]) -> str:
    """Check a string option against the allowed values.

    Examples
    --------
    >>> check_option("GaussianMixture", "covariance_type", "full", ("full", "diag"))
    'full'
    """
    allowed = tuple(options)
    if not isinstance(value, str):
        raise TypeError(
            f"The '{name}' parameter of {owner} must be a str among {set(allowed)}. "
            f"Got {value!r} of type {type(value).__name__} instead."
        )
    if value not in allowed:
        raise ValueError(
            f"The '{name}' parameter of {owner} must be a str among {set(allowed)}. "
            f"Got {value!r} instead."
        )
    return value
