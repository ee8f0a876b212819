r"""The PyMC model of a Gaussian mixture, for each covariance type.

The priors are stated on standardised data ``z = (x - center) / scale``; the observed
variable is the data in its own units, and the parameters are reported in those units
through deterministic variables:

.. math::

    \pi \sim \mathrm{Dirichlet}(\alpha), \quad
    \mu^z_k \sim \mathcal N(0, \sigma_\mu^2 I), \quad
    \Sigma^z_k = \mathrm{diag}(s_k)\, \Omega_k\, \mathrm{diag}(s_k),\;
    s_{kd} \sim \mathrm{Gamma}(a, b),\; \Omega_k \sim \mathrm{LKJ}(\eta),

    \log p(x_n \mid \theta) = \operatorname{logsumexp}_k
        \bigl[\log \pi_k + \log \mathcal N(z_n \mid \mu^z_k, \Sigma^z_k)\bigr]
        - \textstyle\sum_d \log \mathrm{scale}_d.

The labels are summed out (no discrete variables), so NUTS and ADVI apply, and the
likelihood is one observed variable ``x`` (data units) whose pointwise log-density is the
InferenceData's ``log_likelihood`` group and whose random method draws the posterior
predictive (``pm.sample_posterior_predictive``). It is computed through precision Cholesky
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

Student-t components (``family="t"``) replace each Gaussian density by a multivariate
t with the same location and scale matrix and ``nu_k`` degrees of freedom, labels
summed out as above; ``nu_k ~ Gamma(dof_alpha, dof_beta)`` (Juarez & Steel 2010's
Gamma(2, 0.1) by default, :class:`~bayesgmm.bayes.Priors`) is the free variable
``dof`` (component), or the given fixed value. The t likelihood is a PyTensor graph
(no fused Op), so every backend differentiates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..covariance import SKLEARN_TYPES
from ..data import check_int, check_option, check_X
from .marginal import observed_mixture_logp, observed_patterns
from .priors import Priors

__all__ = [
    "DATA_NAME",
    "DOF_NAME",
    "OBSERVED_NAME",
    "PARAMETER_NAMES",
    "WEIGHT_NAME",
    "Standardisation",
    "build_model",
    "model_sample_weight",
    "parameter_dims",
    "reported_names",
    "sample_mixture",
    "standardised_data",
]

OBSERVED_NAME = "x"
DATA_NAME = "data"
WEIGHT_NAME = "sample_weight"
PARAMETER_NAMES = ("weights", "means", "covariances")
DOF_NAME = "dof"
"""The Student-t components' estimated degrees of freedom (component), when free."""
FIXED_DOF_NAME = "fixed_dof"


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
    def from_data(
        cls, X: np.ndarray, covariance_type: str, sample_weight: Any = None
    ) -> Standardisation:
        """Centre at the mean; scale by each feature's standard deviation.

        Spherical models use the root mean variance for every feature. Constant
        features get scale 1 instead of 0. With ``sample_weight`` the moments are
        weighted, so that integer weights standardise as the repeated rows do. Data
        with NaN (missing values) take each feature's moments over its observed values.
        """
        if np.isnan(X).any():  # missing values: each feature's moments over its observed
            from ..em.missing import observed_moments

            ones = np.ones(len(X)) if sample_weight is None else sample_weight
            return cls.from_moments(*observed_moments(X, ones), covariance_type)
        center = np.average(X, axis=0, weights=sample_weight)
        variance = np.average((X - center) ** 2, axis=0, weights=sample_weight)
        return cls.from_moments(center, variance, covariance_type)

    @classmethod
    def from_moments(
        cls, mean: np.ndarray, variance: np.ndarray, covariance_type: str
    ) -> Standardisation:
        """From each feature's (weighted) mean and variance, as :meth:`from_data` does.

        Examples
        --------
        >>> Standardisation.from_moments(np.zeros(2), np.array([1.0, 0.0]), "diag").scale
        array([1., 1.])
        """
        center = np.asarray(mean, dtype=np.float64)
        variance = np.asarray(variance, dtype=np.float64)
        if covariance_type == "spherical":
            variance = np.full_like(variance, variance.mean())
        scale = np.sqrt(variance)
        scale = np.where(scale > 0, scale, 1.0)
        return cls(center=center, scale=scale)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Data units to standardised units."""
        return (X - self.center) / self.scale


def _gamma(shape: float, rate: float) -> dict[str, np.float64]:
    """A Gamma prior's parameters as float64: PyTensor makes a Python float that float32
    holds exactly (2.5, 3.0) a float32 constant, and its log-gamma then loses 1e-8."""
    return {"alpha": np.float64(shape), "beta": np.float64(rate)}


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
        return pm.Gamma.dist(**_gamma(priors.sd_alpha, priors.sd_beta), shape=shape)

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
            "z_sds", **_gamma(priors.sd_alpha, priors.sd_beta), dims=("component", "feature")
        )
        return 1.0 / sds, sds**2
    sds = pm.Gamma("z_sds", **_gamma(priors.sd_alpha, priors.sd_beta), dims="component")
    factor = pt.broadcast_to((1.0 / sds)[:, None], (n_components, n_features))
    return factor, sds**2


_CORE_DIMS = {
    "factor": {"full": "k,d,d", "tied": "d,d", "diag": "k,d", "spherical": "k,d"},
    "covariances": {"full": "k,d,d", "tied": "d,d", "diag": "k,d", "spherical": "k"},
}
"""Core dims of the observed variable's precision factor and standardised covariances
(the missing-values likelihood's input), per covariance type."""


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


def t_mixture_logp(
    value: Any, weights: Any, means: Any, factor: Any, dof: Any, covariance_type: str
) -> Any:
    """Pointwise log-density of a mixture of multivariate t's, labels summed out.

    As :func:`mixture_logp`, with ``dof`` (K,) degrees of freedom; a PyTensor graph.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from scipy import stats
    >>> logp = t_mixture_logp(pt.ones((1, 1)), pt.ones(1), pt.zeros((1, 1)),
    ...                       pt.ones((1, 1)), pt.as_tensor([3.0]), "diag")
    >>> bool(np.isclose(logp.eval()[0], stats.t(3).logpdf(1.0)))
    True
    """
    import pytensor.tensor as pt

    n_features = means.shape[-1]
    diff = value[None, :, :] - means[:, None, :]  # (K, N, D)
    if covariance_type in ("full", "tied"):
        if covariance_type == "tied":
            factor = pt.broadcast_to(factor, (means.shape[0], n_features, n_features))
        maha = pt.sum(pt.matmul(diff, factor) ** 2, axis=-1)  # precision = W W^T
        log_det = pt.sum(pt.log(pt.diagonal(factor, axis1=-2, axis2=-1)), axis=-1)
    else:
        maha = pt.sum((diff * factor[:, None, :]) ** 2, axis=-1)
        log_det = pt.sum(pt.log(factor), axis=-1)
    nu = dof[:, None]
    half = 0.5 * (nu + n_features)
    constant = pt.gammaln(half) - pt.gammaln(0.5 * nu) - 0.5 * n_features * pt.log(nu * np.pi)
    log_density = constant + log_det[:, None] - half * pt.log1p(maha / nu)
    return pt.logsumexp(pt.log(weights)[:, None] + log_density, axis=0)


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


def parameter_dims(covariance_type: str) -> dict[str, tuple[str, ...]]:
    """Dims of the reported ``weights``, ``means``, ``covariances`` (and ``dof``) of a type.

    Examples
    --------
    >>> parameter_dims("tied")["covariances"]
    ('feature', 'feature_bis')
    """
    return {
        "weights": ("component",),
        "means": ("component", "feature"),
        "covariances": _COVARIANCE_DIMS[covariance_type],
        DOF_NAME: ("component",),
    }


def reported_names(model: Any) -> tuple[str, ...]:
    """The variables a sampler reports of a model: ``weights``, ``means``,
    ``covariances``, and ``dof`` where the model estimates t degrees of freedom.

    Examples
    --------
    >>> reported_names(build_model(np.array([[0.0], [1.0]]), 1, "spherical"))
    ('weights', 'means', 'covariances')
    """
    return PARAMETER_NAMES + ((DOF_NAME,) if DOF_NAME in model.named_vars else ())


def build_model(
    X: Any,
    n_components: int,
    covariance_type: str = "full",
    priors: Priors | None = None,
    *,
    feature_names: Any = None,
    standardisation: Standardisation | None = None,
    sample_weight: Any = None,
    family: str = "gaussian",
    dof: Any = None,
    missing: str = "error",
) -> Any:
    """Build the PyMC model of a Gaussian (or Student-t) mixture, its priors on
    standardised data.

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
        (:meth:`Standardisation.from_data`, weighted by ``sample_weight``). Pass
        ``Standardisation(zeros, ones)`` to state the priors in the data's own units
        (as simulation-based calibration needs, where data are drawn from the prior).
    sample_weight : array-like of shape (N,) or None, default=None
        A weighted likelihood: each row's log-likelihood times its weight (integer
        weights count rows; see :class:`~bayesgmm.BayesianGaussianMixture`'s Notes).
    family : {"gaussian", "t"}, default="gaussian"
        The components' distribution: Gaussian, or multivariate Student-t with the
        same location and scale matrix (module docstring).
    dof : float, array-like of shape (K,) or None, default=None
        ``family="t"`` only: fixed degrees of freedom (data ``fixed_dof``); None makes
        them the free variable ``dof`` (component) with the Gamma prior of ``priors``.
    missing : {"error", "marginal"}, default="error"
        What NaN in X means: refused, or a missing value: the likelihood is then that
        of each row's observed coordinates, summed over the data's missingness patterns
        (:mod:`~bayesgmm.bayes.marginal`); the observed variable ``x`` holds X with its
        NaN.

    Returns
    -------
    pymc.Model
        Free variables ``weights`` (component), ``z_means`` (component, feature) and
        the covariance priors (``z_chol_k``, ``z_chol`` or ``z_sds``), standardised,
        and ``dof`` for a t model that estimates it;
        deterministics ``means`` and ``covariances`` (data units, shaped as
        scikit-learn's ``covariances_``); data ``center``, ``scale``, ``data`` (X) and
        ``sample_weight`` (if given); the observed mixture ``x`` (observation, feature;
        data units, labels summed out) with a random method for
        ``pm.sample_posterior_predictive``. Extend it inside ``with model:``.

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
    dof = _checked_family(family, dof, n_components)
    missing = check_option("build_model", "missing", missing, ("error", "marginal"))
    X, names = _checked_data(X, feature_names, allow_nan=missing == "marginal")
    if sample_weight is not None:
        sample_weight = _checked_weights(sample_weight, len(X))
    standard = _standardisation(X, covariance_type, standardisation, sample_weight)
    coords = {
        "component": np.arange(n_components),
        "feature": names,
        "feature_bis": names,
        "observation": np.arange(X.shape[0]),
    }
    patterns = observed_patterns(X) if missing == "marginal" else None
    with pm.Model(coords=coords) as model:
        _add_variables(
            X,
            standard,
            sample_weight,
            n_components,
            covariance_type,
            priors,
            (family, dof),
            patterns,
        )
    return model


def _checked_family(family: Any, dof: Any, n_components: int) -> np.ndarray | None:
    """The fixed degrees of freedom (K,) of a t model, or None (estimated, or Gaussian)."""
    family = check_option("build_model", "family", family, ("gaussian", "t"))
    if dof is None:
        return None
    if family != "t":
        raise ValueError("build_model's dof is for family='t'; leave it None for Gaussians.")
    values = np.broadcast_to(np.asarray(dof, dtype=np.float64), (n_components,)).copy()
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"build_model's dof must be positive and finite; got {dof!r}.")
    return values


def _add_variables(
    X: np.ndarray,
    standard: Standardisation,
    sample_weight: np.ndarray | None,
    n_components: int,
    covariance_type: str,
    priors: Priors,
    family: tuple[str, np.ndarray | None] = ("gaussian", None),
    patterns: tuple[np.ndarray, ...] | None = None,
) -> None:
    """The model's data, priors, deterministics and observed mixture (inside the model);
    ``family`` is (name, fixed degrees of freedom or None); ``patterns`` the observed
    coordinates of each missingness pattern (None: complete data)."""
    import pymc as pm

    center = pm.Data("center", standard.center, dims="feature")
    scale = pm.Data("scale", standard.scale, dims="feature")
    data = _data(X)
    row_weights = None
    if sample_weight is not None:
        row_weights = pm.Data(WEIGHT_NAME, sample_weight, dims="observation")
    dims = parameter_dims(covariance_type)
    weights = pm.Dirichlet(
        "weights", a=priors.weights_concentration(n_components), dims=dims["weights"]
    )
    z_means = pm.Normal("z_means", mu=0.0, sigma=priors.means_sigma, dims=dims["means"])
    factor, z_covariances = _covariance_parts(covariance_type, n_components, X.shape[1], priors)
    pm.Deterministic("means", center + scale * z_means, dims=dims["means"])
    pm.Deterministic(
        "covariances",
        data_units(covariance_type, z_covariances, scale),
        dims=dims["covariances"],
    )
    parameters = (weights, z_means, factor, center, scale)
    if patterns is not None:  # the likelihood restricts the covariances to each pattern
        parameters += (z_covariances,)
    if family[0] == "t":
        if family[1] is None:
            nu = pm.Gamma(DOF_NAME, **_gamma(priors.dof_alpha, priors.dof_beta), dims="component")
        else:
            nu = pm.Data(FIXED_DOF_NAME, family[1], dims="component")
        parameters += (nu,)
    _observe(data, parameters, covariance_type, row_weights, patterns)


def _data(X: np.ndarray) -> Any:
    """The model's data ``data`` (observation, feature), inside the model: ``pm.Data``,
    or for data with NaN (which ``pm.Data`` refuses, and an observed array would have
    PyMC impute) the same shared variable registered by hand."""
    import pymc as pm
    import pytensor

    if not np.isnan(X).any():
        return pm.Data(DATA_NAME, X, dims=("observation", "feature"))
    shared = pytensor.shared(np.array(X, dtype=np.float64), DATA_NAME)
    pm.modelcontext(None).register_data_var(shared, dims=("observation", "feature"))
    return shared


def standardised_data(model: Any) -> np.ndarray:
    """The model's data on its standardised scale, ``(data - center) / scale`` (N, D).

    Examples
    --------
    >>> model = build_model(np.array([[0.0], [2.0]]), 1, "spherical")
    >>> standardised_data(model).ravel()
    array([-1.,  1.])
    """
    values = [
        np.asarray(model[name].get_value(), dtype=np.float64)
        for name in (DATA_NAME, "center", "scale")
    ]
    return (values[0] - values[1]) / values[2]


def model_sample_weight(model: Any) -> np.ndarray | None:
    """The model's row weights, or None when it counts every row once.

    Examples
    --------
    >>> model_sample_weight(build_model(np.array([[0.0], [2.0]]), 1, "spherical")) is None
    True
    """
    if WEIGHT_NAME not in model.named_vars:
        return None
    return np.asarray(model[WEIGHT_NAME].get_value(), dtype=np.float64)


def _checked_options(n_components: Any, covariance_type: Any, priors: Any) -> tuple:
    n_components = check_int("build_model", "n_components", n_components, 1)
    covariance_type = check_option("build_model", "covariance_type", covariance_type, SKLEARN_TYPES)
    priors = Priors() if priors is None else priors
    if not isinstance(priors, Priors):
        raise TypeError(
            f"priors must be a bayesgmm.bayes.Priors instance or None; got {type(priors).__name__}."
        )
    return n_components, covariance_type, priors


def _checked_data(
    X: Any, feature_names: Any, allow_nan: bool = False
) -> tuple[np.ndarray, list[str]]:
    """X as a float array, and the feature names (given, a DataFrame's, or x0, x1, ...)."""
    data = check_X(
        X, estimator="build_model", min_samples=2, dtype=np.float64, allow_dask=False,
        allow_nan=allow_nan,
    )  # fmt: skip
    n_features = data.X.shape[1]
    names = feature_names if feature_names is not None else data.feature_names
    names = (
        [str(name) for name in names] if names is not None else [f"x{i}" for i in range(n_features)]
    )
    if len(names) != n_features:
        raise ValueError(f"feature_names has {len(names)} names but X has {n_features} features.")
    return data.X, names


def _standardisation(
    X: np.ndarray, covariance_type: str, standardisation: Standardisation | None, weights: Any
) -> Standardisation:
    if standardisation is None:
        return Standardisation.from_data(X, covariance_type, weights)
    n_features = X.shape[1]
    return Standardisation(
        center=np.broadcast_to(np.asarray(standardisation.center, float), (n_features,)),
        scale=np.broadcast_to(np.asarray(standardisation.scale, float), (n_features,)),
    )


def _observe(
    data: Any,
    parameters: tuple,
    covariance_type: str,
    row_weights: Any,
    patterns: tuple[np.ndarray, ...] | None = None,
) -> None:
    """The observed mixture ``x`` in data units with the labels summed out (in the model).

    ``parameters`` are (weights, z_means, factor, center, scale), with ``patterns`` the
    standardised covariances, and the degrees of freedom for t components: the
    log-density of a row is the standardised mixture's at ``(x - center) / scale`` less
    ``sum(log scale)``; with ``patterns``, that of its observed coordinates
    (:func:`~bayesgmm.bayes.marginal.observed_mixture_logp`).
    """
    import pymc as pm

    cores = ["k", "k,d", _CORE_DIMS["factor"][covariance_type], "d", "d"]
    if patterns is not None:
        cores.append(_CORE_DIMS["covariances"][covariance_type])
    cores += ["k"] * (len(parameters) - len(cores))  # the t components' dof
    signature = ",".join(f"({part})" for part in cores) + "->(d)"
    core_ndim = [part.count(",") + 1 for part in cores]

    def core(params: tuple) -> list:
        # CustomDist hands the parameters over with the observations' batch dims
        # in front; they do not vary over observations, so take one slice.
        return [_core(param, ndim) for param, ndim in zip(params, core_ndim, strict=True)]

    def split(params: tuple) -> tuple:
        """(weights, z_means, factor, center, scale), covariances or None, dof or None."""
        values = core(params)
        covariances = values.pop(5) if patterns is not None else None
        return values[:5], covariances, (values[5] if len(values) > 5 else None)

    def logp(value: Any, *params: Any) -> Any:
        import pytensor.tensor as pt

        (weights, z_means, factor, center, scale), covariances, dof = split(params)
        z = (value - center) / scale

        def row_logp(rows: Any, means: Any, factor: Any) -> Any:
            if dof is not None:
                return t_mixture_logp(rows, weights, means, factor, dof, covariance_type)
            return mixture_logp(rows, weights, means, factor, covariance_type)

        if patterns is None:
            log_density = row_logp(z, z_means, factor) - pt.sum(pt.log(scale))
        else:
            log_density = observed_mixture_logp(
                z, z_means, factor, covariances, covariance_type, patterns, scale, row_logp
            )
        return log_density if row_weights is None else log_density * row_weights

    def random(*params: Any, rng: Any = None, size: Any = None) -> np.ndarray:
        (weights, z_means, factor, center, scale), _, dof = split(params)
        return sample_mixture(
            weights,
            z_means,
            factor,
            center,
            scale,
            covariance_type,
            rng=rng,
            size=size,
            dof=dof,
        )

    pm.CustomDist(
        OBSERVED_NAME,
        *parameters,
        logp=logp,
        random=random,
        signature=signature,
        observed=data,
        dims=("observation", "feature"),
    )


def sample_mixture(
    weights: np.ndarray,
    z_means: np.ndarray,
    factor: np.ndarray,
    center: np.ndarray,
    scale: np.ndarray,
    covariance_type: str,
    *,
    rng: Any = None,
    size: Any = None,
    dof: Any = None,
) -> np.ndarray:
    """Rows from the mixture given the model's parameters (the observed variable's
    random method): ``center + scale * (z_means[k] + W_k^{-T} e)``, k ~ weights; for t
    components ``e`` is a standard normal times ``sqrt(dof_k / chi2(dof_k))``.

    Parameters
    ----------
    weights : ndarray (K,)
    z_means : ndarray (K, D)
    factor : ndarray
        The model's precision factors: upper-triangular ``W`` (K, D, D) for "full",
        (D, D) for "tied", inverse standard deviations (K, D) for "diag" and "spherical".
    center, scale : ndarray (D,)
    covariance_type : {"full", "tied", "diag", "spherical"}
    rng : numpy Generator or None
    size : int, tuple or None
        Rows to draw (the batch shape); None draws one.
    dof : ndarray (K,) or None, default=None
        Student-t components' degrees of freedom; None for Gaussians.

    Returns
    -------
    ndarray of shape ``size + (D,)``

    Examples
    --------
    >>> rows = sample_mixture(np.ones(1), np.zeros((1, 2)), np.full((1, 2), 0.5), np.zeros(2),
    ...                       np.ones(2), "diag", rng=np.random.default_rng(0), size=20000)
    >>> rows.shape, bool(abs(rows.std() - 2.0) < 0.05)
    ((20000, 2), True)
    """
    rng = np.random.default_rng(rng)
    shape = () if size is None else tuple(np.atleast_1d(size))
    n_features = z_means.shape[-1]
    p = np.asarray(weights, dtype=np.float64)
    labels = rng.choice(len(p), size=shape, p=p / p.sum())
    noise = rng.standard_normal(shape + (n_features,))
    if dof is not None:
        nu = np.asarray(dof, dtype=np.float64)[labels]
        noise *= np.sqrt(nu / rng.chisquare(nu))[..., None]
    factor = np.asarray(factor, dtype=np.float64)
    if covariance_type in ("full", "tied"):
        if factor.ndim == 2:
            factor = np.broadcast_to(factor, (len(p), n_features, n_features))
        lower = np.swapaxes(factor, -1, -2)[labels]  # W^T: z = mu + W^{-T} e
        z = np.linalg.solve(lower, noise[..., None])[..., 0]
    else:
        z = noise / factor[labels]
    return center + scale * (z_means[labels] + z)


def _checked_weights(sample_weight: Any, n_rows: int) -> np.ndarray:
    from ..data import check_sample_weight

    return check_sample_weight(sample_weight, n_rows)
