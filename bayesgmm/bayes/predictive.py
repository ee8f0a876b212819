"""The posterior predictive of a Bayesian fit, and the model's variables for PyMC's own.

:func:`posterior_predictive` draws one replicate of the data per posterior draw from our
own sampler of the mixture (vectorised over blocks of draws): the ``posterior_predictive``
group that ``az.plot_ppc`` and ``az.plot_loo_pit`` read, in the data's units, with the
dims of ``observed_data``. :func:`add_model_variables` stores the model's free variables
(``z_means``, ``z_chol_k`` or ``z_sds``, on its standardised scale) beside the reported
parameters, computed from the relabelled draws, so that PyMC's forward sampling
(``pm.sample_posterior_predictive(fit.result_.posterior)`` inside ``with fit.model_:``)
finds every variable it would otherwise resample from the prior.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .model import OBSERVED_NAME, Standardisation
from .samplers.base import start_values

__all__ = [
    "PREDICTIVE_AUTO_MAX",
    "add_model_variables",
    "add_posterior_predictive",
    "posterior_predictive",
]

PREDICTIVE_AUTO_MAX = 20_000_000
"""Most numbers (draws x rows x features) that ``compute_posterior_predictive="auto"``
stores: 160 MB, about the pointwise log-likelihood of 4000 draws of 5000 rows."""

_BLOCK_ELEMENTS = 1 << 21
"""Largest (draws, rows, features, features) block of Cholesky factors gathered at once."""


def _observation_coords(result: Any, n_observations: int) -> np.ndarray:
    idata = result.posterior
    if idata is not None and "observed_data" in idata.groups():
        observed = idata.observed_data
        if "observation" in observed.coords and observed.sizes["observation"] == n_observations:
            return observed["observation"].values
    return np.arange(n_observations)


def posterior_predictive(result: Any, n_observations: int, rng: np.random.Generator) -> Any:
    """One replicate of ``n_observations`` rows from the mixture of every posterior draw.

    Parameters
    ----------
    result : MixtureResult
        A Bayesian fit's (or any result: an EM fit is one draw).
    n_observations : int
        Rows per replicate (the training data's N for ``plot_ppc``).
    rng : numpy Generator

    Returns
    -------
    xarray.Dataset
        ``x`` with dims (chain, draw, observation, feature), in the data's units: row n
        of draw s is a component k ~ weights_s, then a point ~ N(means_sk, covariances_sk)
        (Student-t components: that point's deviation from the mean times
        ``sqrt(dof_sk / chi2(dof_sk))``).

    Examples
    --------
    >>> from bayesgmm import MixtureResult
    >>> result = MixtureResult(weights=np.ones(1), means=np.zeros((1, 2)),
    ...                        covariances=np.full(1, 4.0), covariance_type="spherical")
    >>> pp = posterior_predictive(result, 5000, np.random.default_rng(0))
    >>> pp["x"].dims, bool(abs(float(pp["x"].std()) - 2.0) < 0.05)
    (('chain', 'draw', 'observation', 'feature'), True)
    """
    import xarray as xr

    draws = result.draws()
    n_chains, n_draws = draws.sizes["chain"], draws.sizes["draw"]
    k, d = draws.sizes["component"], draws.sizes["feature"]
    weights = draws["weights"].values.reshape(-1, k)
    means = draws["means"].values.reshape(-1, k, d)
    chol = np.linalg.cholesky(draws["covariances"].values.reshape(-1, k, d, d))
    dof = draws["dof"].values.reshape(-1, k) if "dof" in draws else None
    out = np.empty((len(weights), n_observations, d))
    block = max(1, _BLOCK_ELEMENTS // (n_observations * d * d))
    for begin in range(0, len(weights), block):
        part = slice(begin, min(begin + block, len(weights)))
        parameters = (weights[part], means[part], chol[part], None if dof is None else dof[part])
        out[part] = _draw_rows(*parameters, n_observations, rng)
    coords = {
        "chain": draws["chain"].values,
        "draw": draws["draw"].values,
        "observation": _observation_coords(result, n_observations),
        "feature": draws["feature"].values,
    }
    values = out.reshape(n_chains, n_draws, n_observations, d)
    dims = ("chain", "draw", "observation", "feature")
    return xr.Dataset({OBSERVED_NAME: (dims, values)}, coords=coords)


def _draw_rows(
    weights: np.ndarray,
    means: np.ndarray,
    chol: np.ndarray,
    dof: np.ndarray | None,
    n_rows: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Rows (S, n, D) of S mixtures: weights (S, K), means (S, K, D), factors (S, K, D, D),
    Student-t degrees of freedom (S, K) or None."""
    n_draws, n_components = weights.shape
    cumulative = np.cumsum(weights, axis=1)
    uniform = rng.random((n_draws, n_rows)) * cumulative[:, -1:]
    labels = (uniform[:, :, None] >= cumulative[:, None, :]).sum(axis=-1)
    labels = np.minimum(labels, n_components - 1)
    which = np.arange(n_draws)[:, None]
    noise = rng.standard_normal((n_draws, n_rows, means.shape[-1]))
    if dof is not None:
        nu = dof[which, labels]
        noise *= np.sqrt(nu / rng.chisquare(nu))[..., None]
    return means[which, labels] + np.einsum("snde,sne->snd", chol[which, labels], noise)


def add_posterior_predictive(result: Any, rng: np.random.Generator) -> Any:
    """Draw :func:`posterior_predictive` for the fit's training rows; store it as the
    ``posterior_predictive`` group of ``result.posterior`` (replacing one there).

    A fit of data with missing values (``missing="marginal"``) gets NaN in each
    replicate wherever the data have one, so replicates and data share their pattern.

    Returns
    -------
    xarray.Dataset
        The group.
    """
    idata = result.posterior
    n_observations = idata.observed_data.sizes["observation"]
    predictive = posterior_predictive(result, n_observations, rng)
    observed = idata.observed_data[OBSERVED_NAME]
    if result.missing == "marginal" and np.isnan(observed.values).any():
        # missing values: each replicate keeps the data's pattern (its observed part is
        # the posterior predictive of the observed coordinates, the fitted likelihood's)
        missing = np.isnan(observed.transpose("observation", "feature").values)
        predictive[OBSERVED_NAME] = predictive[OBSERVED_NAME].where(~missing)
    if "posterior_predictive" in idata.groups():
        del idata.posterior_predictive
    idata.add_groups(posterior_predictive=predictive)
    return predictive


def add_model_variables(idata: Any, covariance_type: str, standard: Standardisation) -> None:
    """Add the model's free variables, computed from the (relabelled) reported draws.

    ``z_means`` (chain, draw, component, feature); ``z_chol_k`` (chain, draw, cholesky_entry) per
    component for "full", ``z_chol`` for "tied" (PyMC's packed lower Cholesky factors);
    ``z_sds`` for "diag" and "spherical"; all on the model's standardised scale, as
    :func:`~bayesgmm.bayes.build_model` defines them.
    """
    post = idata.posterior.transpose("chain", "draw", ...)
    values = start_values(
        post["weights"].values,
        post["means"].values,
        post["covariances"].values,
        covariance_type,
        standard,
    )
    dims = {
        "z_means": ("component", "feature"),
        "z_sds": ("component", "feature") if covariance_type == "diag" else ("component",),
    }
    for name, value in values.items():
        if name == "weights":
            continue
        core = dims.get(name, ("cholesky_entry",))  # packed factors: D (D + 1) / 2 entries
        idata.posterior[name] = (("chain", "draw", *core), value)
