r"""The Bayesian model's likelihood over each row's observed coordinates (NaN: missing).

``BayesianGaussianMixture(missing="marginal")`` on data with NaN takes a NaN as a value
missing at random and integrates it out, as ``GaussianMixture(missing="marginal")``
does: the log-likelihood is the sum over missingness patterns of the marginal mixture
log-density of the observed coordinates ``o``,

.. math::

    \log p(x_{n,o} \mid \theta) = \operatorname{logsumexp}_k
        \bigl[\log \pi_k + \log \mathcal N(x_{n,o} \mid \mu_{k,o}, \Sigma_{k,oo})\bigr],

with every component's mean and covariance restricted to the pattern's observed
coordinates (labels summed out as in the complete-data model), so the posterior is over
the full means and covariances. In the model's standardised units each pattern takes
``z_means[:, o]`` and the Cholesky factor of ``Sigma_z[:, o, o]`` (full and tied
covariances; one factorisation per pattern and component), or the inverse standard
deviations ``1 / s[:, o]`` (diag and spherical), and its Jacobian is
``sum(log scale[o])``; a pattern with every coordinate observed uses the complete-data
model's own factor, so data without NaN give the complete-data log-density. Student-t
components take the same restriction (a multivariate t's margins are t's with the same
degrees of freedom). Rows with every value missing contribute 0.

The patterns are those of the model's data, found when the model is built; each row's
pattern is recognised from its NaN inside the graph, so minibatches of the rows (ADVI)
work unchanged. Every pattern's density is evaluated on every row and kept where the
row has that pattern: the likelihood costs one pass per pattern.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..observed import missingness_patterns

__all__ = [
    "MISSING_SAMPLERS",
    "check_missing_method",
    "observed_mixture_logp",
    "observed_patterns",
]

MISSING_SAMPLERS = ("pymc", "nutpie")
"""NUTS samplers that fit data with NaN (both read the PyMC model)."""


def observed_patterns(X: np.ndarray) -> tuple[np.ndarray, ...]:
    """The missingness patterns of X as boolean masks of observed coordinates (D,),
    leaving out the pattern with nothing observed.

    Examples
    --------
    >>> X = np.array([[1.0, np.nan], [2.0, 3.0], [np.nan, np.nan]])
    >>> [pattern.tolist() for pattern in observed_patterns(X)]
    [[True, True], [True, False]]
    """
    patterns = missingness_patterns(np.isnan(np.asarray(X, dtype=np.float64)))
    return tuple(observed for observed, _ in patterns if observed.any())


def _restricted_factor(factor: Any, z_covariances: Any, covariance_type: str, o: np.ndarray):
    """The precision factor of the observed coordinates ``o``: ``W_o`` with
    ``W_o W_o^T = Sigma_oo^{-1}`` (upper triangular), or inverse standard deviations."""
    import pytensor.tensor as pt
    from pytensor.tensor.slinalg import cholesky, solve_triangular

    if covariance_type in ("diag", "spherical"):
        return factor[:, o]
    if covariance_type == "tied":
        chol = cholesky(z_covariances[o[:, None], o[None, :]], lower=True)
        return solve_triangular(chol, pt.eye(len(o)), lower=True).T
    sub = z_covariances[:, o[:, None], o[None, :]]
    chol = cholesky(sub, lower=True)
    eye = pt.broadcast_to(pt.eye(len(o)), sub.shape)
    return solve_triangular(chol, eye, lower=True).transpose(0, 2, 1)


def observed_mixture_logp(
    z: Any,
    z_means: Any,
    factor: Any,
    z_covariances: Any,
    covariance_type: str,
    patterns: tuple[np.ndarray, ...],
    scale: Any,
    row_logp: Any,
) -> Any:
    """Each row's log-density over its observed coordinates, in the data's units (PyTensor).

    Parameters
    ----------
    z : tensor of shape (N, D)
        Standardised rows, NaN where a value is missing.
    z_means : tensor of shape (K, D)
    factor : tensor
        The model's precision factor (:func:`~bayesgmm.bayes.model.mixture_logp`).
    z_covariances : tensor
        The model's standardised covariances: (K, D, D) full, (D, D) tied; not read for
        diag and spherical.
    covariance_type : {"full", "tied", "diag", "spherical"}
    patterns : tuple of ndarray of bool (D,)
        The observed coordinates of each pattern (:func:`observed_patterns`).
    scale : tensor of shape (D,)
        The standardisation's scale: each pattern's Jacobian is ``sum(log scale[o])``.
    row_logp : callable
        ``row_logp(rows, means, factor) -> (N,)``: the mixture's log-density of complete
        rows of some dimension (the model's ``mixture_logp`` or ``t_mixture_logp`` with
        the weights, and degrees of freedom, bound).

    Returns
    -------
    tensor of shape (N,)
        0 for a row whose pattern is not in ``patterns`` (nothing observed).

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from bayesgmm.bayes.model import mixture_logp
    >>> X = np.array([[0.0, np.nan], [0.0, 0.0]])
    >>> def row_logp(rows, means, factor):
    ...     return mixture_logp(rows, pt.ones(1), means, factor, "diag")
    >>> logp = observed_mixture_logp(pt.as_tensor(X), pt.zeros((1, 2)), pt.ones((1, 2)), None,
    ...                              "diag", observed_patterns(X), pt.ones(2), row_logp)
    >>> logp.eval().round(4)
    array([-0.9189, -1.8379])
    """
    import pytensor.tensor as pt

    missing = pt.isnan(z)
    filled = pt.switch(missing, 0.0, z)  # finite everywhere, so gradients stay finite
    total = pt.zeros(z.shape[0])
    for observed in patterns:
        o = np.flatnonzero(observed)
        match = pt.all(pt.eq(missing, ~observed[None, :]), axis=1)
        if observed.all():  # the complete-data model's own factor, as it computes it
            density = row_logp(filled, z_means, factor)
        else:
            restricted = _restricted_factor(factor, z_covariances, covariance_type, o)
            density = row_logp(filled[:, o], z_means[:, o], restricted)
        density = density - pt.sum(pt.log(scale[o]))
        total = total + pt.switch(match, density, 0.0)
    return total


def check_missing_method(name: str, options: dict[str, Any]) -> None:
    """Refuse the inference methods that cannot fit data with NaN, naming those that can.

    PyMC's NUTS, nutpie (on the PyMC model, compiled per fit), ADVI and MAP read the PyMC
    model, whose likelihood takes the missingness patterns; numpyro is not supported.

    Examples
    --------
    >>> check_missing_method("B", {"method": "nuts", "nuts_sampler": "numpyro"})
    Traceback (most recent call last):
    ...
    ValueError: B(missing='marginal') fits data with NaN ...
    """
    if options["method"] == "nuts" and options["nuts_sampler"] not in MISSING_SAMPLERS:
        raise ValueError(
            f"{name}(missing='marginal') fits data with NaN through its PyMC model, which "
            f"nuts_sampler={options['nuts_sampler']!r} does not sample here. Use "
            "nuts_sampler='nutpie' or 'pymc', method='advi', 'fullrank_advi' or 'map', or "
            "drop the rows with NaN."
        )
