"""The hyperparameters of a MAP-EM fit's conjugate prior, as a result holds them.

:mod:`bayesgmm.em.prior` resolves them (mclust's ``defaultPrior`` for the fields a user
leaves open) and turns them into the compiled M-step's terms; a
:class:`~bayesgmm.result.MixtureResult` keeps them, and its file stores them
(``prior_mean``, ``prior_scale``, attributes ``prior_shrinkage`` and ``prior_dof``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ResolvedPrior"]


@dataclass(frozen=True)
class ResolvedPrior:
    """The hyperparameters a fit used (``GaussianMixture.prior_``), data coordinates.

    ``scale`` is a (n_features, n_features) matrix for the ellipsoidal models and a
    number for the diagonal and spherical ones, as mclust's ``defaultPrior`` gives it.

    Examples
    --------
    >>> prior = ResolvedPrior(0.01, np.zeros(2), 4.0, np.eye(2))
    >>> prior == ResolvedPrior(0.01, np.zeros(2), 4.0, np.eye(2))
    True
    """

    shrinkage: float
    mean: np.ndarray
    dof: float
    scale: np.ndarray | float

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResolvedPrior):
            return NotImplemented
        return (
            self.shrinkage == other.shrinkage
            and self.dof == other.dof
            and np.array_equal(self.mean, other.mean)
            and np.array_equal(self.scale, other.scale)
        )

    __hash__ = None  # type: ignore[assignment]  # holds arrays
