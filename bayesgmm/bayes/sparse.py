r"""Sparse finite mixtures: a posterior over the number of clusters from one overfitted fit.

Fit more components than the data need (``K = max_components``) with a Dirichlet prior
on the weights whose concentration :math:`e_0` is small: the prior then prefers to leave
surplus components empty, and the posterior of the number of *non-empty* components
:math:`K_+` estimates the number of clusters (Malsiner-Walli, Frühwirth-Schnatter & Grün
2016; Frühwirth-Schnatter & Malsiner-Walli 2019). Our model sums the labels out, so the
allocations are drawn afterwards, for every posterior draw :math:`\theta_s`:
:math:`z_i \sim \mathrm{Categorical}(r_i(\theta_s))`, which gives draws of
:math:`(\theta, z)` from their joint posterior and so of
:math:`K_+ = \#\{k : n_k(z) > 0\}`.

The non-empty components are identified afterwards, as those authors do: keep the draws
whose :math:`K_+` equals its posterior mode :math:`\hat K_+`, take each draw's non-empty
components (weights renormalised among them) and relabel them
(:func:`~bayesgmm.bayes.relabel`) against an EM fit with :math:`\hat K_+` components
(numbered as :class:`~bayesgmm.GaussianMixture` numbers them).

Empty components have the prior as posterior, and their weights' log-scale posterior has
a tail of rate :math:`e_0`, which NUTS crosses in about :math:`1/e_0` units: ``e0=0.01``
(the authors' fixed choice) makes long trajectories, ``e0=0.1`` is the median of their
Gamma(10, 10K) hyperprior at K = 10 and samples faster. Neither scikit-learn's
Dirichlet-process variational mixture nor mclust gives this posterior by MCMC.

References
----------
Malsiner-Walli, G., Frühwirth-Schnatter, S. & Grün, B. (2016). Model-based clustering
based on sparse finite Gaussian mixtures. Statistics and Computing 26, 303-324.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import gaussian
from ..data import check_random_state, check_X

__all__ = ["SparseMixtureResult", "nonempty_components", "sparse_mixture"]

_BLOCK_ELEMENTS = 1 << 21


@dataclass
class SparseMixtureResult:
    """The number of non-empty components and the components themselves.

    Attributes
    ----------
    n_nonempty : pandas.Series
        Posterior probability of each number of non-empty components (index 1..K).
    counts : xarray.DataArray
        Rows allocated to each component in every draw, dims (chain, draw, component).
    mode : int
        The most probable number of non-empty components.
    diagnostics : dict
        ``rhat`` and ``ess`` (bulk) of the K+ trace over chains and draws: the mixing
        that matters here (the empty components' parameters are the prior's and mix
        slowly, as the fit's own warnings say).
    result : MixtureResult
        The non-empty components of the draws with ``mode`` of them, relabelled: a
        Bayesian result (``posterior`` holds those draws as one chain) to evaluate,
        summarise and plot as any other.
    fit : BayesianGaussianMixture
        The overfitted fit.
    """

    n_nonempty: Any
    counts: Any
    mode: int
    diagnostics: dict
    result: Any
    fit: Any

    def __repr__(self) -> str:
        probabilities = ", ".join(f"{k}: {p:.3f}" for k, p in self.n_nonempty.items() if p > 0.0005)
        return (
            f"SparseMixtureResult(mode={self.mode}, P(K+ = k | data) = {{{probabilities}}},"
            f" from {self.fit.n_components} components; R-hat of K+ "
            f"{self.diagnostics['rhat']:.3f})"
        )


def _allocation_counts(draws: Any, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows per component (S, K) of one allocation draw z ~ r(theta_s) per posterior draw."""
    k = draws.sizes["component"]
    weights = draws["weights"].values.reshape(-1, k)
    means = draws["means"].values.reshape(len(weights), k, -1)
    covariances = draws["covariances"].values.reshape(len(weights), k, *means.shape[-1:] * 2)
    prec_chol = gaussian.precision_cholesky_full(covariances)
    counts = np.empty((len(weights), k), dtype=np.int64)
    block = max(1, _BLOCK_ELEMENTS // (len(X) * k))
    for begin in range(0, len(weights), block):
        part = slice(begin, min(begin + block, len(weights)))
        with np.errstate(divide="ignore"):
            weighted = gaussian.log_density_full(X, means[part], prec_chol[part])
            weighted = weighted + np.log(weights[part])[:, None, :]
        resp = np.exp(gaussian.log_mixture_density(weighted)[1])  # (S, N, K)
        cumulative = np.cumsum(resp, axis=-1)
        uniform = rng.random(cumulative.shape[:2])[..., None] * cumulative[..., -1:]
        labels = np.minimum((uniform >= cumulative).sum(axis=-1), k - 1)
        counts[part] = (labels[..., None] == np.arange(k)).sum(axis=1)
    return counts


def nonempty_components(fit: Any, X: Any, *, random_state: Any = None) -> SparseMixtureResult:
    """The posterior of the number of non-empty components of an overfitted fit.

    Parameters
    ----------
    fit : BayesianGaussianMixture
        Fitted with more components than clusters and a small Dirichlet concentration
        (``Priors(weights_alpha=e0)``), as :func:`sparse_mixture` fits it.
    X : array-like of shape (N, D)
        The training data.
    random_state : int, numpy Generator or None, default=None
        Seeds the allocation draws.

    Returns
    -------
    SparseMixtureResult
    """
    import pandas as pd
    import xarray as xr

    X = check_X(X, estimator="nonempty_components", allow_dask=False).X
    rng = check_random_state(random_state)
    draws = fit.result_.draws()
    counts = _allocation_counts(draws, X, rng)
    n_nonempty = (counts > 0).sum(axis=1)
    k = counts.shape[1]
    probabilities = pd.Series(
        np.bincount(n_nonempty, minlength=k + 1)[1:] / len(n_nonempty),
        index=pd.RangeIndex(1, k + 1, name="n_nonempty"),
        name="probability",
    )
    mode = int(probabilities.idxmax())
    shape = (draws.sizes["chain"], draws.sizes["draw"], k)
    labelled = xr.DataArray(
        counts.reshape(shape),
        dims=("chain", "draw", "component"),
        coords={name: draws[name].values for name in ("chain", "draw", "component")},
        name="counts",
    )
    result = _mode_components(fit, X, draws, counts, mode)
    trace = (labelled > 0).sum("component").astype(float)
    diagnostics = {"rhat": float("nan"), "ess": float("nan")}
    if trace.std() > 0 and trace.sizes["chain"] > 1:
        import arviz as az

        diagnostics = {
            "rhat": float(az.rhat(trace.to_dataset(name="k"))["k"]),
            "ess": float(az.ess(trace.to_dataset(name="k"))["k"]),
        }
    return SparseMixtureResult(probabilities, labelled, mode, diagnostics, result, fit)


def _mode_components(fit: Any, X: np.ndarray, draws: Any, counts: np.ndarray, mode: int) -> Any:
    """The relabelled non-empty components of the draws with ``mode`` of them."""
    import arviz as az

    from ..em import GaussianMixture
    from ..result import MixtureResult
    from .relabel import relabel

    k, d = draws.sizes["component"], draws.sizes["feature"]
    keep = (counts > 0).sum(axis=1) == mode
    order = np.argsort(counts[keep] == 0, axis=1, kind="stable")[:, :mode]  # non-empty first
    which = np.arange(keep.sum())[:, None]
    weights = draws["weights"].values.reshape(-1, k)[keep][which, order]
    means = draws["means"].values.reshape(-1, k, d)[keep][which, order]
    covariances = draws["covariances"].values.reshape(-1, k, d, d)[keep][which, order]
    names = list(draws["feature"].values)
    idata = az.from_dict(
        posterior={
            "weights": (weights / weights.sum(axis=1, keepdims=True))[None],
            "means": means[None],
            "covariances": covariances[None],
        },
        coords={"component": np.arange(mode), "feature": names, "feature_bis": names},
        dims={
            "weights": ["component"],
            "means": ["component", "feature"],
            "covariances": ["component", "feature", "feature_bis"],
        },
    )
    em = GaussianMixture(mode, covariance_type="full", random_state=0).fit(X)
    idata, _ = relabel(idata, "full", (em.means_, em.covariances_))
    point = {
        name: idata.posterior[name].mean(("chain", "draw")).values
        for name in ("weights", "means", "covariances")
    }
    return MixtureResult(
        **point, covariance_type="full", feature_names=names, method=fit.method, posterior=idata
    )


def sparse_mixture(
    X: Any,
    max_components: int = 10,
    *,
    covariance_type: str = "full",
    e0: float = 0.01,
    random_state: Any = None,
    **estimator_params: Any,
) -> SparseMixtureResult:
    """Fit an overfitted mixture with a sparse Dirichlet(e0) prior; report K+ (module doc).

    Parameters
    ----------
    X : array-like or DataFrame of shape (N, D)
    max_components : int, default=10
        Components fitted: more than the clusters expected.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
    e0 : float, default=0.01
        Concentration of the symmetric Dirichlet prior on the weights.
    random_state : int, numpy Generator or None, default=None
    **estimator_params
        Further :class:`~bayesgmm.BayesianGaussianMixture` parameters (``draws``,
        ``chains``, a ``priors`` whose ``weights_alpha`` is then replaced by ``e0``, ...);
        ``target_accept`` defaults to 0.95 here: nearly empty components sitting on a
        few rows make a funnel that the default step size diverges in.

    Returns
    -------
    SparseMixtureResult

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-4, 1, (80, 1)), rng.normal(4, 1, (80, 1))])
    >>> sparse = sparse_mixture(X, 4, draws=200, tune=200, chains=1, random_state=0)
    >>> sparse.mode, sparse.result.n_components
    (2, 2)
    """
    from dataclasses import replace

    from .estimator import BayesianGaussianMixture
    from .priors import Priors

    priors = replace(estimator_params.pop("priors", None) or Priors(), weights_alpha=e0)
    estimator_params.setdefault("target_accept", 0.95)
    rng = check_random_state(random_state)
    fit = BayesianGaussianMixture(
        max_components,
        covariance_type=covariance_type,
        priors=priors,
        random_state=rng,
        **estimator_params,
    ).fit(X)
    return nonempty_components(fit, X, random_state=rng)
