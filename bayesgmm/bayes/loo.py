r"""Leave-one-out cross-validation of a Bayesian fit: PSIS-LOO, and mixture IS where it fails.

PSIS-LOO (:func:`arviz.loo`) reweights the posterior draws by :math:`1/p(y_i\mid\theta)`
for each left-out row; when a row is influential the weights' tail is heavy (Pareto
:math:`\hat k > 0.7`) and the estimate unreliable. Mixture importance sampling (Silva &
Zanella 2022; Vehtari's Stan vignette "Mixture IS leave-one-out cross-validation", the
``loo(mixture=True)`` that ArviZ and arviz-stats discuss) samples once from a mixture of
all leave-one-out posteriors,

.. math::

    q_{mix}(\theta) \propto p(\theta \mid y) \textstyle\sum_{i=1}^n p(y_i \mid \theta)^{-1},

whose draws cover every :math:`p(\theta \mid y_{-i})`, so the importance ratios are
bounded; then, with :math:`\ell_{is} = \log p(y_i \mid \theta_s)` and
:math:`c_s = \log\sum_j e^{-\ell_{js}}`,

.. math::

    \widehat{\mathrm{elpd}}_i = \log \textstyle\sum_s e^{-c_s} - \log \sum_s e^{-\ell_{is} - c_s}.

:func:`loo` reports both beside each other. The mixture target is the model's compiled
log posterior (:mod:`~bayesgmm.bayes.density`) plus :math:`\log\sum_i p(y_i\mid\theta)^{-1}`,
whose gradient is the log posterior's with row weights :math:`-\mathrm{softmax}(-\ell)_i`
on the likelihood, sampled by nutpie from the fit's EM start.

:func:`loo_pit_log_weights` gives the PSIS weights with the ``feature`` dim that
``az.plot_loo_pit`` needs for multivariate rows (ArviZ's own weights lack it): the weights
of row i are those of the joint row, the PIT of each feature its marginal LOO-PIT.

References
----------
Silva, L. A. & Zanella, G. (2022). Robust leave-one-out cross-validation for
high-dimensional Bayesian models. arXiv:2209.09190.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp

from ..data import is_dask_array
from .density import PosteriorDensity, log_posterior, row_log_likelihood
from .model import OBSERVED_NAME

__all__ = ["LooResult", "MixtureISDensity", "loo", "loo_pit_log_weights", "mixture_elpd"]

PARETO_K_MAX = 0.7
"""Pareto k above which PSIS-LOO's estimate for a row is unreliable (Vehtari et al. 2024)."""


@dataclass(frozen=True)
class MixtureISDensity(PosteriorDensity):
    """The mixture-IS target: the log posterior plus ``log sum_i 1 / p(z_i | theta)``.

    Examples
    --------
    >>> from bayesgmm.bayes.priors import Priors
    >>> z = np.array([[-1.0], [0.0], [2.0]])
    >>> plain = PosteriorDensity(z, 1, "spherical", Priors())
    >>> mixed = MixtureISDensity(z, 1, "spherical", Priors())
    >>> theta = np.zeros(2)
    >>> extra = mixed(theta)[0] - plain(theta)[0]
    >>> bool(np.isclose(extra, np.log(np.exp(-plain.row_log_likelihood(theta)).sum())))
    True
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sample_weight is not None:
            raise ValueError(
                "Mixture IS leave-one-out needs an unweighted likelihood (rows as rows); "
                "this fit has sample_weight."
            )

    def logp_function(self) -> Any:
        base = super().logp_function()
        hyper, alpha = self._hyper()
        zt, k, n_dim = self._zt, self.n_components, self.n_dim
        code = {"full": 0, "tied": 1, "diag": 2, "spherical": 3}[self.covariance_type]
        rows = np.empty(zt.shape[1])
        empty = np.empty((zt.shape[0], 0))

        def logp(theta: np.ndarray, **_: object) -> tuple[float, np.ndarray]:
            value, grad = base(theta)
            if not np.isfinite(value):
                return value, grad
            row_log_likelihood(theta, zt, code, k, rows)
            negative = -rows
            top = negative.max()
            share = np.exp(negative - top)
            total = share.sum()
            share /= total  # softmax(-l): each row's part of sum_i 1 / p(z_i | theta)
            weighted, prior = np.empty(n_dim), np.empty(n_dim)
            log_posterior(theta, zt, share, code, k, hyper, alpha, weighted)
            log_posterior(theta, empty, share[:0], code, k, hyper, alpha, prior)
            return value + top + np.log(total), grad - (weighted - prior)

        return logp


def mixture_elpd(log_likelihood: np.ndarray) -> np.ndarray:
    """Pointwise mixture-IS LOO estimates from ``log p(y_i | theta_s)`` of q_mix's draws.

    Parameters
    ----------
    log_likelihood : ndarray of shape (S, N)
        Pointwise log-likelihood of the S draws from the mixture target.

    Returns
    -------
    ndarray of shape (N,)
        ``log p(y_i | y_-i)`` estimates (module docstring).

    Examples
    --------
    A posterior that ignores the data (every draw alike) predicts each row by its
    likelihood:

    >>> mixture_elpd(np.log(np.array([[0.2, 0.5]] * 3))).round(6)
    array([-1.609438, -0.693147])
    """
    common = logsumexp(-log_likelihood, axis=1)  # c_s
    return logsumexp(-common) - logsumexp(-log_likelihood - common[:, None], axis=0)


def loo_pit_log_weights(idata: Any) -> Any:
    """PSIS log weights with dims (observation, feature, __sample__) for ``az.plot_loo_pit``.

    ``az.plot_loo_pit(idata, y="x", log_weights=loo_pit_log_weights(idata))`` then shows
    each feature's marginal LOO-PIT, every feature of row i weighted as the joint row i.

    Examples
    --------
    >>> import arviz as az
    >>> rng = np.random.default_rng(0)
    >>> idata = az.from_dict(
    ...     log_likelihood={"x": rng.normal(size=(2, 50, 3))},
    ...     observed_data={"x": rng.normal(size=(3, 2))},
    ...     dims={"x": ["observation", "feature"]})
    >>> loo_pit_log_weights(idata).dims
    ('observation', 'feature', '__sample__')
    """
    import arviz as az

    log_lik = idata.log_likelihood[OBSERVED_NAME].stack(__sample__=("chain", "draw"))
    log_weights = az.psislw(-log_lik)[0]
    features = idata.observed_data[OBSERVED_NAME]["feature"]
    return log_weights.expand_dims(feature=features).transpose(
        "observation", "feature", "__sample__"
    )


@dataclass
class LooResult:
    """PSIS-LOO and, where it was run, mixture-IS LOO of one fit, side by side.

    Attributes
    ----------
    psis : arviz.ELPDData
        :func:`arviz.loo` with ``pointwise=True``.
    pointwise : pandas.DataFrame
        Per row: ``elpd_psis``, ``pareto_k`` and, with mixture IS, ``elpd_mixture``.
    mixture_info : dict or None
        The mixture sampler's divergences and seconds; None when it was not run.
    """

    psis: Any
    pointwise: Any
    mixture_info: dict[str, Any] | None

    @property
    def table(self) -> Any:
        """One row per estimator: ``elpd``, ``se``, ``p_loo`` and rows with high Pareto k."""
        import pandas as pd

        n_rows = len(self.pointwise)
        high = int((self.pointwise["pareto_k"] > PARETO_K_MAX).sum())
        rows = {
            "psis": {
                "elpd": float(self.psis.elpd_loo),
                "se": float(self.psis.se),
                "p_loo": float(self.psis.p_loo),
                "rows_k_above_0.7": high,
            }
        }
        if "elpd_mixture" in self.pointwise:
            elpd = self.pointwise["elpd_mixture"].to_numpy()
            lppd = float(self.psis.elpd_loo + self.psis.p_loo)
            rows["mixture_is"] = {
                "elpd": float(elpd.sum()),
                "se": float(np.sqrt(n_rows * elpd.var())),
                "p_loo": lppd - float(elpd.sum()),
                "rows_k_above_0.7": high,
            }
        return pd.DataFrame(rows).T

    def __repr__(self) -> str:
        return f"LooResult\n{self.table.to_string()}"


def loo(fit: Any, *, mixture: bool | str = "auto", random_state: Any = None) -> LooResult:
    """PSIS-LOO of a fitted BayesianGaussianMixture, with mixture-IS LOO where it fails.

    Parameters
    ----------
    fit : BayesianGaussianMixture
        Fitted with ``compute_log_likelihood=True`` (the default) and no sample_weight.
    mixture : bool or "auto", default="auto"
        Whether to sample the mixture-IS target (module docstring): "auto" when a row's
        Pareto k exceeds 0.7; True always; False never. It runs nutpie with the fit's
        ``draws``, ``tune``, ``chains`` and ``target_accept``, from the fit's EM start.
        Not for ``family="t"`` fits, nor fits of data with missing values (PSIS-LOO
        only, over the observed coordinates: True raises, "auto" skips it).
    random_state : int, numpy Generator or None, default=None
        Seeds the mixture sampler.

    Returns
    -------
    LooResult
        ``table`` (one row per estimator), ``pointwise`` (per row), ``psis``.

    Examples
    --------
    >>> from bayesgmm import BayesianGaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-3, 1, (40, 1)), rng.normal(3, 1, (40, 1))])
    >>> fit = BayesianGaussianMixture(2, method="advi", random_state=0).fit(X)
    >>> result = loo(fit, mixture=False)
    >>> list(result.table.index), result.pointwise.shape
    (['psis'], (80, 2))
    """
    import warnings

    import arviz as az
    import pandas as pd

    from ..data import check_random_state

    if mixture not in (True, False, "auto"):
        raise ValueError(f"mixture must be True, False or 'auto'; got {mixture!r}.")
    idata = fit.result_.posterior
    if "log_likelihood" not in idata.groups():
        raise ValueError(
            "loo needs the pointwise log-likelihood: fit with compute_log_likelihood=True."
        )
    with warnings.catch_warnings():  # the Pareto k values are reported, not warned
        warnings.filterwarnings("ignore", message=".*Pareto k.*")
        warnings.filterwarnings("ignore", message=".*shape parameter of Pareto.*")
        psis = az.loo(idata, pointwise=True)
    pointwise = pd.DataFrame(
        {"elpd_psis": psis.loo_i.values, "pareto_k": psis.pareto_k.values},
        index=pd.Index(idata.observed_data["observation"].values, name="observation"),
    )
    info = None
    if getattr(fit, "family", "gaussian") == "t":  # its target is the Gaussian density's
        if mixture is True:
            raise ValueError(
                "loo(mixture=True) samples the compiled Gaussian log posterior; a "
                "family='t' fit has PSIS-LOO only: use mixture=False or 'auto'."
            )
        mixture = False
    if _has_missing_values(idata):  # the compiled density takes complete rows only
        if mixture is True:
            raise ValueError(
                "loo(mixture=True) samples the compiled log posterior of complete rows; a "
                "fit of data with missing values (missing='marginal') has PSIS-LOO over "
                "the observed coordinates only: use mixture=False or 'auto'."
            )
        mixture = False
    if mixture is True or (mixture == "auto" and (pointwise["pareto_k"] > PARETO_K_MAX).any()):
        elpd, info = _mixture_loo(fit, check_random_state(random_state))
        pointwise["elpd_mixture"] = elpd
    return LooResult(psis, pointwise, info)


def _has_missing_values(idata: Any) -> bool:
    """Whether a fit's data hold NaN (missing values fitted by ``missing="marginal"``)."""
    observed = idata.observed_data[OBSERVED_NAME]
    return not is_dask_array(observed.data) and bool(np.isnan(observed.values).any())


def _mixture_loo(fit: Any, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Sample the mixture-IS target by nutpie from the fit's EM start; pointwise elpd."""
    from ..result import MixtureResult
    from .model import PARAMETER_NAMES, Standardisation
    from .priors import Priors
    from .samplers import chain_starts, run_inference, start_values

    idata = fit.result_.posterior
    X = np.asarray(idata.observed_data[OBSERVED_NAME].values, dtype=np.float64)
    constant = idata.constant_data
    if "sample_weight" in constant:
        raise ValueError(
            "Mixture IS leave-one-out needs an unweighted likelihood (rows as rows); this "
            "fit has sample_weight."
        )
    standard = Standardisation(constant["center"].values, constant["scale"].values)
    ct, k = fit.covariance_type, fit.n_components
    density = MixtureISDensity(
        standard.transform(X),
        k,
        ct,
        fit.priors or Priors(),
        standardisation=standard,
        feature_names=idata.observed_data["feature"].values,
    )
    em = fit.em_
    start = start_values(em.weights_, em.means_, em.covariances_, ct, standard)
    draws, info = run_inference(
        None,  # nutpie samples the density alone
        method="nuts",
        nuts_sampler="nutpie",
        starts=chain_starts(start, fit.chains, fit.jitter, rng),
        draws=fit.draws,
        tune=fit.tune,
        chains=fit.chains,
        cores=fit.cores,
        target_accept=fit.target_accept,
        rng=rng,
        density=density,
    )
    means = {name: draws.posterior[name].mean(("chain", "draw")).values for name in PARAMETER_NAMES}
    result = MixtureResult(**means, covariance_type=ct, posterior=draws)
    log_lik = result.log_likelihood_draws(X).values.reshape(-1, len(X))
    info = {
        "seconds": info["seconds"],
        "divergences": int(draws.sample_stats["diverging"].sum()),
        "draws": int(log_lik.shape[0]),
    }
    return mixture_elpd(log_lik), info
