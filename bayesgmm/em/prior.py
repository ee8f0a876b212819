r"""Conjugate priors for MAP EM: mclust's ``priorControl()`` and ``defaultPrior``.

``GaussianMixture(prior="default")`` places mclust's data-based conjugate prior on the
components (Fraley & Raftery 2007, "Bayesian regularization for normal mixture
estimation and model-based clustering"): a normal prior on each mean, ``N(mean,
Sigma_k / shrinkage)``, and an inverse-Wishart prior (``dof``, ``scale``) on the
covariances, or inverse-gamma priors on their variances for the diagonal and spherical
models. EM then finds the posterior mode (MAP), not the maximum-likelihood estimate: a
component that would collapse onto a few points keeps a proper covariance.

The defaults (mclust's ``defaultPrior``, with ``G`` components and ``p`` features):
``shrinkage = 0.01``, ``mean = colMeans(X)``, ``dof = p + 2``, and ``scale = (1/G)^(2/p)
var(X)`` (a (p, p) matrix; its diagonal when ``n <= p``) for the ellipsoidal models,
``(1/G)^(2/p) sum(diag(var(X))) / p`` (a number) for the diagonal and spherical ones.

Each model's M-step with the prior is the one of mclust's EM (``meXXX(..., prior=)``,
its Fortran ``me...p``, which ``Mclust`` and ``mclustBIC`` run): the posterior
statistics of :mod:`bayesgmm.covariance.prior_kernels` with an extra count ``a`` and a
weight ``w`` of the scale per component, then the model's own estimate
(:data:`PRIOR_RULES`). Ten of mclust's fourteen models take a prior; VEE, EVE,
VVE and EVV do not (mclust: "model is not available with prior"). Where mclust's M-step
is not the exact maximum of log-likelihood + log-prior (EEI's means), MAP EM here keeps
the exact one, so EM stays monotone; the difference is noted in :data:`PRIOR_RULES`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ..conjugate_prior import ResolvedPrior
from ..covariance import CovarianceModel
from ..covariance.prior_kernels import DIAGONAL, FULL, SHARED, SPHERICAL
from .blocks import Workers
from .starts import Problem
from .statistics import second_moment

__all__ = [
    "ConjugatePrior",
    "ResolvedPrior",
    "PriorRule",
    "PRIOR_RULES",
    "check_prior",
    "prior_terms",
    "resolve_prior",
    "PriorProblem",
    "with_prior",
]

#: mclust's default shrinkage (``defaultPrior``).
DEFAULT_SHRINKAGE = 0.01


@dataclass(frozen=True)
class ConjugatePrior:
    """A conjugate prior's hyperparameters, with mclust's names (``priorControl(...)``).

    Any field left None takes mclust's data-based default (``defaultPrior``).

    Parameters
    ----------
    shrinkage : float or None
        ``kappa``: the prior mean counts as this many observations (0: no prior on the
        means). Default 0.01.
    mean : array-like of shape (n_features,) or None
        The means' prior mean. Default: the data's mean.
    dof : float or None
        Degrees of freedom of the inverse-Wishart (inverse-gamma) prior. Default
        ``n_features + 2``.
    scale : float, array-like of shape (n_features, n_features) or None
        The inverse-Wishart scale matrix (ellipsoidal models), or the inverse-gamma
        scale, a number (diagonal and spherical models). Default: see the module.

    Examples
    --------
    >>> ConjugatePrior(shrinkage=0.1)
    ConjugatePrior(shrinkage=0.1, mean=None, dof=None, scale=None)
    """

    shrinkage: float | None = None
    mean: Any = None
    dof: float | None = None
    scale: Any = None


@dataclass(frozen=True)
class PriorRule:
    """How one model's M-step takes the prior: an inverse-Wishart (else inverse-gamma)
    prior, the extra count ``extra(dof, n_features, n_components)`` per component and
    the weight of the scale per component ``scale_weight(n_components)``, with what
    differs from mclust, if anything."""

    wishart: bool
    extra: Callable[[float, int, int], float]
    scale_weight: Callable[[int], float]
    note: str = ""


def _one(n_components: int) -> float:
    return 1.0


#: Per mclust model, its :class:`PriorRule`. The extra counts and weights reproduce the
#: divisors and terms of mclust's EM with a prior (its Fortran ``me...p``, which
#: ``Mclust`` and ``mclustBIC`` run); mclust's one-step ``mstepEII``, ``mstepEEI``,
#: ``mstepEVI`` and ``mstepEEV`` differ from its EM's M-step (a G more in the divisor,
#: no shrinkage in EEV, the scatter about the shrunk means in EII).
PRIOR_RULES: dict[str, PriorRule] = {
    "VVV": PriorRule(True, lambda nu, p, g: nu + p + 2, _one),
    "EEE": PriorRule(True, lambda nu, p, g: 1 + (nu + p + 1) / g, lambda g: 1 / g),
    "EEV": PriorRule(True, lambda nu, p, g: (nu + p + 2) / g, _one),
    "VEV": PriorRule(True, lambda nu, p, g: 0.0, _one, "mclust's EM ignores dof"),
    "VII": PriorRule(False, lambda nu, p, g: 1 + (nu + 2) / p, _one),
    "EII": PriorRule(
        False,
        lambda nu, p, g: 1 + (nu + 2) / (g * p),
        lambda g: 0.0,
        "mclust's EM leaves the scale out",
    ),  # fmt: skip
    "EEI": PriorRule(
        False,
        lambda nu, p, g: (nu + 2) / g,
        lambda g: 1 / g,
        "mclust's EM does not shrink the means but adds their prior term to the "
        "variances; here the means are shrunk (the exact maximum, so EM is monotone)",
    ),  # fmt: skip
    "VEI": PriorRule(False, lambda nu, p, g: (nu + 3) / p, _one),
    "EVI": PriorRule(False, lambda nu, p, g: (nu + 2) / g, _one),
    "VVI": PriorRule(False, lambda nu, p, g: nu + 3, _one),
}


def check_prior(owner: str, value: Any, model: CovarianceModel) -> ConjugatePrior | None:
    """``prior``: None, "default", a :class:`ConjugatePrior` or a dict of its fields.

    Examples
    --------
    >>> from bayesgmm.covariance import get_covariance_model
    >>> check_prior("GaussianMixture", "default", get_covariance_model("VVV"))
    ConjugatePrior(shrinkage=None, mean=None, dof=None, scale=None)
    """
    if value is None:
        return None
    if isinstance(value, str) and value == "default":
        prior = ConjugatePrior()
    elif isinstance(value, ConjugatePrior):
        prior = value
    elif isinstance(value, dict) and set(value) <= {f.name for f in fields(ConjugatePrior)}:
        prior = ConjugatePrior(**value)
    else:
        raise ValueError(
            f"The 'prior' parameter of {owner} must be None, 'default', a "
            "bayesgmm.em.prior.ConjugatePrior or a dict with keys among 'shrinkage', "
            f"'mean', 'dof', 'scale' (mclust's priorControl()). Got {value!r} instead."
        )
    if model.mclust_name not in PRIOR_RULES:
        names = ", ".join(PRIOR_RULES)
        raise ValueError(
            f"covariance_type={model.name!r} ({model.mclust_name}) has no conjugate prior "
            f"(as in mclust). prior= is available for {names}; use one of these, or "
            "prior=None."
        )
    return prior


def prior_terms(
    prior: ResolvedPrior, shift: np.ndarray, model: CovarianceModel, n_components: int
) -> tuple:
    """``(settings, mean, scale)`` of ``prior`` for the compiled M-step, in shifted
    coordinates."""
    rule = PRIOR_RULES[model.mclust_name]
    n_features = len(prior.mean)
    layout = model.layout
    if not layout.diagonal:
        kind, scale = (SHARED if layout.shared else FULL), np.asarray(prior.scale, float)
    elif layout.per_feature:
        kind, scale = DIAGONAL, float(prior.scale) * np.eye(n_features)
    else:
        kind, scale = SPHERICAL, float(prior.scale) / n_features * np.eye(n_features)
    settings = np.array(
        [
            prior.shrinkage,
            rule.extra(prior.dof, n_features, n_components),
            rule.scale_weight(n_components),
            kind,
        ],
        dtype=np.float64,
    )
    mean = np.asarray(prior.mean, dtype=np.float64) - shift
    return (settings, np.ascontiguousarray(mean), np.ascontiguousarray(scale))


def _data_variance(X: Any, weights: Any, shift: np.ndarray, workers: Workers) -> np.ndarray:
    """R's ``var(X)``, weighted: the weighted covariance times ``m / (m - 1)`` with
    ``m`` Kish's effective number of rows (the number of rows for equal weights)."""
    total = float(weights.sum())
    effective = total**2 / float((weights * weights).sum())
    covariance = second_moment(X, weights, shift, workers) / total
    return covariance * effective / (effective - 1.0)


def resolve_prior(
    prior: ConjugatePrior,
    X: Any,
    weights: Any,
    shift: np.ndarray,
    n_components: int,
    model: CovarianceModel,
    workers: Workers,
) -> ResolvedPrior:
    """mclust's ``defaultPrior`` for the fields left None; checks the others.

    ``shift`` is the data's (weighted) mean, mclust's default prior mean.
    """
    n_rows, n_features = X.shape
    wishart = PRIOR_RULES[model.mclust_name].wishart
    shrinkage = DEFAULT_SHRINKAGE if prior.shrinkage is None else prior.shrinkage
    _check_number("shrinkage", shrinkage, 0.0)
    mean = np.array(shift if prior.mean is None else prior.mean, dtype=np.float64)
    if mean.shape != (n_features,) or not np.all(np.isfinite(mean)):
        raise ValueError(f"prior mean must be {n_features} finite numbers, got {prior.mean!r}.")
    dof = n_features + 2.0 if prior.dof is None else prior.dof
    _check_number("dof", dof, 0.0)
    if prior.scale is not None:
        scale = _checked_scale(prior.scale, n_features, wishart)
    else:
        variance = _data_variance(X, weights, shift, workers)
        factor = (1.0 / n_components) ** (2.0 / n_features)
        if not wishart:
            scale = factor * float(np.trace(variance)) / n_features
        else:
            scale = factor * (variance if n_rows > n_features else np.diag(np.diag(variance)))
    return ResolvedPrior(float(shrinkage), mean, float(dof), scale)


def _check_number(name: str, value: Any, low: float) -> None:
    if not isinstance(value, numbers.Real) or not np.isfinite(value) or value < low:
        raise ValueError(f"prior {name} must be a finite number >= {low:g}, got {value!r}.")


def _checked_scale(value: Any, n_features: int, wishart: bool) -> np.ndarray | float:
    if not wishart:
        if not isinstance(value, numbers.Real) or not value > 0 or not np.isfinite(value):
            raise ValueError(
                "prior scale of a diagonal or spherical model is one positive number (the "
                f"inverse-gamma scale, mclust's), got {value!r}."
            )
        return float(value)
    scale = np.array(value, dtype=np.float64)
    if scale.shape != (n_features, n_features) or not np.allclose(scale, scale.T):
        raise ValueError(
            f"prior scale must be a symmetric ({n_features}, {n_features}) matrix, got "
            f"shape {scale.shape}."
        )
    try:
        np.linalg.cholesky(scale)
    except np.linalg.LinAlgError:
        raise ValueError("prior scale must be positive definite.") from None
    return scale


@dataclass
class PriorProblem(Problem):
    """A fit with a conjugate prior: its engines add the prior to every M-step."""

    prior: ResolvedPrior | None = None

    @classmethod
    def of(cls, problem: Problem, prior: ResolvedPrior) -> PriorProblem:
        """``problem`` with ``prior``."""
        values = {field.name: getattr(problem, field.name) for field in fields(problem)}
        return cls(**values, prior=prior)

    def engine_for(self, X: Any, weights: Any) -> Any:
        """The engine for (a sample of) the data, with the prior's terms attached."""
        engine = super().engine_for(X, weights)
        engine.prior_terms = (prior_terms(self.prior, self.shift, self.model, self.n_components),)
        return engine


def with_prior(owner: str, problem: Problem, prior: ConjugatePrior | None) -> Problem:
    """``problem`` with the resolved prior (unchanged without one); refuses what MAP EM
    does not cover, with the way out."""
    if prior is None:
        return problem
    if problem.family.scales:
        raise ValueError(
            f"{owner}: prior= is for Gaussian components (mclust's conjugate prior); "
            f"family={problem.family.name!r} has none yet. Use family='gaussian' with the "
            "prior, or the t family without it."
        )
    if problem.engine == "jax":
        raise ValueError(
            f"{owner}: engine='jax' does not take a prior yet. Use engine='auto' (or "
            "'compiled', 'blocks') with prior=."
        )
    if type(problem) is not Problem:
        raise ValueError(
            f"{owner}: prior= is not available with missing values yet (missing='marginal' "
            "on data with NaN). Fit the complete rows (X[~np.isnan(X).any(axis=1)]) with "
            "the prior, or the incomplete data without it."
        )
    resolved = resolve_prior(
        prior, problem.X, problem.weights, problem.shift, problem.n_components,
        problem.model, problem.workers,
    )  # fmt: skip
    return PriorProblem.of(problem, resolved)
