"""bayesgmm: Gaussian mixture models, fast EM and full Bayesian (PyMC), one result object.

The public names load on first use (PEP 562), so ``import bayesgmm`` imports neither
numpy's heavier neighbours nor PyMC: an EM fit never loads PyMC or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

#: Public name -> the module that defines it.
_PUBLIC = {
    "GaussianMixture": "bayesgmm.em.estimator",
    "BayesianGaussianMixture": "bayesgmm.bayes.estimator",
    "MixtureResult": "bayesgmm.result",
    "load": "bayesgmm.result",
    "save": "bayesgmm.result",
    "select": "bayesgmm.selection",
    "compare": "bayesgmm.comparison",
    "ConvergenceWarning": "bayesgmm.exceptions",
    "DegenerateComponentWarning": "bayesgmm.exceptions",
    "SamplerWarning": "bayesgmm.exceptions",
    "DataWarning": "bayesgmm.exceptions",
    "WarmStartWarning": "bayesgmm.exceptions",
    "NotFittedError": "bayesgmm.exceptions",
}

__all__ = [
    "GaussianMixture",
    "BayesianGaussianMixture",
    "MixtureResult",
    "load",
    "save",
    "select",
    "compare",
    "ConvergenceWarning",
    "DegenerateComponentWarning",
    "SamplerWarning",
    "DataWarning",
    "WarmStartWarning",
    "NotFittedError",
    "__version__",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .bayes.estimator import BayesianGaussianMixture
    from .comparison import compare
    from .em.estimator import GaussianMixture
    from .exceptions import (
        ConvergenceWarning,
        DataWarning,
        DegenerateComponentWarning,
        NotFittedError,
        SamplerWarning,
        WarmStartWarning,
    )
    from .result import MixtureResult, load, save
    from .selection import select


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'bayesgmm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
