"""EM versus Bayes, component by component.

:func:`compare` matches the components of an EM fit and of a Bayesian fit with the
Hungarian algorithm (on the symmetrised Kullback-Leibler divergence between the EM
components and the posterior-mean components), then reports, per parameter, the EM
estimate, the posterior mean and HDI and whether the EM value lies inside the HDI,
and globally the log-likelihood, BIC, ELPD-LOO, the agreement of hard labels
(adjusted Rand index) and the mean absolute difference of responsibilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.optimize import linear_sum_assignment
from scipy.special import comb

from .data import check_float

__all__ = [
    "compare",
    "Comparison",
    "adjusted_rand_index",
    "match_components",
    "posterior_parameters",
]


def posterior_parameters(model: Any) -> xr.Dataset:
    """Posterior draws of a Bayesian fit with covariances as full matrices.

    The stored posterior keeps each covariance type's native shape (tied: one
    matrix; diag: variances; spherical: one variance per component); this expands
    them so every type looks the same.

    Parameters
    ----------
    model : BayesianGaussianMixture or MixtureResult
        A fit with ``result_.posterior``.

    Returns
    -------
    xarray.Dataset
        ``weights`` (chain, draw, component), ``means`` (chain, draw, component,
        feature) and ``covariances`` (chain, draw, component, feature, feature_bis).

    Examples
    --------
    >>> import arviz as az
    >>> from bayesgmm import MixtureResult
    >>> posterior = az.from_dict(posterior={
    ...     "weights": np.full((1, 3, 2), 0.5), "means": np.zeros((1, 3, 2, 2)),
    ...     "covariances": np.ones((1, 3, 2))},
    ...     dims={"weights": ["component"], "means": ["component", "feature"],
    ...           "covariances": ["component"]})
    >>> fit = MixtureResult(weights=np.full(2, 0.5), means=np.zeros((2, 2)),
    ...                     covariances=np.ones(2), covariance_type="spherical",
    ...                     posterior=posterior)
    >>> posterior_parameters(fit)["covariances"].shape
    (1, 3, 2, 2, 2)
    """
    from .covariance import get_covariance_model

    result = getattr(model, "result_", model)
    posterior = getattr(result.posterior, "posterior", None)
    if posterior is None:
        raise ValueError(
            "This needs posterior draws: fit BayesianGaussianMixture (method='nuts' or "
            "'advi'); an EM fit has none."
        )
    k, d = result.n_components, result.n_features
    weights = posterior["weights"].transpose("chain", "draw", "component").values
    means = posterior["means"].transpose("chain", "draw", "component", ...).values
    native = posterior["covariances"].transpose("chain", "draw", ...).values
    full = np.array(get_covariance_model(result.covariance_type).to_full(native, k, d))
    coords = {
        "chain": posterior["chain"].values,
        "draw": posterior["draw"].values,
        "component": np.arange(k),
        "feature": list(result.feature_names),
        "feature_bis": list(result.feature_names),
    }
    return xr.Dataset(
        {
            "weights": (("chain", "draw", "component"), weights),
            "means": (("chain", "draw", "component", "feature"), means.reshape(*weights.shape, d)),
            "covariances": (("chain", "draw", "component", "feature", "feature_bis"), full),
        },
        coords=coords,
    )


def adjusted_rand_index(labels_a: Any, labels_b: Any) -> float:
    """Adjusted Rand index of two partitions (Hubert & Arabie 1985).

    1 for identical partitions (up to renaming), about 0 for independent ones.

    Parameters
    ----------
    labels_a, labels_b : array-like of shape (n,)
        Two labellings of the same points.

    Returns
    -------
    float
        The adjusted Rand index, at most 1.

    Examples
    --------
    >>> adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    """
    a = np.asarray(labels_a).ravel()
    b = np.asarray(labels_b).ravel()
    if a.shape != b.shape:
        raise ValueError(f"Label arrays differ in length: {a.shape[0]} and {b.shape[0]}.")
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    table = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(table, (ia, ib), 1)
    pairs = comb(table, 2).sum()
    rows = comb(table.sum(axis=1), 2).sum()
    cols = comb(table.sum(axis=0), 2).sum()
    total = comb(len(a), 2)
    expected = rows * cols / total if total else 0.0
    maximum = 0.5 * (rows + cols)
    if maximum == expected:
        return 1.0
    return float((pairs - expected) / (maximum - expected))


def _symmetric_kl(means_a, covs_a, means_b, covs_b) -> np.ndarray:
    """Cost (K_a, K_b): KL(a||b) + KL(b||a) between Gaussian components."""
    inv_a = np.linalg.inv(covs_a)
    inv_b = np.linalg.inv(covs_b)
    diff = means_a[:, None, :] - means_b[None, :, :]
    trace = np.einsum("bij,aji->ab", inv_b, covs_a) + np.einsum("aij,bji->ab", inv_a, covs_b)
    maha = np.einsum("abi,bij,abj->ab", diff, inv_b, diff) + np.einsum(
        "abi,aij,abj->ab", diff, inv_a, diff
    )
    return 0.5 * (trace + maha) - means_a.shape[1]


def match_components(reference: Any, other: Any) -> np.ndarray:
    """Order of ``other``'s components that best matches ``reference``'s.

    Parameters
    ----------
    reference, other : MixtureResult or fitted estimator
        Fits with the same number of components and features.

    Returns
    -------
    ndarray of shape (K,)
        ``order[k]`` is the component of ``other`` matched to component ``k`` of
        ``reference`` (minimum total symmetrised KL divergence, Hungarian algorithm).

    Examples
    --------
    >>> from bayesgmm import MixtureResult
    >>> a = MixtureResult(weights=np.array([0.5, 0.5]), means=np.array([[0.0], [5.0]]),
    ...                   covariances=np.ones(2), covariance_type="spherical")
    >>> b = MixtureResult(weights=np.array([0.5, 0.5]), means=np.array([[5.1], [0.2]]),
    ...                   covariances=np.ones(2), covariance_type="spherical")
    >>> match_components(a, b)
    array([1, 0])
    """
    ref = getattr(reference, "result_", reference)
    oth = getattr(other, "result_", other)
    if ref.n_components != oth.n_components or ref.n_features != oth.n_features:
        raise ValueError(
            f"Cannot match a fit with {ref.n_components} components and {ref.n_features} "
            f"features to one with {oth.n_components} components and {oth.n_features} "
            "features: fit both with the same n_components on the same data."
        )
    cost = _symmetric_kl(
        ref.means.values, ref.covariances.values, oth.means.values, oth.covariances.values
    )
    _, order = linear_sum_assignment(cost)
    return order


def _responsibility_mean(result: Any, X: Any) -> np.ndarray:
    resp = result.responsibilities(X)
    if hasattr(resp, "data_vars"):  # Bayesian: mean, lower, upper
        resp = resp["mean"]
    return np.asarray(resp.transpose("observation", "component").values)


@dataclass
class Comparison:
    """The outcome of :func:`compare`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per parameter: ``parameter`` (weights, means, covariances),
        ``component`` (EM's numbering), ``feature``, ``feature_bis`` (empty where
        not applicable), ``em``, ``posterior_mean``, ``posterior_sd``,
        ``hdi_lower``, ``hdi_upper`` and ``em_inside``.
    global_table : pandas.DataFrame
        Indexed by quantity: ``log_likelihood`` (total, at the point estimates:
        posterior means for Bayes, the parameters BIC uses), ``bic`` and
        ``elpd_loo`` (Bayes only) in columns ``em`` and ``bayes``;
        ``adjusted_rand_index`` of hard labels and
        ``mean_abs_responsibility_difference`` in column ``agreement``.
    matching : ndarray of shape (K,)
        ``matching[k]`` is the Bayesian component matched to EM component ``k``.
    ci_prob : float
        Probability of the HDIs.
    em_fit, bayes_fit
        The fits compared.
    bayes_aligned : MixtureResult
        The Bayesian fit with its components (and posterior) renumbered to EM's order.
    """

    table: pd.DataFrame
    global_table: pd.DataFrame
    matching: np.ndarray
    ci_prob: float
    em_fit: Any
    bayes_fit: Any
    bayes_aligned: Any

    def plot(self, X: Any, **kwargs: Any) -> Any:
        """EM and Bayes side by side; see :func:`bayesgmm.plot.plot_comparison`."""
        from .plot import plot_comparison

        return plot_comparison(self, X, **kwargs)

    @property
    def share_inside(self) -> float:
        """Share of parameters whose EM value lies inside the posterior HDI."""
        return float(self.table["em_inside"].mean())

    def __repr__(self) -> str:
        shown = self.table.copy()
        return (
            f"Comparison (matching EM component k to Bayes component {self.matching.tolist()}; "
            f"{self.share_inside:.0%} of EM values inside the {self.ci_prob:.0%} HDI)\n"
            + shown.to_string(index=False, float_format=lambda v: f"{v:.4g}")
            + "\n\n"
            + self.global_table.to_string(float_format=lambda v: f"{v:.4g}", na_rep="-")
        )


def _plug_in_log_likelihood(result: Any, X: Any) -> float:
    """Total log-likelihood at the result's point estimates (posterior means for Bayes)."""
    return -0.5 * (result.aic(X) - 2 * result.n_parameters)


def _aligned_posterior(posterior: xr.Dataset, order: np.ndarray) -> xr.Dataset:
    aligned = posterior.isel(component=order)
    return aligned.assign_coords(component=np.arange(len(order)))


def compare(em_fit: Any, bayes_fit: Any, X: Any, *, ci_prob: float = 0.94) -> Comparison:
    """Compare an EM fit and a Bayesian fit of the same mixture on the same data.

    Parameters
    ----------
    em_fit : GaussianMixture or MixtureResult
        The maximum-likelihood fit.
    bayes_fit : BayesianGaussianMixture or MixtureResult
        A fit with posterior draws (``result_.posterior``) and the same number of
        components and features.
    X : array-like or DataFrame
        The data both were fitted to.
    ci_prob : float, default=0.94
        Probability of the highest-density intervals (ArviZ's default).

    Returns
    -------
    Comparison
        ``table`` (per parameter), ``global_table``, ``matching`` and ``plot()``.

    Notes
    -----
    EM is a point estimate, so its row of ``elpd_loo`` is empty; BIC of the
    Bayesian fit is computed at its posterior-mean parameters. The HDIs are those
    of the relabelled posterior, per parameter (:func:`arviz.hdi`). When the two
    fits agree, EM values lie inside most HDIs and the adjusted Rand index is near 1.

    Examples
    --------
    >>> from bayesgmm import GaussianMixture, BayesianGaussianMixture
    >>> from bayesgmm.datasets import load_faithful
    >>> X = load_faithful()
    >>> em = GaussianMixture(2, random_state=0).fit(X)
    >>> bayes = BayesianGaussianMixture(2, method="advi", random_state=0).fit(X)  # doctest: +SKIP
    >>> compare(em, bayes, X).global_table  # doctest: +SKIP
    """
    import arviz as az

    ci_prob = check_float("compare", "ci_prob", ci_prob, 0.0, strict=True)
    if ci_prob >= 1:
        raise ValueError(f"ci_prob must be below 1 (for example 0.94); got {ci_prob!r}.")
    em = getattr(em_fit, "result_", em_fit)
    bayes = getattr(bayes_fit, "result_", bayes_fit)
    for name, fit in (("em_fit", em), ("bayes_fit", bayes)):
        if not hasattr(fit, "covariances") or not hasattr(fit, "posterior"):
            raise TypeError(
                f"{name} must be a fitted estimator or a MixtureResult; got {type(fit).__name__}."
            )
    if getattr(bayes.posterior, "posterior", None) is None:
        raise ValueError(
            "bayes_fit has no posterior draws: fit BayesianGaussianMixture with method='nuts' "
            "or 'advi' (an EM or MAP fit cannot give intervals)."
        )
    if em.feature_names != bayes.feature_names:
        raise ValueError(
            f"The fits have different features: {em.feature_names} and {bayes.feature_names}. "
            "Fit both to the same columns."
        )
    order = match_components(em, bayes)
    aligned = _aligned_posterior(posterior_parameters(bayes), order)
    hdi = az.hdi(aligned[["weights", "means", "covariances"]], hdi_prob=ci_prob)
    mean = aligned.mean(("chain", "draw"))
    sd = aligned.std(("chain", "draw"))

    names = em.feature_names
    rows = []

    def add(parameter: str, k: int, em_value: float, where: dict[str, Any], f="", g="") -> None:
        low, high = (float(v) for v in hdi[parameter].sel(component=k, **where).values)
        rows.append(
            {
                "parameter": parameter,
                "component": k,
                "feature": f,
                "feature_bis": g,
                "em": float(em_value),
                "posterior_mean": float(mean[parameter].sel(component=k, **where)),
                "posterior_sd": float(sd[parameter].sel(component=k, **where)),
                "hdi_lower": low,
                "hdi_upper": high,
                "em_inside": bool(low <= em_value <= high),
            }
        )

    em_w, em_m, em_c = em.weights.values, em.means.values, em.covariances.values
    for k in range(em.n_components):
        add("weights", k, em_w[k], {})
        for i, f in enumerate(names):
            add("means", k, em_m[k, i], {"feature": f}, f)
        for i, f in enumerate(names):
            for j in range(i, len(names)):
                g = names[j]
                add("covariances", k, em_c[k, i, j], {"feature": f, "feature_bis": g}, f, g)
    table = pd.DataFrame(rows)

    aligned_result = _aligned_result(bayes, aligned, order)
    em_resp = _responsibility_mean(em, X)
    bayes_resp = _responsibility_mean(bayes, X)[:, order]
    ari = adjusted_rand_index(em_resp.argmax(axis=1), bayes_resp.argmax(axis=1))
    mad = float(np.abs(em_resp - bayes_resp).mean())
    elpd = np.nan
    if "log_likelihood" in getattr(bayes.posterior, "groups", lambda: [])():
        elpd = float(az.loo(bayes.posterior)["elpd_loo"])
    global_table = pd.DataFrame(
        {
            "em": [_plug_in_log_likelihood(em, X), em.bic(X), np.nan, np.nan, np.nan],
            "bayes": [_plug_in_log_likelihood(bayes, X), bayes.bic(X), elpd, np.nan, np.nan],
            "agreement": [np.nan, np.nan, np.nan, ari, mad],
        },
        index=pd.Index(
            [
                "log_likelihood",
                "bic",
                "elpd_loo",
                "adjusted_rand_index",
                "mean_abs_responsibility_difference",
            ],
            name="quantity",
        ),
    )
    return Comparison(table, global_table, order, ci_prob, em_fit, bayes_fit, aligned_result)


def _aligned_result(bayes: Any, aligned: xr.Dataset, order: np.ndarray) -> Any:
    """The Bayesian result with components renumbered, as a full-covariance MixtureResult."""
    import arviz as az

    from .result import MixtureResult

    return MixtureResult(
        weights=bayes.weights.values[order],
        means=bayes.means.values[order],
        covariances=bayes.covariances.values[order],
        covariance_type="full",
        feature_names=bayes.feature_names,
        method=bayes.method,
        posterior=az.InferenceData(posterior=aligned),
    )
