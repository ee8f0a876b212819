"""How far the E-step's rounding may move a fit: bounds from the unit roundoff of its
precision and the problem's conditioning, not from what one machine printed.

The engine computes each weighted log-density (logit)
``l_nk = log w_k + log N(x_n | mu_k, Sigma_k)`` in its working precision (float32 for
float32 data), as a sum of ``P`` products of rounded factors (``P = D(D+1)/2 + D + 1``
quadratic, linear and constant features at most). Its rounding error is at most
``B_nk = gamma_(P+2) S_nk``, with ``gamma_m = m u / (1 - m u)``, ``u`` the unit roundoff
(``2**-24`` in float32, ``2**-53`` in float64) and ``S_nk`` the sum of the absolute
terms (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., sections 3.1
and 3.5; the 2 counts the rounding of each factor). The engine expands the quadratic form
about the data's weighted mean, so with ``y = x - mean`` and ``m = mu_k - mean``::

    S_nk <= |y|'|P||y| / 2 + |m|'|P||y| + |m|'|P||m| / 2 + |log w_k - log det(2 pi Sigma_k) / 2|

A log-responsibility then moves by at most ``e_nk = B_nk + sum_j r_nj B_nj``, and the
M-step's weights, means and covariances by the responsibility-weighted sums of ``e``
below (first order). EM's contraction rate ``rho`` (the ratio of its last two gains
above rounding) amplifies one step's perturbation to at most ``1 / (1 - rho)``
at the fixed point, and a factor 2 covers the second-order terms. The float32
attributes are rounded once more at the end (``u`` times their size).

The parameter bounds compare a float32 fit with the float64 fit of the same
(float32-rounded) data from the same start after as many iterations: then the working
precision is the only difference. The log-likelihood bound also says how far a
float64 fit's ``lower_bound_`` (the engine's E-step) may be from ``score(X)`` (computed
about each component's mean): far from the data's mean the expanded quadratic form
cancels.
"""

from __future__ import annotations

import numpy as np

from bayesgmm.covariance import get_covariance_model

__all__ = ["FLOAT32_UNIT", "FLOAT64_UNIT", "rounding_bounds"]

FLOAT32_UNIT = float(np.finfo(np.float32).eps) / 2
FLOAT64_UNIT = float(np.finfo(np.float64).eps) / 2
#: Second-order terms at most double a first-order bound.
SECOND_ORDER = 2.0


def _contraction_rate(history: list[float]) -> float:
    """EM's asymptotic rate: the ratio of the last two gains that stand above rounding
    (0 when fewer than two do: EM reached its optimum at once)."""
    history = np.asarray(history)
    gains = np.diff(history)
    noise = 1e3 * np.finfo(np.float64).eps * np.abs(history).max()
    significant = gains[gains > noise]
    rate = significant[-1] / significant[-2] if len(significant) >= 2 else 0.0
    assert rate < 1, f"EM is not contracting yet (rate {rate}); run it longer for a bound"
    return rate


def rounding_bounds(
    X: np.ndarray, reference, sample_weight=None, unit_roundoff: float = FLOAT32_UNIT
) -> dict[str, np.ndarray]:
    """Largest differences between a fit whose E-step rounds at ``unit_roundoff`` and the
    exact fit, near the float64 ``reference`` fit of X.

    Returns absolute bounds shaped as ``weights_``, ``means_``, ``covariances`` (as full
    (K, D, D) matrices) and ``lower_bound_`` (a scalar); the float32 bounds include the
    rounding of float32 attributes.
    """
    u = unit_roundoff
    X = np.asarray(X, dtype=np.float64)
    n_samples, n_features = X.shape
    row_weights = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight)
    model = get_covariance_model(reference.covariance_type)
    n_components = len(reference.weights_)
    covariances = model.to_full(reference.covariances_, n_components, n_features)
    precisions = np.linalg.inv(covariances)
    centre = np.average(X, axis=0, weights=row_weights)
    y = np.abs(X - centre)  # (N, D)
    m = np.abs(reference.means_ - centre)  # (K, D)
    P = np.abs(precisions)  # (K, D, D)
    _, log_det = np.linalg.slogdet(2 * np.pi * covariances)
    terms = (
        0.5 * np.einsum("nd,kde,ne->nk", y, P, y)
        + np.einsum("kd,kde,ne->nk", m, P, y)
        + 0.5 * np.einsum("kd,kde,ke->k", m, P, m)
        + np.abs(np.log(reference.weights_) - 0.5 * log_det)
    )
    n_terms = n_features * (n_features + 1) // 2 + n_features + 1 + 2
    logit_error = n_terms * u / (1 - n_terms * u) * terms  # B (N, K)
    resp = reference.predict_proba(X)
    resp_error = logit_error + (resp * logit_error).sum(axis=1, keepdims=True)  # e (N, K)
    weighted = resp * row_weights[:, None]  # r_nk w_n
    nk = weighted.sum(axis=0)
    amplify = SECOND_ORDER / (1.0 - _contraction_rate(reference.lower_bounds_))
    spread = weighted * resp_error  # r w e
    d = X[:, None, :] - reference.means_[None, :, :]  # (N, K, D)
    mean_bound = np.einsum("nk,nkd->kd", spread, np.abs(d)) / nk[:, None]
    outer = np.abs(np.einsum("nkd,nke->nkde", d, d)) + np.abs(covariances)[None]
    covariance_bound = np.einsum("nk,nkde->kde", spread, outer) / nk[:, None, None]
    total = row_weights.sum()
    weight_bound = (spread.sum(axis=0) + reference.weights_ * spread.sum()) / total
    ll_bound = (weighted * logit_error).sum() / total
    cast = u if u == FLOAT32_UNIT else 0.0  # float32 attributes are rounded at the end
    return {
        "weights_": amplify * weight_bound + cast * reference.weights_,
        "means_": amplify * mean_bound + cast * np.abs(reference.means_),
        "covariances": amplify * covariance_bound + cast * np.abs(covariances),
        "lower_bound_": SECOND_ORDER * ll_bound,
    }
