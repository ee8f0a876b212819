"""The four kernel layouts: how a covariance model's parameters are stored and evaluated.

Every covariance model presents itself to the engine as one of four layouts; the
E-step kernels and the M-step's statistics exist once per layout, never once per
model (a model adds only its estimate, :mod:`bayesgmm.covariance.base`):

=============  ======================  ==========================================
layout         covariances (storage)   precision factors
=============  ======================  ==========================================
full           (K, D, D)               (K, D, D) upper triangular, ``U U^T = P``
shared-full    (D, D)                  (D, D) upper triangular
diagonal       (K, D)                  (K, D) inverse standard deviations
spherical      (K,)                    (K,) inverse standard deviations
=============  ======================  ==========================================

The numpy side (log-densities for predictions and posterior draws, factors,
conversions) broadcasts over leading dimensions such as ``(draw,)``; the compiled
side is in :mod:`bayesgmm.covariance.layout_kernels`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import gaussian
from ..exceptions import ILL_DEFINED_COVARIANCE, CovarianceError
from ..family import GAUSSIAN, Family
from ..kernels import features
from ..kernels.plugins import CompiledPlugin
from . import layout_kernels as compiled

__all__ = [
    "Layout",
    "layout_named",
    "FULL",
    "SHARED_FULL",
    "DIAGONAL",
    "SPHERICAL",
    "not_positive_definite",
]


_LAYOUTS: dict[str, Layout] = {}


def layout_named(name: str) -> Layout:
    """The layout of that name (pickles refer to layouts by name)."""
    return _LAYOUTS[name]


def not_positive_definite(component: int | None, weight: float | None) -> CovarianceError:
    """The error for a covariance that collapsed: names the component and the fixes."""
    who = "the shared covariance" if component is None else f"component {component}"
    weight_text = "" if weight is None else f" (weight {weight:.3g})"
    return CovarianceError(
        f"{ILL_DEFINED_COVARIANCE} Here {who}{weight_text} collapsed onto too few distinct "
        "points: fewer components, a larger reg_covar or a simpler covariance_type ('diag' "
        "or 'spherical') avoid that; for float32 data, so may dtype='float64'."
    )


@dataclass(frozen=True, eq=False)
class Layout(CompiledPlugin):
    """One kernel layout: shapes, compiled kernels and the numpy maths of its factors.

    Attributes
    ----------
    name : str
    shared : bool
        One covariance for every component (its statistics need the data's second
        moment, and its E-step no quadratic features).
    diagonal : bool
        Covariances are stored by their variances (diagonal or spherical).
    per_feature : bool
        Variances are stored per feature (diagonal), not one per component (spherical).
    """

    name: str
    shared: bool
    diagonal: bool
    per_feature: bool
    fill_features: Any
    coefficients: Any
    likelihood_terms: Any
    statistics: Any
    factorise: Any
    offsets: Any
    row_quadratic: Any

    def __post_init__(self) -> None:
        _LAYOUTS[self.name] = self

    def __reduce__(self) -> tuple:
        return (layout_named, (self.name,))

    @property
    def plugin_key(self) -> str:  # type: ignore[override]
        return f"layout-{self.name}"

    # ---------------------------------------------------------------- shapes
    def n_quadratic(self, n_features: int) -> int:
        """Rows of the second-order features ``q(x)``."""
        if self.shared:
            return 0
        if not self.diagonal:
            return n_features * (n_features + 1) // 2
        return n_features if self.per_feature else 1

    def storage_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        """Shape of the stored covariances, precision factors and scatter statistics."""
        if self.shared:
            return (n_features, n_features)
        if not self.diagonal:
            return (n_components, n_features, n_features)
        return (n_components, n_features) if self.per_feature else (n_components,)

    @property
    def storage_dims(self) -> tuple[str, ...]:
        """xarray dims of the stored covariances (as :meth:`storage_shape`)."""
        if self.shared:
            return ("feature", "feature_bis")
        if not self.diagonal:
            return ("component", "feature", "feature_bis")
        return ("component", "feature") if self.per_feature else ("component",)

    def kernels(self) -> dict[str, Any]:
        """The compiled functions every model of this layout shares."""
        return {
            "fill_features": self.fill_features,
            "coefficients": self.coefficients,
            "likelihood_terms": self.likelihood_terms,
            "statistics": self.statistics,
            "factorise": self.factorise,
            "offsets": self.offsets,
            "row_quadratic": self.row_quadratic,
        }

    # ---------------------------------------------------------------- numpy maths
    def to_full(self, covariances: np.ndarray, n_components: int, n_features: int) -> np.ndarray:
        """Stored covariances (with leading dims) as a ``(..., K, D, D)`` stack."""
        covariances = np.asarray(covariances)
        if self.shared:
            batch = covariances.shape[:-2]
            return np.broadcast_to(
                covariances[..., None, :, :], (*batch, n_components, n_features, n_features)
            )
        if not self.diagonal:
            return covariances
        if not self.per_feature:
            covariances = np.broadcast_to(covariances[..., None], (*covariances.shape, n_features))
        return covariances[..., :, None] * np.eye(n_features)

    def from_full(self, full: np.ndarray) -> np.ndarray:
        """``(..., K, D, D)`` matrices in this layout's storage (the inverse of
        :meth:`to_full` on matrices that have the layout's structure)."""
        full = np.asarray(full)
        if self.shared:
            return full[..., 0, :, :]
        if not self.diagonal:
            return full
        diagonals = np.diagonal(full, axis1=-2, axis2=-1)
        return diagonals if self.per_feature else diagonals.mean(axis=-1)

    def precision_cholesky(self, covariances: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Precision factors of stored covariances; :class:`CovarianceError` names the
        first component that is not positive definite."""
        covariances = np.asarray(covariances, dtype=np.float64)
        if self.diagonal:
            bad = ~(covariances > 0)
            if bad.any():
                index = np.argwhere(bad)[0]
                component = int(index[-2] if self.per_feature else index[-1])
                raise not_positive_definite(component, _weight(weights, component))
            return 1.0 / np.sqrt(covariances)
        try:
            return gaussian.precision_cholesky_full(covariances)
        except np.linalg.LinAlgError:
            component = None if self.shared else _failed_component(covariances)
            weight = None if component is None else _weight(weights, component)
            raise not_positive_definite(component, weight) from None

    def covariances_from_precision_cholesky(self, prec: np.ndarray) -> np.ndarray:
        """Stored covariances from their precision factors."""
        if self.diagonal:
            return 1.0 / np.asarray(prec) ** 2
        return gaussian.covariance_from_precision_cholesky(prec)

    def precisions(self, prec: np.ndarray) -> np.ndarray:
        """Precisions (inverse covariances) from their factors, in storage shape."""
        if self.diagonal:
            return np.asarray(prec) ** 2
        return prec @ np.swapaxes(prec, -1, -2)

    def precision_cholesky_from_precisions(self, precisions: np.ndarray) -> np.ndarray:
        """Precision factors from precisions; raises ``LinAlgError`` if not positive definite."""
        if self.diagonal:
            return np.sqrt(precisions)
        # the upper factor U with U U^T = P: Cholesky of the flipped matrix, flipped back
        flipped = np.linalg.cholesky(precisions[..., ::-1, ::-1])
        return np.ascontiguousarray(flipped[..., ::-1, ::-1])

    def mahalanobis(
        self, X: np.ndarray, means: np.ndarray, prec: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Squared Mahalanobis distances ``(..., N, K)`` and the factors' log-determinants
        ``(..., K)``."""
        if not self.diagonal:
            return gaussian.mahalanobis_full(X, means, prec)
        if not self.per_feature:
            prec = np.broadcast_to(np.asarray(prec)[..., None], np.shape(means))
        return gaussian.mahalanobis_diag(X, means, prec)

    def log_density(
        self,
        X: np.ndarray,
        means: np.ndarray,
        prec: np.ndarray,
        family: Family = GAUSSIAN,
        dof: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(N, D) x (..., K, D) x factors -> (..., N, K)`` log-densities of the family
        (``dof``: a t family's degrees of freedom, ``(..., K)``)."""
        if not family.scales:
            if not self.diagonal:
                return gaussian.log_density_full(X, means, prec)
            if not self.per_feature:
                prec = np.broadcast_to(np.asarray(prec)[..., None], np.shape(means))
            return gaussian.log_density_diag(X, means, prec)
        maha, log_det = self.mahalanobis(X, means, prec)
        return family.log_density(maha, log_det, dof, np.shape(means)[-1])


def _failed_component(covariances: np.ndarray) -> int | None:
    stack = covariances.reshape(-1, *covariances.shape[-2:])
    n_components = covariances.shape[-3]
    for index, matrix in enumerate(stack):
        try:
            np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            return index % n_components
    return None


def _weight(weights: np.ndarray, component: int) -> float | None:
    weights = np.asarray(weights)
    if weights.ndim != 1:  # a stack of posterior draws: no single weight to report
        return None
    return float(weights[component])


FULL = Layout(
    "full",
    shared=False,
    diagonal=False,
    per_feature=True,
    fill_features=features.fill_full,
    coefficients=compiled.full_coefficients,
    likelihood_terms=compiled.no_likelihood_terms,
    statistics=compiled.full_statistics,
    factorise=compiled.full_factorise,
    offsets=compiled.full_offsets,
    row_quadratic=compiled.no_row_quadratic,
)
SHARED_FULL = Layout(
    "shared-full",
    shared=True,
    diagonal=False,
    per_feature=True,
    fill_features=features.fill_shared,
    coefficients=compiled.shared_coefficients,
    likelihood_terms=compiled.shared_likelihood_terms,
    statistics=compiled.shared_statistics,
    factorise=compiled.shared_factorise,
    offsets=compiled.shared_offsets,
    row_quadratic=compiled.shared_row_quadratic,
)
DIAGONAL = Layout(
    "diagonal",
    shared=False,
    diagonal=True,
    per_feature=True,
    fill_features=features.fill_diagonal,
    coefficients=compiled.diagonal_coefficients,
    likelihood_terms=compiled.no_likelihood_terms,
    statistics=compiled.diagonal_statistics,
    factorise=compiled.diagonal_factorise,
    offsets=compiled.diagonal_offsets,
    row_quadratic=compiled.no_row_quadratic,
)
SPHERICAL = Layout(
    "spherical",
    shared=False,
    diagonal=True,
    per_feature=False,
    fill_features=features.fill_spherical,
    coefficients=compiled.spherical_coefficients,
    likelihood_terms=compiled.no_likelihood_terms,
    statistics=compiled.spherical_statistics,
    factorise=compiled.diagonal_factorise,
    offsets=compiled.spherical_offsets,
    row_quadratic=compiled.no_row_quadratic,
)
