"""What both estimators share: the parameter protocol, fitted checks, and the prediction
API (predict, predict_proba, score_samples, score, bic, aic, sample), written once and
delegating to the fitted :class:`~bayesgmm.result.MixtureResult` in ``result_``.

scikit-learn is only a test dependency, so the estimators do not inherit from its
``BaseEstimator``; :class:`ParamsMixin` gives them the same protocol: the constructor's
keyword arguments are the parameters, stored unchanged under their own names.
"""

from __future__ import annotations

import inspect
import numbers
from typing import Any

import numpy as np

from .data import check_int, check_X
from .exceptions import NotFittedError, sklearn_compatible

__all__ = ["ParamsMixin", "MixtureEstimator"]


def _same(value: Any, default: Any) -> bool:
    if value is default:
        return True
    try:
        return type(value) is type(default) and bool(value == default)
    except Exception:  # arrays and other objects without a plain truth value
        return False


class ParamsMixin:
    """``get_params`` / ``set_params`` / ``__repr__`` from the constructor's signature.

    Examples
    --------
    >>> class Model(ParamsMixin):
    ...     def __init__(self, alpha=1.0, *, beta="x"):
    ...         self.alpha = alpha
    ...         self.beta = beta
    >>> Model(alpha=2.0)
    Model(alpha=2.0)
    >>> Model().set_params(beta="y").get_params()
    {'alpha': 1.0, 'beta': 'y'}
    """

    @classmethod
    def _parameter_names(cls) -> list[str]:
        return list(inspect.signature(cls.__init__).parameters)[1:]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this estimator, as scikit-learn's ``get_params``."""
        return {name: getattr(self, name) for name in self._parameter_names()}

    def set_params(self, **params: Any) -> Any:
        """Set parameters, as scikit-learn's ``set_params``; returns the estimator."""
        names = self._parameter_names()
        for name, value in params.items():
            if name not in names:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {sorted(names)!r}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = type(self)().get_params()
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if not _same(value, defaults[name])
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "result_")


class MixtureEstimator(ParamsMixin):
    """The prediction API of a fitted mixture, delegating to ``result_``.

    Subclasses implement ``fit``, which sets ``result_`` (a
    :class:`~bayesgmm.result.MixtureResult`), ``n_features_in_``, ``feature_names_in_``
    (when X had string column names) and ``_rng`` (the random stream :meth:`sample`
    continues). For a Bayesian fit every method works on the posterior: densities are
    posterior predictive, responsibilities posterior means.
    """

    def _check_fitted(self) -> None:
        if not hasattr(self, "result_"):
            raise sklearn_compatible(NotFittedError)(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    def _output_dtype(self, X: np.ndarray) -> np.dtype:
        """float32 for float32 data on a model fitted to float32 data, as scikit-learn's
        arrays are (numpy's promotion of the data's and the parameters' dtypes)."""
        fitted = getattr(getattr(self, "means_", None), "dtype", np.float64)
        return np.result_type(X.dtype, fitted, np.float32)

    def _validate(self, X: Any) -> Any:
        """X checked against the fitted features (count, and names for a DataFrame); a
        dask array stays a (lazy) dask array."""
        self._check_fitted()
        data = check_X(
            X,
            estimator=type(self).__name__,
            n_features=self.n_features_in_,
            feature_names=getattr(self, "feature_names_in_", None),
            check_names=True,
            allow_nan=self.result_.missing == "marginal",
        )
        return data.X

    def score_samples(self, X: Any) -> Any:
        """Log-density of the mixture at each row, shape (n_samples,).

        Bayesian fits: the posterior predictive density, averaged over the draws. A dask
        array in gives a lazy dask array out, chunked like its rows (as every per-row
        method here).
        """
        X = self._validate(X)
        return self.result_.log_prob(X).data.astype(self._output_dtype(X), copy=False)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-density per row of X (see :meth:`score_samples`); computed once for
        dask data."""
        return float(self.score_samples(X).mean())

    def predict_proba(self, X: Any) -> Any:
        """Probability of each component for each row, shape (n_samples, K); (n_samples,
        K + 1) with a noise component, the noise's column last (``[:, -1]``, as its label
        is -1), so that every row sums to 1.

        Bayesian fits: posterior mean responsibilities.
        """
        X = self._validate(X)
        resp = self.result_._mean_responsibilities(X)
        return resp.astype(self._output_dtype(X), copy=False)

    def predict(self, X: Any) -> Any:
        """Most probable component of each row, shape (n_samples,); -1 for rows most
        probably noise (with a noise component)."""
        X = self._validate(X)
        return self.result_.predict(X).data

    def fit_predict(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit, then return the labels of X (the same as ``fit(X).predict(X)``)."""
        return self.fit(X, **fit_params).predict(X)

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw rows from the fitted mixture (Bayesian fits: the posterior predictive).

        Draws continue the fit's random stream, so repeated calls give new rows.

        Returns
        -------
        X : ndarray of shape (n_samples, D)
        y : ndarray of shape (n_samples,)
            Component of each row, sorted as scikit-learn returns them.
        """
        self._check_fitted()
        if isinstance(n_samples, numbers.Integral) and not isinstance(n_samples, bool):
            if n_samples < 1:
                raise ValueError(
                    f"Invalid value for 'n_samples': {n_samples}. The sampling requires at "
                    "least one sample: pass n_samples >= 1."
                )
        check_int(type(self).__name__, "n_samples", n_samples, 1)
        return self.result_.sample(n_samples, random_state=self._rng, return_labels=True)

    def bic(self, X: Any) -> float:
        """Bayesian information criterion on X: ``-2 log L + p log N`` (lower is better)."""
        X = self._validate(X)
        return self.result_.bic(X)

    def aic(self, X: Any) -> float:
        """Akaike information criterion on X: ``-2 log L + 2 p`` (lower is better)."""
        X = self._validate(X)
        return self.result_.aic(X)
