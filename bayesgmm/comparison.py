"""EM versus Bayes, component by component.

:func:`compare` matches the components of an EM fit and of a Bayesian fit with the
Hungarian algorithm (on the symmetrised Kullback-Leibler divergence between the EM
components and the posterior-mean components), then reports, per parameter, the EM
estimate, the posterior mean and HDI and whether the EM value lies inside the HDI,
and globally the log-likelihood, BIC, ELPD-LOO, the agreement of hard labels
(adjusted Rand index) and the mean absolute difference of responsibilities.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    "component_order",
    "parameter_dataset",
    "parameter_table",
    "PARAMETERS",
]

#: The parameters compared, each reported per component (covariances as full matrices).
PARAMETERS = ("weights", "means", "covariances")


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
    """Cost (..., K_a, K_b): KL(a||b) + KL(b||a) between Gaussian components; ``b`` may
    have leading dims (many fits at once)."""
    inv_a = np.linalg.inv(covs_a)
    inv_b = np.linalg.inv(covs_b)
    diff = means_a[:, None, :] - means_b[..., None, :, :]
    trace = np.einsum("...bij,aji->...ab", inv_b, covs_a) + np.einsum(
        "aij,...bji->...ab", inv_a, covs_b
    )
    maha = np.einsum("...abi,...bij,...abj->...ab", diff, inv_b, diff) + np.einsum(
        "...abi,aij,...abj->...ab", diff, inv_a, diff
    )
    return 0.5 * (trace + maha) - means_a.shape[1]


def component_order(
    reference_means: np.ndarray,
    reference_covariances: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
) -> np.ndarray:
    """The order of each fit's components that best matches the reference's.

    Parameters
    ----------
    reference_means : ndarray of shape (K, D)
    reference_covariances : ndarray of shape (K, D, D)
    means : ndarray of shape (..., K, D)
        One or many fits (leading dims: replicates, draws).
    covariances : ndarray of shape (..., K, D, D)

    Returns
    -------
    ndarray of shape (..., K)
        ``order[..., k]`` is the fit's component matched to reference component ``k``
        (minimum total symmetrised KL divergence, Hungarian algorithm).

    Examples
    --------
    >>> eye = np.ones((2, 1, 1))
    >>> component_order(np.array([[0.0], [5.0]]), eye, np.array([[5.1], [0.2]]), eye)
    array([1, 0])
    """
    cost = _symmetric_kl(
        np.asarray(reference_means, dtype=np.float64),
        np.asarray(reference_covariances, dtype=np.float64),
        np.asarray(means, dtype=np.float64),
        np.asarray(covariances, dtype=np.float64),
    )
    flat = cost.reshape(-1, *cost.shape[-2:])
    order = np.stack([linear_sum_assignment(matrix)[1] for matrix in flat])
    return order.reshape(cost.shape[:-1])


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
    return component_order(
        ref.means.values, ref.covariances.values, oth.means.values, oth.covariances.values
    )


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
        ``hdi_lower``, ``hdi_upper`` and ``em_inside``; with a bootstrap, also
        ``bootstrap_se``, ``bootstrap_lower`` and ``bootstrap_upper`` (its
        ``ci_prob`` interval, percentile or, for the jackknife, normal).
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
    bootstrap : Bootstrap or None
        The bootstrap of the EM fit whose intervals the table shows, if one was given.
    """

    table: pd.DataFrame
    global_table: pd.DataFrame
    matching: np.ndarray
    ci_prob: float
    em_fit: Any
    bayes_fit: Any
    bayes_aligned: Any
    bootstrap: Any = field(default=None, repr=False)

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


def parameter_dataset(fit: Any) -> xr.Dataset:
    """A fit's weights, means and full covariances as one Dataset.

    Examples
    --------
    >>> from bayesgmm import MixtureResult
    >>> fit = MixtureResult(weights=np.array([1.0]), means=np.zeros((1, 2)),
    ...                     covariances=np.ones(1), covariance_type="spherical")
    >>> parameter_dataset(fit)["covariances"].dims
    ('component', 'feature', 'feature_bis')
    """
    result = getattr(fit, "result_", fit)
    return xr.Dataset({name: getattr(result, name) for name in PARAMETERS})


def parameter_table(columns: Mapping[str, xr.Dataset]) -> pd.DataFrame:
    """One row per weight, mean and covariance entry (upper triangle), a column per Dataset.

    Parameters
    ----------
    columns : mapping of str to xarray.Dataset
        Column name -> a Dataset with ``weights`` (component), ``means`` (component,
        feature) and ``covariances`` (component, feature, feature_bis), all on the first
        Dataset's coordinates; and ``dof`` (component) for Student-t components.

    Returns
    -------
    pandas.DataFrame
        ``parameter``, ``component``, ``feature``, ``feature_bis`` (empty where not
        applicable), then one column per entry of ``columns``; components in order,
        each with its weight, its means, its covariances row by row, then its ``dof``
        when every Dataset has one.

    Examples
    --------
    >>> from bayesgmm import MixtureResult
    >>> fit = MixtureResult(weights=np.array([1.0]), means=np.array([[0.0, 1.0]]),
    ...                     covariances=np.ones(1), covariance_type="spherical")
    >>> parameter_table({"value": parameter_dataset(fit)})["value"].tolist()
    [1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    """
    first = next(iter(columns.values()))
    components = first["component"].values
    names = [str(name) for name in first["feature"].values]
    rows, cols = np.triu_indices(len(names))
    labels = (
        [("weights", "", "")]
        + [("means", name, "") for name in names]
        + [("covariances", names[i], names[j]) for i, j in zip(rows, cols, strict=True)]
    )
    with_dof = all("dof" in dataset for dataset in columns.values())
    if with_dof:
        labels.append(("dof", "", ""))
    table = pd.DataFrame(
        [(parameter, int(k), f, g) for k in components for parameter, f, g in labels],
        columns=["parameter", "component", "feature", "feature_bis"],
    )
    at = {"component": components, "feature": first["feature"].values}
    for column, dataset in columns.items():
        weights = dataset["weights"].sel(component=components).values
        means = dataset["means"].sel(at).transpose("component", "feature").values
        covariances = (
            dataset["covariances"]
            .sel(at)
            .sel(feature_bis=at["feature"])
            .transpose("component", "feature", "feature_bis")
            .values
        )
        parts = [weights[:, None], means, covariances[:, rows, cols]]
        if with_dof:
            parts.append(dataset["dof"].sel(component=components).values[:, None])
        values = np.concatenate(parts, axis=1)
        table[column] = values.ravel()
    return table


def _parameter_rows(
    em: Any, aligned: xr.Dataset, ci_prob: float, bootstrap: Any = None
) -> pd.DataFrame:
    """One row per weight, mean and covariance entry (upper triangle), in EM's numbering."""
    import arviz as az

    hdi = az.hdi(aligned[list(PARAMETERS)], hdi_prob=ci_prob)
    columns = {
        "em": parameter_dataset(em),
        "posterior_mean": aligned.mean(("chain", "draw")),
        "posterior_sd": aligned.std(("chain", "draw")),
        "hdi_lower": hdi.sel(hdi="lower", drop=True),
        "hdi_upper": hdi.sel(hdi="higher", drop=True),
    }
    table = parameter_table(columns)
    table["em_inside"] = (table["hdi_lower"] <= table["em"]) & (table["em"] <= table["hdi_upper"])
    if bootstrap is not None:
        bounds = bootstrap.intervals(ci_prob)[list(PARAMETERS)]  # the rows of the table
        extra = parameter_table(
            {
                "bootstrap_se": bootstrap.standard_errors()[list(PARAMETERS)],
                "bootstrap_lower": bounds.sel(bound="lower", drop=True),
                "bootstrap_upper": bounds.sel(bound="upper", drop=True),
            }
        )
        table = pd.concat([table, extra.iloc[:, 4:]], axis=1)
    return table


def _check_bootstrap(bootstrap: Any, em: Any) -> None:
    """A bootstrap of the EM fit itself (its estimate is EM's parameters)."""
    if not callable(getattr(bootstrap, "intervals", None)) or not hasattr(bootstrap, "estimate"):
        raise TypeError(
            "bootstrap must be the output of bayesgmm.bootstrap.bootstrap(em_fit, X); got "
            f"{type(bootstrap).__name__}."
        )
    for name in PARAMETERS:
        ours, theirs = getattr(em, name).values, bootstrap.estimate[name].values
        if ours.shape != theirs.shape or not np.allclose(ours, theirs, rtol=1e-12, atol=0.0):
            raise ValueError(
                f"bootstrap is a bootstrap of another fit (its {name} differ from em_fit's): "
                "pass bootstrap(em_fit, X) of this em_fit."
            )


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


def compare(
    em_fit: Any, bayes_fit: Any, X: Any, *, ci_prob: float = 0.94, bootstrap: Any = None
) -> Comparison:
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
        Probability of the highest-density intervals (ArviZ's default), and of the
        bootstrap intervals.
    bootstrap : Bootstrap or None, default=None
        A bootstrap of ``em_fit`` (:func:`bayesgmm.bootstrap.bootstrap`): its standard
        errors and intervals are put beside the posterior's sd and HDI.

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
    With a bootstrap, the two kinds of interval can be read side by side: for a
    regular model and much data, the bootstrap's standard errors and the posterior
    sds agree (Bernstein-von Mises); a weak prior or few data make them differ.

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
    if bootstrap is not None:
        _check_bootstrap(bootstrap, em)
    order = match_components(em, bayes)
    aligned = _aligned_posterior(bayes.draws(), order)
    table = _parameter_rows(em, aligned, ci_prob, bootstrap)
    global_table = _global_rows(em, bayes, X, order)
    aligned_result = _aligned_result(bayes, aligned, order)
    return Comparison(
        table, global_table, order, ci_prob, em_fit, bayes_fit, aligned_result, bootstrap
    )


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
