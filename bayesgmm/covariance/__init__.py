"""Covariance models (mclust's parameterisations) and their registry.

``covariance_type`` takes a model's name or alias; scikit-learn's four names are
aliases of mclust's (spherical = VII, diag = VVI, tied = EEE, full = VVV) and keep
scikit-learn's shapes. Adding a model means writing its estimate and one
:class:`~bayesgmm.covariance.base.CovarianceModel` in the file of its group, and
listing it in :data:`MODELS` here; nothing else in the package names models.

Examples
--------
>>> get_covariance_model("VVV") is get_covariance_model("full")
True
>>> get_covariance_model("diag").n_parameters(3, 4)
12
"""

from __future__ import annotations

from .base import CovarianceModel
from .decomposition import decompose
from .diagonal import EEI, EVI, VEI, VVI
from .ellipsoidal import EEE, EEV, EVE, EVV, VEE, VEV, VVE, VVV
from .layouts import Layout, not_positive_definite
from .spherical import EII, VII

__all__ = [
    "CovarianceModel",
    "Layout",
    "MODELS",
    "COVARIANCE_TYPES",
    "SKLEARN_TYPES",
    "get_covariance_model",
    "not_positive_definite",
    "decompose",
]

#: Every model, by the name results record, in mclust's order.
MODELS: dict[str, CovarianceModel] = {
    model.name: model
    for model in (EII, VII, EEI, VEI, EVI, VVI, EEE, VEE, EVE, VVE, EEV, VEV, EVV, VVV)
}
#: Every name ``covariance_type`` accepts (names and aliases), to its model.
COVARIANCE_TYPES: dict[str, CovarianceModel] = {
    **MODELS,
    **{alias: model for model in MODELS.values() for alias in model.aliases},
}
#: scikit-learn's four types, in its order.
SKLEARN_TYPES = ("full", "tied", "diag", "spherical")


def get_covariance_model(name: str) -> CovarianceModel:
    """The covariance model for a ``covariance_type`` name or alias.

    Parameters
    ----------
    name : str
        A key of :data:`COVARIANCE_TYPES` (callers validate it first, with the
        message of :func:`bayesgmm.data.check_option`).

    Returns
    -------
    CovarianceModel

    Examples
    --------
    >>> model = get_covariance_model("VEV")
    >>> model.description, model.n_parameters(2, 4)
    ('ellipsoidal, volume and orientation vary, equal shape', 17)
    """
    return COVARIANCE_TYPES[name]
