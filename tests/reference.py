"""A plain-numpy EM, written from the textbook formulas: the oracle the engines are
checked against (it shares no code with the package).

Densities come from ``scipy.stats.multivariate_normal``; the M-step from weighted
empirical moments, per model, with the variance floor ``reg`` added as the package
documents it (to each component's empirical covariance before the model's constraint).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import logsumexp

POOLED = {"tied", "EEE", "EEI"}
DIAGONAL = {"diag", "VVI", "EEI"}
SPHERICAL = {"spherical", "VII"}
#: Models with a closed-form M-step written out below (Celeux & Govaert 1995, section 3).
CLOSED_FORMS = {"EII", "EVI", "EEV", "EVV"}
#: Every model this reference fits (mclust's others iterate in their M-step).
MODELS = sorted(POOLED | DIAGONAL | SPHERICAL | CLOSED_FORMS | {"full", "VVV"})


def full_covariances(model: str, covariances, n_components: int, n_features: int) -> np.ndarray:
    """A model's public covariances as (K, D, D) matrices."""
    covariances = np.asarray(covariances, dtype=float)
    if model in ("tied", "EEE"):
        return np.repeat(covariances[None], n_components, axis=0)
    if model in ("diag", "VVI"):
        return np.stack([np.diag(row) for row in covariances])
    if model in SPHERICAL:
        return covariances[:, None, None] * np.eye(n_features)
    return covariances


def log_joint(X, weights, means, full):
    """(N, K) log pi_k + log N(x_n | mu_k, Sigma_k), one component at a time."""
    columns = [
        np.log(w) + stats.multivariate_normal(m, c).logpdf(X).reshape(-1)
        for w, m, c in zip(weights, means, full, strict=True)
    ]
    return np.stack(columns, axis=1)


def m_step(model: str, X, row_weights, resp, reg):
    """Weights, means and (K, D, D) covariances maximising the expected log-likelihood."""
    n_features = X.shape[1]
    r = resp * row_weights[:, None]
    nk = r.sum(axis=0)
    means = (r.T @ X) / nk[:, None]
    scatter = np.stack(
        [((X - means[k]) * r[:, k : k + 1]).T @ (X - means[k]) for k in range(len(nk))]
    )
    empirical = scatter / nk[:, None, None] + np.diag(reg)
    if model in CLOSED_FORMS:
        return nk / nk.sum(), means, closed_form(model, nk, nk[:, None, None] * empirical)
    if model in POOLED:
        pooled = np.einsum("k,kij->ij", nk, empirical) / nk.sum()
        empirical = np.repeat(pooled[None], len(nk), axis=0)
    if model in DIAGONAL:
        empirical = np.stack([np.diag(np.diag(c)) for c in empirical])
    if model in SPHERICAL:
        empirical = np.stack([np.trace(c) / n_features * np.eye(n_features) for c in empirical])
    return nk / nk.sum(), means, empirical


def closed_form(model: str, nk, regularised) -> np.ndarray:
    """EII, EVI, EEV, EVV from the regularised scatter matrices W_k (K, D, D)."""
    n, n_features = nk.sum(), regularised.shape[-1]
    eye = np.eye(n_features)
    if model == "EII":  # lambda I, lambda = sum_k tr(W_k) / (n D)
        volume = np.trace(regularised, axis1=1, axis2=2).sum() / (n * n_features)
        return np.stack([volume * eye for _ in nk])
    if model == "EVI":  # lambda A_k, A_k = diag(W_k) / |diag(W_k)|^(1/D)
        diagonals = np.diagonal(regularised, axis1=1, axis2=2)
        volumes = np.prod(diagonals, axis=1) ** (1 / n_features)
        shapes = diagonals / volumes[:, None]
        return np.stack([volumes.sum() / n * np.diag(shape) for shape in shapes])
    if model == "EEV":  # D_k eigenvectors of W_k, lambda A = sum_k Omega_k / n
        values, vectors = np.linalg.eigh(regularised)
        pooled = values.sum(axis=0) / n  # both sorted increasing: paired alike
        return np.stack([v @ np.diag(pooled) @ v.T for v in vectors])
    # EVV: lambda W_k / |W_k|^(1/D), lambda = sum_k |W_k|^(1/D) / n
    volumes = np.linalg.det(regularised) ** (1 / n_features)
    return volumes.sum() / n * regularised / volumes[:, None, None]


def em(model, X, row_weights, weights, means, full, n_iter, reg):
    """``n_iter`` EM iterations from (weights, means, full covariances).

    Returns the mean log-likelihood of each E-step (n_iter + 1 values: the last at the
    returned parameters) and the parameters.
    """
    history = []
    for _ in range(n_iter + 1):
        joint = log_joint(X, weights, means, full)
        log_norm = logsumexp(joint, axis=1)
        history.append(float(row_weights @ log_norm / row_weights.sum()))
        if len(history) > n_iter:
            break
        resp = np.exp(joint - log_norm[:, None])
        weights, means, full = m_step(model, X, row_weights, resp, reg)
    return np.array(history), weights, means, full
