"""Argument checks and parameter look-ups shared by the front plot functions (no matplotlib)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["fitted_result", "feature_index", "as_array", "has_posterior", "parameter_draws"]


def fitted_result(model: Any) -> Any:
    """The MixtureResult of a fitted estimator (or the result itself)."""
    result = getattr(model, "result_", model)
    if not hasattr(result, "covariances") or not hasattr(result, "responsibilities"):
        raise TypeError(
            "Expected a fitted GaussianMixture, BayesianGaussianMixture or a MixtureResult; "
            f"got {type(model).__name__}. Fit the estimator first."
        )
    return result


def feature_index(result: Any, features: Any, count: int) -> list[int]:
    """Column positions of ``features`` (names or positions; the first ``count`` when None)."""
    names = list(result.feature_names)
    if features is None:
        if result.n_features < count:
            raise ValueError(f"This plot needs {count} features; the fit has {result.n_features}.")
        return list(range(count))
    features = [features] if isinstance(features, str | int | np.integer) else list(features)
    if len(features) != count:
        raise ValueError(f"features must name {count} feature(s); got {features!r}.")
    index = []
    for feature in features:
        if isinstance(feature, str):
            if feature not in names:
                raise ValueError(f"Feature {feature!r} does not exist. Expected one of {names}.")
            index.append(names.index(feature))
        else:
            if not 0 <= int(feature) < len(names):
                raise ValueError(
                    f"Feature index {feature} is out of range for {len(names)} features."
                )
            index.append(int(feature))
    return index


def as_array(X: Any) -> np.ndarray:
    """X (array, DataFrame or Series) as a float64 array."""
    return np.asarray(getattr(X, "values", X), dtype=np.float64)


def has_posterior(result: Any) -> bool:
    """Whether the result carries posterior draws (a Bayesian fit)."""
    return getattr(result.posterior, "posterior", None) is not None


def parameter_draws(
    result: Any, index: list[int], n_draws: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights (S, K), means (S, K, d) and covariances (S, K, d, d) on the features ``index``.

    The draws of :meth:`MixtureResult.draws` with chains stacked (one for an EM fit),
    ``n_draws`` of them chosen at random without replacement (in their order) when
    there are more.
    """
    draws = result.draws()
    k, d = result.n_components, result.n_features
    weights = draws["weights"].values.reshape(-1, k)
    means = draws["means"].values.reshape(-1, k, d)[..., index]
    covariances = draws["covariances"].values.reshape(-1, k, d, d)[..., index, :][..., index]
    take = np.arange(len(weights))
    if n_draws is not None and n_draws < len(weights):
        take = np.sort(rng.choice(len(weights), size=n_draws, replace=False))
    return weights[take], means[take], covariances[take]
