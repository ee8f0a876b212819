"""A covariance model: one parameterisation of the components' covariances.

Each model is one small object (:class:`CovarianceModel`) that the engine uses
directly, never by name: its kernel layout (:mod:`bayesgmm.covariance.layouts`), its
M-step estimate (a compiled function of the counts and the layout's regularised scatter
statistics), its parameter count (as mclust counts), the shape users see, and the
conversions between that shape and the layout's storage. Passed to compiled code, a
model exposes its layout's kernels and its ``estimate`` as methods
(:mod:`bayesgmm.kernels.plugins`), so one compiled EM loop serves every model.

The estimate's contract: ``estimate(nk, scatter, n_features, covariances)`` writes the covariances
(storage shape) that maximise the expected complete-data log-likelihood under the
model's constraints, given counts ``nk`` (K,) and the regularised scatter ``scatter``
(the layout's form, :mod:`bayesgmm.covariance.layout_kernels`). On entry
``covariances`` holds the previous iteration's estimate, or zeros at a start. Models
without a closed form iterate (:data:`INNER_TOL`, :data:`INNER_MAX_ITER`), starting
from the previous estimate when there is one: every inner step then increases the
expected log-likelihood, so EM stays monotone whatever the number of inner steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..kernels.plugins import CompiledPlugin
from .layouts import Layout

__all__ = ["CovarianceModel", "DiagonalMatrices", "model_named", "INNER_TOL", "INNER_MAX_ITER"]

#: An iterative M-step stops when an inner iteration lowers its objective, minus twice
#: the expected complete-data log-likelihood per observation (its covariance terms,
#: ``sum_k n_k log|Sigma_k| + tr(W_k Sigma_k^-1)`` over ``n``), by at most this: six
#: orders below EM's default ``tol`` on the mean log-likelihood, near its rounding.
INNER_TOL = 1e-12
#: ... or after this many inner iterations (then EM's next M-step goes on from there).
INNER_MAX_ITER = 1000

#: Every model made, by name: pickles refer to models by name (so that a pickled
#: estimator, or a block pass sent to a dask worker, finds the same object).
_MODELS: dict[str, CovarianceModel] = {}


def model_named(name: str) -> CovarianceModel:
    """The model of that (canonical) name, as made by its module."""
    return _MODELS[name]


@dataclass(frozen=True, eq=False)
class CovarianceModel(CompiledPlugin):
    """One covariance parameterisation.

    Parameters
    ----------
    name : str
        The name ``covariance_type`` takes and results record (scikit-learn's for its
        four types, mclust's otherwise).
    mclust_name : str
        mclust's three-letter name (volume, shape, orientation: Equal, Variable or
        Identity).
    layout : Layout
        How the engine stores and evaluates the covariances.
    estimate : numba dispatcher
        The M-step: ``estimate(nk, scatter, n_features, covariances)``.
    count : callable
        ``count(n_components, n_features)``: free covariance parameters, as mclust's
        ``nMclustParams`` counts them.
    description : str
        One line for tables and docstrings.
    aliases : tuple of str
        Other names accepted for ``covariance_type``.
    """

    name: str
    mclust_name: str
    layout: Layout
    estimate: Any
    count: Any
    description: str
    aliases: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.name in _MODELS:
            raise ValueError(f"a covariance model named {self.name!r} exists already")
        _MODELS[self.name] = self

    def __reduce__(self) -> tuple:
        return (model_named, (self.name,))

    @property
    def plugin_key(self) -> str:  # type: ignore[override]
        return self.mclust_name

    def kernels(self) -> dict[str, Any]:
        """The layout's kernels and this model's estimate, for compiled callers."""
        return {**self.layout.kernels(), "estimate": self.estimate}

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free parameters of the covariances (mclust's count)."""
        return int(self.count(n_components, n_features))

    # ---------------------------------------------------------------- public shapes
    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        """Shape of ``covariances_`` (and ``precisions_``, ``precisions_cholesky_``)."""
        return self.layout.storage_shape(n_components, n_features)

    @property
    def dims(self) -> tuple[str, ...]:
        """xarray dims of ``covariances_`` (as :meth:`covariance_shape`)."""
        return self.layout.storage_dims

    def to_storage(self, public: np.ndarray) -> np.ndarray:
        """Covariances (or factors, or precisions) as users see them -> layout storage.

        Leading dimensions (such as draws) are allowed.
        """
        return np.asarray(public, dtype=np.float64)

    def from_storage(self, stored: np.ndarray) -> np.ndarray:
        """Layout storage -> the shape users see (the inverse of :meth:`to_storage`)."""
        return stored

    # ---------------------------------------------------------------- numpy maths (public)
    def _through_storage(self, method: Any, values: np.ndarray, *args: Any) -> np.ndarray:
        return self.from_storage(method(self.to_storage(values), *args))

    def to_full(self, covariances: np.ndarray, n_components: int, n_features: int) -> np.ndarray:
        """Covariances (leading dims allowed) as a ``(..., K, D, D)`` stack."""
        return self.layout.to_full(self.to_storage(covariances), n_components, n_features)

    def from_full(self, full: np.ndarray) -> np.ndarray:
        """``(..., K, D, D)`` matrices of this model's structure in the shape users see
        (the inverse of :meth:`to_full`), e.g. mclust's ``sigma`` as ``covariances_``.

        Examples
        --------
        >>> from bayesgmm.covariance import get_covariance_model
        >>> get_covariance_model("diag").from_full(np.array([[[2.0, 0.0], [0.0, 3.0]]]))
        array([[2., 3.]])
        """
        return self.from_storage(np.ascontiguousarray(self.layout.from_full(full)))

    def precision_cholesky(self, covariances: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Precision factors, shaped as the covariances; raises CovarianceError."""
        return self._through_storage(self.layout.precision_cholesky, covariances, weights)

    def covariances_from_precision_cholesky(self, prec: np.ndarray) -> np.ndarray:
        """Covariances from their precision factors."""
        return self._through_storage(self.layout.covariances_from_precision_cholesky, prec)

    def precisions(self, prec: np.ndarray) -> np.ndarray:
        """Precisions from their factors."""
        return self._through_storage(self.layout.precisions, prec)

    def precision_cholesky_from_precisions(self, precisions: np.ndarray) -> np.ndarray:
        """Precision factors from precisions (``LinAlgError`` when not positive definite)."""
        return self._through_storage(self.layout.precision_cholesky_from_precisions, precisions)

    def log_density(
        self,
        X: np.ndarray,
        means: np.ndarray,
        prec: np.ndarray,
        family: Any = None,
        dof: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(N, D) x (..., K, D) x factors -> (..., N, K)`` log-densities (Gaussian, or
        of ``family`` with degrees of freedom ``dof``)."""
        if family is None:
            return self.layout.log_density(X, means, self.to_storage(prec))
        return self.layout.log_density(X, means, self.to_storage(prec), family, dof)

    def __repr__(self) -> str:
        return f"CovarianceModel({self.name!r}: {self.description})"


class DiagonalMatrices(CovarianceModel):
    """A diagonal-layout model reported as (K, D, D) matrices, as mclust's models other
    than scikit-learn's four are."""

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features, n_features)

    @property
    def dims(self) -> tuple[str, ...]:
        return ("component", "feature", "feature_bis")

    def to_storage(self, public: np.ndarray) -> np.ndarray:
        public = np.asarray(public, dtype=np.float64)
        diagonal = np.diagonal(public, axis1=-2, axis2=-1)
        off_diagonal = public - diagonal[..., :, None] * np.eye(public.shape[-1])
        if np.any(off_diagonal != 0):
            raise ValueError(
                f"covariance_type={self.name!r} has axis-aligned (diagonal) matrices; these "
                "have off-diagonal entries. Pass diagonal matrices, or use a model with "
                "orientation (e.g. 'VVV')."
            )
        return np.ascontiguousarray(diagonal)

    def from_storage(self, stored: np.ndarray) -> np.ndarray:
        stored = np.asarray(stored)
        return stored[..., :, None] * np.eye(stored.shape[-1])
