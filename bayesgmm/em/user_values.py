"""Initial values given by the user (``weights_init``, ``means_init``, ``precisions_init``):
checked against the model, never written back into the estimator's parameters."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..covariance import CovarianceModel

__all__ = ["check_initial_values"]


def _check_weights(values: Any, n_components: int) -> np.ndarray:
    weights = np.asarray(values, dtype=np.float64)
    if weights.shape != (n_components,):
        raise ValueError(
            f"weights_init should have the shape ({n_components},), got {weights.shape}."
        )
    if (weights < 0).any() or not np.isfinite(weights).all():
        raise ValueError(
            f"weights_init must be finite and non-negative; got min {weights.min():g}."
        )
    if not np.isclose(weights.sum(), 1.0, rtol=0.0, atol=1e-6):
        raise ValueError(
            f"weights_init must sum to 1 (they sum to {weights.sum():.6f}); divide them "
            "by their sum."
        )
    return weights


def _check_means(values: Any, n_components: int, n_features: int) -> np.ndarray:
    means = np.asarray(values, dtype=np.float64)
    if means.shape != (n_components, n_features):
        raise ValueError(
            f"means_init should have the shape ({n_components}, {n_features}), got {means.shape}."
        )
    if not np.isfinite(means).all():
        raise ValueError("means_init contains NaN or infinite values.")
    return means


def _check_precisions(
    owner: str, values: Any, n_components: int, n_features: int, model: CovarianceModel
) -> np.ndarray:
    precisions = np.asarray(values, dtype=np.float64)
    shape = model.covariance_shape(n_components, n_features)
    if precisions.shape != shape:
        raise ValueError(
            f"precisions_init for covariance_type={model.name!r} should have the shape "
            f"{shape}, got {precisions.shape}."
        )
    matrices = model.dims[-2:] == ("feature", "feature_bis")
    if matrices and not np.allclose(
        precisions, np.swapaxes(precisions, -1, -2), rtol=1e-10, atol=0.0
    ):
        raise ValueError(
            f"precisions_init of {owner} must hold symmetric matrices for "
            f"covariance_type={model.name!r}; symmetrise them, e.g. (P + P.T) / 2."
        )
    try:
        with np.errstate(invalid="ignore"):
            prec_chol = model.precision_cholesky_from_precisions(precisions)
        ok = bool(np.isfinite(prec_chol).all())
    except np.linalg.LinAlgError:
        ok = False
    if not matrices and not (precisions > 0).all():
        ok = False
    if not ok:
        problem = (
            f"positive definite for covariance_type={model.name!r}: a Cholesky "
            "factorisation failed."
            if matrices
            else f"positive for covariance_type={model.name!r}; got smallest value "
            f"{np.nanmin(precisions):g}."
        )
        raise ValueError(
            f"precisions_init of {owner} must be {problem} Pass inverse covariances "
            "(precisions), not covariances or their factors."
        )
    return precisions


def check_initial_values(
    owner: str,
    weights_init: Any,
    means_init: Any,
    precisions_init: Any,
    n_components: int,
    n_features: int,
    model: CovarianceModel,
) -> dict[str, np.ndarray | None]:
    """The user's initial values as float arrays (None where not given), checked.

    Examples
    --------
    >>> from bayesgmm.covariance import get_covariance_model
    >>> values = check_initial_values("GaussianMixture", [0.5, 0.5], None, None, 2, 1,
    ...                               get_covariance_model("full"))
    >>> values["weights"], values["means"]
    (array([0.5, 0.5]), None)
    """
    return {
        "weights": None if weights_init is None else _check_weights(weights_init, n_components),
        "means": None if means_init is None else _check_means(means_init, n_components, n_features),
        "precisions": None
        if precisions_init is None
        else _check_precisions(owner, precisions_init, n_components, n_features, model),
    }
