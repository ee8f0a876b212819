"""Initial values given by the user (``weights_init``, ``means_init``, ``precisions_init``):
checked against the model, never written back into the estimator's parameters.

Messages begin as scikit-learn's do ("The parameter 'weights' should have the shape of
..."), so code that matches them keeps working, and go on to name the fix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..covariance import CovarianceModel

__all__ = ["check_initial_values"]


def _as_floats(name: str, values: Any, what: str) -> np.ndarray:
    """``values`` as a float array, or a TypeError naming ``name`` and what it holds."""
    try:
        array = np.asarray(values)
    except ValueError:  # ragged nested lists
        array = np.asarray(None)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be an array of numbers ({what}); got {values!r} of type "
            f"{type(values).__name__}. Pass None to let the starts choose it."
        )
    return array.astype(np.float64)


def _check_weights(values: Any, n_components: int) -> np.ndarray:
    weights = _as_floats("weights_init", values, "one mixing proportion per component")
    if weights.shape != (n_components,):
        raise ValueError(
            f"The parameter 'weights' should have the shape of ({n_components},), but got "
            f"{weights.shape}: weights_init holds one weight per component."
        )
    if not np.isfinite(weights).all() or (weights < 0).any() or (weights > 1).any():
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got min value "
            f"{np.nanmin(weights):.5f}, max value {np.nanmax(weights):.5f}: weights_init "
            "holds mixing proportions, finite and non-negative, that sum to 1."
        )
    if not np.isclose(weights.sum(), 1.0, rtol=0.0, atol=1e-6):
        raise ValueError(
            "The parameter 'weights' should be normalized, but got sum(weights) = "
            f"{weights.sum():.5f}. Divide weights_init by its sum."
        )
    return weights


def _check_means(values: Any, n_components: int, n_features: int) -> np.ndarray:
    means = _as_floats("means_init", values, "one mean per component and feature")
    if means.shape != (n_components, n_features):
        raise ValueError(
            f"The parameter 'means' should have the shape of ({n_components}, {n_features}), "
            f"but got {means.shape}: means_init holds one row per component, one column per "
            "feature."
        )
    if not np.isfinite(means).all():
        raise ValueError("means_init contains NaN or infinite values; give finite means.")
    return means


def _check_precisions(
    owner: str, values: Any, n_components: int, n_features: int, model: CovarianceModel
) -> np.ndarray:
    name = f"'{model.name} precision'"
    precisions = _as_floats("precisions_init", values, "inverse covariances")
    shape = model.covariance_shape(n_components, n_features)
    if precisions.shape != shape:
        raise ValueError(
            f"The parameter {name} should have the shape of {shape}, but got "
            f"{precisions.shape}: precisions_init is shaped as covariances_ for "
            f"covariance_type={model.name!r}."
        )
    if not np.isfinite(precisions).all():
        raise ValueError(
            "precisions_init contains NaN or infinite values; give finite inverse covariances."
        )
    matrices = model.dims[-2:] == ("feature", "feature_bis")
    # scikit-learn's test (np.allclose's defaults): an inverse computed in floating point
    # (np.linalg.inv of an ill-conditioned covariance) is symmetric only to its rounding
    if matrices and not np.allclose(precisions, np.swapaxes(precisions, -1, -2)):
        raise ValueError(
            f"The parameter {name} should be symmetric, positive-definite, but "
            f"precisions_init of {owner} holds matrices that are not symmetric; symmetrise "
            "them, e.g. (P + P.T) / 2."
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
            "symmetric, positive-definite, but a Cholesky factorisation of precisions_init failed"
            if matrices
            else f"positive, but got smallest value {np.nanmin(precisions):g}"
        )
        raise ValueError(
            f"The parameter {name} should be {problem} (covariance_type={model.name!r}). "
            "Pass inverse covariances (precisions), not covariances or their factors."
        )
    if matrices:  # the symmetric matrix nearest to what was given
        precisions = 0.5 * (precisions + np.swapaxes(precisions, -1, -2))
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
