r"""Component families: Gaussian, and Student-t with per-component degrees of freedom.

A component model is a family times a covariance model. The family turns a row's
squared Mahalanobis distance :math:`\delta_{nk}` and the component's log-determinant
into its log-density, and (Student-t) adds the latent scale weights
:math:`u_{nk} = (\nu_k + D) / (\nu_k + \delta_{nk})` that the t M-step needs (Peel &
McLachlan 2000): the covariance model's M-step is the same for both families, run on
scale-weighted sums.

.. math::

    \log t_\nu(x \mid \mu, \Sigma) = \log\Gamma\!\left(\tfrac{\nu + D}{2}\right)
        - \log\Gamma\!\left(\tfrac{\nu}{2}\right) - \tfrac D2 \log(\nu\pi)
        - \tfrac12 \log|\Sigma| - \tfrac{\nu + D}{2} \log\!\left(1 + \tfrac{\delta}{\nu}\right)

The degrees of freedom are estimated by the ECM step of Peel & McLachlan (the root of
their score equation, by bisection in ``log nu`` on [:data:`DOF_MIN`, :data:`DOF_MAX`]),
or fixed. Each family is a plug-in object (:mod:`bayesgmm.kernels.plugins`): compiled
code calls its ``transform`` and ``update_dof`` kernels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from .kernels.compile import inline, kernel
from .kernels.plugins import CompiledPlugin
from .kernels.special import digamma

__all__ = ["Family", "GAUSSIAN", "STUDENT_T", "FAMILIES", "get_family", "DOF_MIN", "DOF_MAX"]

#: Bounds of estimated degrees of freedom: below 1 a component has no mean; above
#: DOF_MAX it is a Gaussian to within the data's information about its tails.
DOF_MIN = 1.0
DOF_MAX = 1000.0
_BISECTION_STEPS = 60
#: A component below this log-weight is empty (the coefficients' stand-in for log 0).
_EMPTY = -1e29


@kernel
def _gaussian_transform(L, offsets, log_norm, row_q, dof, n_features, U):
    """Gaussian, where whole log-densities are needed (beside a noise component): the
    logits ``L`` (K, B) -> weighted log-densities ``log_norm_k - D log(2 pi) / 2 - delta / 2``
    (the shared layout's logits lack ``-row_q / 2`` and the constants), unit scale
    weights ``U``.
    Without noise the Gaussian E-step never calls it: its coefficients (and the layout's
    ``likelihood_terms``) give the log-likelihood directly."""
    n_components, n_rows = L.shape
    for k in range(n_components):
        row = L[k]
        scale = U[k]
        constant = log_norm[k] - 0.5 * n_features * math.log(2.0 * math.pi)
        for b in range(n_rows):
            if offsets[k] < _EMPTY:  # an empty component stays empty
                scale[b] = 0.0
                continue
            delta = max(2.0 * (offsets[k] - row[b]) + row_q[b], 0.0)
            row[b] = constant - 0.5 * delta
            scale[b] = 1.0


@kernel
def _t_transform(L, offsets, log_norm, row_q, dof, n_features, U):
    """In place: Gaussian logits ``L`` (K, B) -> Student-t weighted log-densities; the
    scale weights into ``U``. ``delta = 2 (offsets_k - L) + row_q`` is the squared
    Mahalanobis distance; ``log_norm_k = log pi_k + log|Sigma_k|^(-1/2)``."""
    n_components, n_rows = L.shape
    for k in range(n_components):
        nu = dof[k]
        half = 0.5 * (nu + n_features)
        constant = (
            log_norm[k]
            + math.lgamma(half)
            - math.lgamma(0.5 * nu)
            - 0.5 * n_features * math.log(nu * math.pi)
        )
        row = L[k]
        scale = U[k]
        if offsets[k] < _EMPTY:  # an empty component stays empty
            for b in range(n_rows):
                scale[b] = 0.0
            continue
        for b in range(n_rows):
            delta = max(2.0 * (offsets[k] - row[b]) + row_q[b], 0.0)
            row[b] = constant - half * math.log1p(delta / nu)
            scale[b] = (nu + n_features) / (nu + delta)


@kernel
def _no_update(counts, dof_stats, n_features, dof, estimate):
    return None


@inline
def _dof_score(nu, target):
    """Peel & McLachlan's score in nu, decreasing: -psi(nu/2) + log(nu/2) - target."""
    return -digamma(0.5 * nu) + math.log(0.5 * nu) - target


@kernel
def _t_update(counts, dof_stats, n_features, dof, estimate):
    """ECM step for each component's degrees of freedom (when ``estimate[0]``): the root of
    ``-psi(nu/2) + log(nu/2) + 1 + mean(log u - u) + psi((nu_old + D)/2) - log((nu_old + D)/2)``,
    the weighted mean over the component's rows, clipped to [DOF_MIN, DOF_MAX]."""
    if not estimate[0]:
        return None
    for k in range(dof.shape[0]):
        if counts[k] <= 0.0:
            continue
        old = 0.5 * (dof[k] + n_features)
        target = -(1.0 + dof_stats[k] / counts[k] + digamma(old) - math.log(old))
        low, high = math.log(DOF_MIN), math.log(DOF_MAX)
        if _dof_score(DOF_MAX, target) >= 0.0:
            dof[k] = DOF_MAX
            continue
        if _dof_score(DOF_MIN, target) <= 0.0:
            dof[k] = DOF_MIN
            continue
        for _ in range(_BISECTION_STEPS):
            middle = 0.5 * (low + high)
            if _dof_score(math.exp(middle), target) > 0.0:
                low = middle
            else:
                high = middle
        dof[k] = math.exp(0.5 * (low + high))
    return None


@kernel
def _false():
    return False


@kernel
def _true():
    return True


@dataclass(frozen=True, eq=False)
class Family(CompiledPlugin):
    """A component family.

    Attributes
    ----------
    name : str
    scales : bool
        Whether the E-step yields latent scale weights (Student-t).
    """

    name: str
    scales: bool
    transform: Any
    update_dof: Any
    scaled: Any

    @property
    def plugin_key(self) -> str:  # type: ignore[override]
        return f"family-{self.name}"

    def kernels(self) -> dict[str, Any]:
        """The compiled functions compiled code calls."""
        return {"transform": self.transform, "update_dof": self.update_dof, "scaled": self.scaled}

    def __reduce__(self) -> tuple:
        return (get_family, (self.name,))

    def n_parameters(self, n_components: int, estimate_dof: bool) -> int:
        """Free parameters the family adds (a t's degrees of freedom, when estimated)."""
        return n_components if self.scales and estimate_dof else 0

    def log_density(
        self, maha: np.ndarray, log_det: np.ndarray, dof: np.ndarray, n_features: int
    ) -> np.ndarray:
        """Log-densities from squared Mahalanobis distances ``(..., N, K)``, the precision
        factors' log-determinants ``(..., K)`` and the degrees of freedom ``(..., K)``."""
        log_det = np.asarray(log_det)[..., None, :]
        if not self.scales:
            return log_det - 0.5 * (n_features * math.log(2.0 * math.pi) + maha)
        nu = np.asarray(dof, dtype=np.float64)[..., None, :]
        constant = (
            special.gammaln(0.5 * (nu + n_features))
            - special.gammaln(0.5 * nu)
            - 0.5 * n_features * np.log(nu * np.pi)
        )
        return log_det + constant - 0.5 * (nu + n_features) * np.log1p(maha / nu)


GAUSSIAN = Family("gaussian", False, _gaussian_transform, _no_update, _false)
STUDENT_T = Family("t", True, _t_transform, _t_update, _true)
#: Every family, by name.
FAMILIES: dict[str, Family] = {family.name: family for family in (GAUSSIAN, STUDENT_T)}


def get_family(name: str) -> Family:
    """The family of that name ("gaussian" or "t")."""
    return FAMILIES[name]
