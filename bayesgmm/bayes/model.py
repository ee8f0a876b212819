r"""The PyMC model of a Gaussian mixture, for each covariance type.

The model runs on standardised data ``z = (x - center) / scale`` and reports its
parameters in the data's own units through deterministic variables:

.. math::

    \pi \sim \mathrm{Dirichlet}(\alpha), \quad
    \mu^z_k \sim \mathcal N(0, \sigma_\mu^2 I), \quad
    \Sigma^z_k = \mathrm{diag}(s_k)\, \Omega_k\, \mathrm{diag}(s_k),\;
    s_{kd} \sim \mathrm{Gamma}(a, b),\; \Omega_k \sim \mathrm{LKJ}(\eta),

    \log p(z_n \mid \theta) = \operatorname{logsumexp}_k
        \bigl[\log \pi_k + \log \mathcal N(z_n \mid \mu^z_k, \Sigma^z_k)\bigr].

The labels are summed out (no discrete variables), so NUTS and ADVI apply, and the
likelihood is one observed variable ``x`` whose pointwise log-density fills the
InferenceData's ``log_likelihood`` group. It is computed through precision Cholesky
factors ``W_k = L_k^{-T}`` by one fused Op (``likelihood.py``) that returns each row's
log-density and responsibilities in one pass; its gradient is a few matrix products of
the responsibilities.

========== =============================================== ======================
type       covariance prior (standardised units)           reported ``covariances``
========== =============================================== ======================
full       one ``LKJCholeskyCov`` per component            (component, feature, feature_bis)
tied       one ``LKJCholeskyCov`` shared by all            (feature, feature_bis)
diag       ``z_sds`` (component, feature) ~ Gamma          (component, feature)
spherical  ``z_sds`` (component,) ~ Gamma                  (component,)
========== =============================================== ======================

The spherical model is standardised with one scale common to every feature, so a
covariance that is spherical on the model's scale is spherical in the data's units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..covariance import SKLEARN_TYPES
from ..data import check_int, check_option, check_X
from .priors import Priors

__all__ = ["Standardisation", "build_model", "OBSERVED_NAME", "PARAMETER_NAMES"]

OBSERVED_NAME = "x"
PARAMETER_NAMES = ("weights", "means", "covariances")


@dataclass(frozen=True)
class Standardisation:
    """Per-feature centre and scale: ``z = (x - center) / scale``.

    Examples
    --------
    >>> s = Standardisation.from_data(np.array([[0.0, 0.0], [2.0, 4.0]]), "full")
    >>> s.center, s.scale
    (array([1., 2.]), array([1., 2.]))
    >>> Standardisation.from_data(np.array([[0.0, 0.0], [2.0, 4.0]]), "spherical").scale
    array([1.58113883, 1.58113883])
    """

    center: np.ndarray
    scale: np.ndarray

    @classmethod
    def from_data(cls, X: np.ndarray, covariance_type: str) -> Standardisation:
        """Centre at the mean; scale by each feature's standard deviation.

        Spherical models use the root mean variance for every feature. Constant
        features get scale 1 instead of 0.
        """
        center = X.mean(axis=0)
        variance = X.var(axis=0)
        if covariance_type == "spherical":
            variance = np.full_like(variance, variance.mean())
        scale = np.sqrt(variance)
        scale = np.where(scale > 0, scale, 1.0)
        return cls(center=center, scale=scale)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Data units to standardised units."""
        return (X - self.center) / self.scale


def _covariance_parts(
    covariance_type: str, n_components: int, n_features: int, priors: Priors
) -> tuple[Any, Any]:
    """Create the covariance priors; return (precision factor, standardised covariances).

    The precision factor is ``W`` (upper triangular, ``precision = W W^T``) with shape
    (K, D, D) for full, (D, D) for tied, or inverse standard deviations (K, D) for
    diag and spherical.
    """
    import pymc as pm
    import pytensor.tensor as pt
    from pytensor.tensor.slinalg import solve_triangular

    def sd_dist(shape: Any) -> Any:
        return pm.Gamma.dist(alpha=priors.sd_alpha, beta=priors.sd_beta, shape=shape)

    def lkj(name: str) -> Any:
        packed = pm.LKJCholeskyCov(
            name,
            n=n_features,
            eta=priors.lkj_eta,
            sd_dist=sd_dist(n_features),
            compute_corr=False,
        )
        return pm.expand_packed_triangular(n_features, packed, lower=True)

    eye = pt.eye(n_features)
    if covariance_type == "full":
        chol = pt.stack([lkj(f"z_chol_{k}") for k in range(n_components)])
        inverse = solve_triangular(chol, pt.broadcast_to(eye, chol.shape), lower=True)
        factor = inverse.transpose(0, 2, 1)
        return factor, chol @ chol.transpose(0, 2, 1)
    if covariance_type == "tied":
        chol = lkj("z_chol")
        factor = solve_triangular(chol, eye, lower=True).T
        return factor, chol @ chol.T
    if covariance_type == "diag":
        sds = pm.Gamma(
            "z_sds", alpha=priors.sd_alpha, beta=priors.sd_beta, dims=("component", "feature")
        )
        return 1.0 / sds, sds**2
    sds = pm.Gamma("z_sds", alpha=priors.sd_alpha, beta=priors.sd_beta, dims="component")
    factor = pt.broadcast_to((1.0 / sds)[:, None], (n_components, n_features))
    return factor, sds**2


_SIGNATURES = {
    "full": "(k),(k,d),(k,d,d)->(d)",
    "tied": "(k),(k,d),(d,d)->(d)",
    "diag": "(k),(k,d),(k,d)->(d)",
    "spherical": "(k),(k,d),(k,d)->(d)",
}


def mixture_logp(value: Any, weights: Any, means: Any, factor: Any, covariance_type: str) -> Any:
    """Pointwise log-density of a Gaussian mixture with the labels summed out (PyTensor).

    One fused Op (:class:`~bayesgmm.bayes.likelihood.MixtureLogp`) computes it and
    its gradient.

    Parameters
    ----------
    value : tensor of shape (N, D)
    weights : tensor of shape (K,)
    means : tensor of shape (K, D)
    factor : tensor
        Upper-triangular precision factors ``W`` with ``precision = W W^T``: (K, D, D)
        for "full", (D, D) for "tied"; inverse standard deviations (K, D) for "diag"
        and "spherical".
    covariance_type : {"full", "tied", "diag", "spherical"}

    Returns
    -------
    tensor of shape (N,)

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> logp = mixture_logp(pt.zeros((1, 1)), pt.ones(1), pt.zeros((1, 1)),
    ...                     pt.ones((1, 1)), "diag")
    >>> logp.eval().round(4)
    array([-0.9189])
    """
    import pytensor.tensor as pt

    from .likelihood import mixture_logp_op

    if covariance_type == "tied":
        n_features = factor.shape[-1]
        factor = pt.broadcast_to(factor, (means.shape[0], n_features, n_features))
    kind = "full" if covariance_type in ("full", "tied") else "diag"
    return mixture_logp_op(value, pt.log(weights), means, factor, kind)


def _core(param: Any, ndim: int) -> Any:
    while param.ndim > ndim:
        param = param[0]
    return param


def data_units(covariance_type: str, z_covariances: Any, scale: Any) -> Any:
    """Covariances from standardised units to the data's (NumPy or PyTensor).

    Examples
    --------
    >>> data_units("diag", np.ones((1, 2)), np.array([1.0, 3.0]))
    array([[1., 9.]])
    """
    if covariance_type == "full":
        return z_covariances * scale[None, :, None] * scale[None, None, :]
    if covariance_type == "tied":
        return z_covariances * scale[:, None] * scale[None, :]
    if covariance_type == "diag":
        return z_covariances * scale[None, :] ** 2
    return z_covariances * scale[0] ** 2


_COVARIANCE_DIMS = {
    "full": ("component", "feature", "feature_bis"),
    "tied": ("feature", "feature_bis"),
    "diag": ("component", "feature"),
    "spherical": ("component",),
}


def build_model(
    X: Any,
    n_components: int,
    covariance_type: str = "full",
    priors: Priors | None = None,
    *,
    feature_names: Any = None,
    standardisation: Standardisation | None = None,
) -> Any:
    """Build the PyMC model of a Gaussian mixture on standardised data.

    Parameters
    ----------
    X : array-like or DataFrame of shape (N, D)
        The data, in its own units.
    n_components : int
        Number of components K.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
    priors : Priors or None, default=None
        Hyper-parameters; ``Priors()`` when None.
    feature_names : sequence of str or None, default=None
        Coordinates of the ``feature`` dim; a DataFrame's columns, else
        ``x0, x1, ...``.
    standardisation : Standardisation or None, default=None
        Centre and scale of the model's working units; None takes them from X
        (:meth:`Standardisation.from_data`). Pass ``Standardisation(zeros, ones)`` to
        state the priors in the data's own units (as simulation-based calibration
        needs, where data are drawn from the prior).

    Returns
    -------
    pymc.Model
        Free variables ``weights`` (component), ``z_means`` (component, feature) and
        the covariance priors (``z_chol_k``, ``z_chol`` or ``z_sds``) on the
        standardised scale; deterministics ``means`` and ``covariances`` in the data's
        units (covariances shaped per type, as scikit-learn shapes
        ``covariances_``); data ``center``, ``scale`` and ``z``; the observed
        mixture ``x`` (observation, feature) with the labels summed out. Extend it
        inside ``with model:``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-3, 1, (50, 2)), rng.normal(3, 1, (50, 2))])
    >>> model = build_model(X, 2, "diag")
    >>> [rv.name for rv in model.free_RVs]
    ['weights', 'z_means', 'z_sds']
    >>> model.named_vars_to_dims["covariances"]
    ('component', 'feature')
    """
    import pymc as pm

    n_components, covariance_type, priors = _checked_options(n_components, covariance_type, priors)
    X, names = _checked_data(X, feature_names)
    standard = _standardisation(X, covariance_type, standardisation)
    coords = {
        "component": np.arange(n_components),
        "feature": names,
        "feature_bis": names,
        "observation": np.arange(X.shape[0]),
    }
    with pm.Model(coords=coords) as model:
        center = pm.Data("center", standard.center, dims="feature")
        scale = pm.Data("scale", standard.scale, dims="feature")
        z = pm.Data("z", standard.transform(X), dims=("observation", "feature"))
        weights = pm.Dirichlet(
            "weights", a=priors.weights_concentration(n_components), dims="component"
        )
        z_means = pm.Normal(
            "z_means", mu=0.0, sigma=priors.means_sigma, dims=("component", "feature")
        )
        factor, z_covariances = _covariance_parts(covariance_type, n_components, len(names), priors)
        pm.Deterministic("means", center + scale * z_means, dims=("component", "feature"))
        pm.Deterministic(
            "covariances",
            data_units(covariance_type, z_covariances, scale),
            dims=_COVARIANCE_DIMS[covariance_type],
        )
        _observe(z, weights, z_means, factor, covariance_type)
    return model


def _checked_options(n_components: Any, covariance_type: Any, priors: Any) -> tuple:
    n_components = check_int("build_model", "n_components", n_components, 1)
    covariance_type = check_option("build_model", "covariance_type", covariance_type, SKLEARN_TYPES)
    priors = Priors() if priors is None else priors
    if not isinstance(priors, Priors):
        raise TypeError(
            f"priors must be a bayesgmm.bayes.Priors instance or None; got {type(priors).__name__}."
        )
    return n_components, covariance_type, priors


def _checked_data(X: Any, feature_names: Any) -> tuple[np.ndarray, list[str]]:
    """X as a float array, and the feature names (given, a DataFrame's, or x0, x1, ...)."""
    data = check_X(X, estimator="build_model", min_samples=2, dtype=np.float64, allow_dask=False)
    n_features = data.X.shape[1]
    names = feature_names if feature_names is not None else data.feature_names
    names = (
        [str(name) for name in names] if names is not None else [f"x{i}" for i in range(n_features)]
    )
    if len(names) != n_features:
        raise ValueError(f"feature_names has {len(names)} names but X has {n_features} features.")
    return data.X, names


def _standardisation(
    X: np.ndarray, covariance_type: str, standardisation: Standardisation | None
) -> Standardisation:
    if standardisation is None:
        return Standardisation.from_data(X, covariance_type)
    n_features = X.shape[1]
    return Standardisation(
        center=np.broadcast_to(np.asarray(standardisation.center, float), (n_features,)),
        scale=np.broadcast_to(np.asarray(standardisation.scale, float), (n_features,)),
    )


def _observe(z: Any, weights: Any, z_means: Any, factor: Any, covariance_type: str) -> None:
    """The observed mixture ``x`` with the labels summed out (inside the model)."""
    import pymc as pm

    core_ndim = (1, 2, factor.ndim)

    def logp(value: Any, *params: Any) -> Any:
        # CustomDist hands the parameters over with the observations' batch dims
        # in front; they do not vary over observations, so take one slice.
        params = [_core(param, ndim) for param, ndim in zip(params, core_ndim, strict=True)]
        return mixture_logp(value, *params, covariance_type)

    pm.CustomDist(
        OBSERVED_NAME,
        weights,
        z_means,
        factor,
        logp=logp,
        signature=_SIGNATURES[covariance_type],
        observed=z,
        dims=("observation", "feature"),
    )
