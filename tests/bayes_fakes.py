"""A stand-in Bayesian fit for the tests of the tools on results.

It draws "posterior" samples tightly around known parameters and builds the
InferenceData the Bayesian estimator documents (relabelled posterior with
weights/means/covariances over (chain, draw, component, feature, feature_bis) and a
pointwise log_likelihood over observation), so selection, comparison, risk and
plotting can be tested without running a sampler.
"""

from __future__ import annotations

import arviz as az
import numpy as np
from scipy import stats

from bayesgmm import MixtureResult


def fake_posterior_result(
    weights,
    means,
    covariances,
    X,
    *,
    feature_names=None,
    chains=2,
    draws=200,
    spread=0.02,
    seed=0,
    tied=False,
):
    """A MixtureResult with a posterior concentrated around the given full parameters."""
    rng = np.random.default_rng(seed)
    weights = np.asarray(weights, float)
    means = np.asarray(means, float)
    covariances = np.asarray(covariances, float)
    K, D = means.shape
    shape = (chains, draws)
    w = rng.dirichlet(weights / spread**2, size=shape)
    scale = np.sqrt(np.diagonal(covariances, axis1=-2, axis2=-1))
    m = means + spread * scale * rng.standard_normal(shape + (K, D))
    factor = 1 + spread * rng.standard_normal(shape + (K, 1, 1))
    c = covariances * np.abs(factor)
    if tied:  # one shared matrix per draw, stored in its native (D, D) shape
        c = np.broadcast_to(c[:, :, :1], c.shape).copy()
    X = np.asarray(getattr(X, "values", X), float)
    log_lik = np.empty(shape + (len(X),))
    for a in range(chains):
        for b in range(draws):
            dens = sum(
                w[a, b, k] * stats.multivariate_normal(m[a, b, k], c[a, b, k]).pdf(X)
                for k in range(K)
            )
            log_lik[a, b] = np.log(np.atleast_1d(dens))
    names = list(feature_names) if feature_names is not None else [f"x{i}" for i in range(D)]
    idata = az.from_dict(
        posterior={"weights": w, "means": m, "covariances": c[:, :, 0] if tied else c},
        log_likelihood={"X": log_lik},
        observed_data={"X": X},
        coords={
            "component": np.arange(K),
            "feature": names,
            "feature_bis": names,
            "observation": np.arange(len(X)),
            "X_dim_1": names,
        },
        dims={
            "weights": ["component"],
            "means": ["component", "feature"],
            "covariances": (["feature", "feature_bis"] if tied else [])
            or ["component", "feature", "feature_bis"],
            "X": ["observation"],
        },
    )
    return MixtureResult(
        weights=w.mean(axis=(0, 1)),
        means=m.mean(axis=(0, 1)),
        covariances=c[:, :, 0].mean(axis=(0, 1)) if tied else c.mean(axis=(0, 1)),
        covariance_type="tied" if tied else "full",
        feature_names=feature_names,
        method="nuts",
        posterior=idata,
    )
