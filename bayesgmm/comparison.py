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
]


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


def _check_fits(em_fit: Any, bayes_fit: Any, ci_prob: Any) -> tuple[Any, Any, float]:
    """The two MixtureResults and ``ci_prob``, or an error that says what to change."""
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
    return em, bayes, ci_prob


def _aligned_posterior(posterior: xr.Dataset, order: np.ndarray) -> xr.Dataset:
    aligned = posterior.isel(component=order)
    return aligned.assign_coords(component=np.arange(len(order)))


def _parameter_rows(em: Any, aligned: xr.Dataset, ci_prob: float) -> pd.DataFrame:
    """One row per weight, mean and covariance entry (upper triangle), in EM's numbering."""
    import arviz as az

    hdi = az.hdi(aligned[["weights", "means", "covariances"]], hdi_prob=ci_prob)
    mean = aligned.mean(("chain", "draw"))
    sd = aligned.std(("chain", "draw"))
    names = em.feature_names
    em_values = {"weights": em.weights, "means": em.means, "covariances": em.covariances}
    cells = []
    for k in range(em.n_components):
        cells.append(("weights", k, {}))
        cells += [("means", k, {"feature": f}) for f in names]
        cells += [
            ("covariances", k, {"feature": f, "feature_bis": g})
            for i, f in enumerate(names)
            for g in names[i:]
        ]
    rows = []
    for parameter, k, where in cells:
        at = {"component": k, **where}
        em_value = float(em_values[parameter].sel(at))
        low, high = (float(v) for v in hdi[parameter].sel(at).values)
        rows.append(
            {
                "parameter": parameter,
                "component": k,
                "feature": where.get("feature", ""),
                "feature_bis": where.get("feature_bis", ""),
                "em": em_value,
                "posterior_mean": float(mean[parameter].sel(at)),
                "posterior_sd": float(sd[parameter].sel(at)),
                "hdi_lower": low,
                "hdi_upper": high,
                "em_inside": bool(low <= em_value <= high),
            }
        )
    return pd.DataFrame(rows)


def _global_rows(em: Any, bayes: Any, X: Any, order: np.ndarray) -> pd.DataFrame:
    """Log-likelihood, BIC and ELPD-LOO of both fits, and how far their partitions agree."""
    import arviz as az

    em_resp = _responsibility_mean(em, X)
    bayes_resp = _responsibility_mean(bayes, X)[:, order]
    ari = adjusted_rand_index(em_resp.argmax(axis=1), bayes_resp.argmax(axis=1))
    mad = float(np.abs(em_resp - bayes_resp).mean())
    elpd = np.nan
    if "log_likelihood" in getattr(bayes.posterior, "groups", lambda: [])():
        elpd = float(az.loo(bayes.posterior)["elpd_loo"])
    quantities = (
        "log_likelihood",
        "bic",
        "elpd_loo",
        "adjusted_rand_index",
        "mean_abs_responsibility_difference",
    )
    return pd.DataFrame(
        {
            "em": [em.log_likelihood(X), em.bic(X), np.nan, np.nan, np.nan],
            "bayes": [bayes.log_likelihood(X), bayes.bic(X), elpd, np.nan, np.nan],
            "agreement": [np.nan, np.nan, np.nan, ari, mad],
        },
        index=pd.Index(quantities, name="quantity"),
    )


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
    em, bayes, ci_prob = _check_fits(em_fit, bayes_fit, ci_prob)
    order = match_components(em, bayes)
    aligned = _aligned_posterior(bayes.draws(), order)
    table = _parameter_rows(em, aligned, ci_prob)
    global_table = _global_rows(em, bayes, X, order)
    aligned_result = _aligned_result(bayes, aligned, order)
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
