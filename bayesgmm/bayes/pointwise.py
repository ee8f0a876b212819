"""A Bayesian fit's pointwise log-likelihood, and its lower bound, at any size of data.

The ``log_likelihood`` group holds ``log p(x_n | theta_s)`` for every draw s and row n
(what ``az.loo`` reads): :func:`pointwise_log_likelihood` computes it in memory, or, for
a dask array, as a lazy dask array chunked like the rows. The fit's ``lower_bound_`` is
the mean log posterior-predictive density, ``mean_n log mean_s p(x_n | theta_s)``
(:func:`lower_bound`): from the stored group when there is one, else streamed over
blocks of rows (dask chunks for dask data) on evenly thinned draws, at most
``LOWER_BOUND_EVALUATIONS`` row-draw pairs in all (between ``LOWER_BOUND_DRAWS`` draws):
at N = 5000 every one of 1000 draws, at N = 10^7 ten of them. Fewer draws bias the
estimate by about ``-Var_s[p(x_n | theta_s)] / (2 S p(x_n)^2)`` per row, which the
posterior's width makes small exactly where N is large (order ``P / (N S)``, P the number
of parameters: 1e-7 at N = 10^7, S = 10).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import is_dask_array
from ..result import MixtureResult

__all__ = [
    "LOWER_BOUND_DRAWS",
    "LOWER_BOUND_EVALUATIONS",
    "log_mean_exp",
    "lower_bound",
    "pointwise_log_likelihood",
]

LOWER_BOUND_EVALUATIONS = 20_000_000
"""Most row-draw log-densities a streamed lower bound evaluates."""
LOWER_BOUND_DRAWS = (10, 1000)
"""Fewest and most draws a streamed lower bound uses."""
_BLOCK_VALUES = 4_000_000  # draws x rows of one block: 32 MB of float64


def log_mean_exp(values: np.ndarray) -> np.ndarray:
    """``log mean_s exp(values[s, n])`` for each column n of an (S, N) array.

    Reduced along the first axis, in blocks of columns, so that no temporary larger
    than a block is made (a log-sum-exp over the last axis of the transpose took ten
    times as long here, and two more copies of the array).

    Examples
    --------
    >>> log_mean_exp(np.log([[1.0, 2.0], [3.0, 2.0]])).round(6).tolist()
    [0.693147, 0.693147]
    """
    n_draws, n_rows = values.shape
    out = np.empty(n_rows)
    step = max(1, _BLOCK_VALUES // max(n_draws, 1))
    for start in range(0, n_rows, step):
        block = values[:, start : start + step]
        top = block.max(axis=0)
        top = np.where(np.isfinite(top), top, 0.0)
        out[start : start + step] = np.log(np.exp(block - top).mean(axis=0)) + top
    return out


def pointwise_log_likelihood(result: MixtureResult, X: Any) -> Any:
    """``log p(x_n | theta_s)`` for every draw and row: (chain, draw, observation).

    A dask array gives a lazy DataArray whose chunks follow X's rows (computing all of
    it holds draws x N numbers, 8 bytes each); in memory it is computed here.

    Examples
    --------
    >>> result = _example_result()
    >>> pointwise_log_likelihood(result, np.zeros((3, 1))).shape
    (1, 4, 3)
    """
    if not is_dask_array(X):
        return result.log_likelihood_draws(X)
    import dask.array as da
    import xarray as xr

    posterior = result.posterior.posterior
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]

    def block(rows: np.ndarray) -> np.ndarray:
        return result.log_likelihood_draws(rows).values

    lazy = da.map_blocks(
        block,
        X,
        drop_axis=1,
        new_axis=[0, 1],
        chunks=((chains,), (draws,), X.chunks[0]),
        dtype=np.float64,
        meta=np.empty((0, 0, 0)),
    )
    coords = {"chain": posterior["chain"].values, "draw": posterior["draw"].values}
    coords["observation"] = np.arange(X.shape[0])
    return xr.DataArray(lazy, dims=("chain", "draw", "observation"), coords=coords)


def _thinned(result: MixtureResult, n_rows: int) -> MixtureResult:
    """The result on evenly thinned draws, as many as the evaluation budget allows."""
    import arviz as az

    posterior = result.posterior.posterior
    total = posterior.sizes["chain"] * posterior.sizes["draw"]
    low, high = LOWER_BOUND_DRAWS
    wanted = int(np.clip(LOWER_BOUND_EVALUATIONS // max(n_rows, 1), low, high))
    if total <= wanted:
        return result
    stride = -(-total // wanted)
    thinned = posterior.isel(draw=slice(None, None, stride))
    # the same result (parameters, family, dof, names) on the thinned draws
    return MixtureResult.from_dataset(
        result.to_dataset(), posterior=az.InferenceData(posterior=thinned)
    )


def _predictive_rows(result: MixtureResult, rows: np.ndarray) -> np.ndarray:
    """``log mean_s p(x_n | theta_s)`` of each row, block by block."""
    posterior = result.posterior.posterior
    n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
    out = np.empty(len(rows))
    step = max(1, _BLOCK_VALUES // n_draws)
    for start in range(0, len(rows), step):
        part = rows[start : start + step]
        values = result.log_likelihood_draws(part).values.reshape(n_draws, len(part))
        out[start : start + step] = log_mean_exp(values)
    return out


def lower_bound(result: MixtureResult, X: Any, sample_weight: Any, log_likelihood: Any = None):
    """The mean (weighted) log posterior-predictive density of X's rows.

    Parameters
    ----------
    result : MixtureResult
        A Bayesian fit's.
    X : ndarray or dask array (N, D)
    sample_weight : ndarray, dask array or None
    log_likelihood : DataArray or None, default=None
        The stored pointwise log-likelihood (in memory), used whole when given.

    Returns
    -------
    float

    Examples
    --------
    >>> result, X = _example_result(), np.zeros((3, 1))
    >>> whole = lower_bound(result, X, None, pointwise_log_likelihood(result, X))
    >>> bool(np.isclose(lower_bound(result, X, None), whole))
    True
    """
    if log_likelihood is not None and not is_dask_array(log_likelihood.data):
        values = np.asarray(log_likelihood.values)
        predictive = log_mean_exp(values.reshape(-1, values.shape[-1]))
        return float(np.average(predictive, weights=sample_weight))
    thinned = _thinned(result, X.shape[0])
    if not is_dask_array(X):
        return float(np.average(_predictive_rows(thinned, X), weights=sample_weight))
    import dask.array as da

    lazy = da.map_blocks(
        lambda rows: _predictive_rows(thinned, rows), X, drop_axis=1, dtype=np.float64
    )
    return float(da.average(lazy, weights=sample_weight).compute())


def _example_result() -> MixtureResult:
    """One component N(0, s^2), four posterior draws of s^2 (1, 2, 3, 4): for examples."""
    import arviz as az

    draws = {
        "weights": np.ones((1, 4, 1)),
        "means": np.zeros((1, 4, 1, 1)),
        "covariances": np.arange(1.0, 5.0).reshape(1, 4, 1),
    }
    dims = {"weights": ["component"], "means": ["component", "feature"]}
    dims["covariances"] = ["component"]
    return MixtureResult(
        weights=np.ones(1),
        means=np.zeros((1, 1)),
        covariances=np.full(1, 2.5),
        covariance_type="spherical",
        posterior=az.from_dict(posterior=draws, dims=dims),
    )
