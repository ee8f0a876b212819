"""Every warning and error class of bayesgmm, in one place.

scikit-learn is an optional dependency, so these classes do not derive from its
``ConvergenceWarning`` or ``NotFittedError`` at import time (importing scikit-learn
takes about a second). Code written for scikit-learn has scikit-learn loaded, though,
and filters or catches scikit-learn's classes; :func:`sklearn_compatible` gives, at
the moment a warning or error is raised, a class that derives from both ours and
scikit-learn's when scikit-learn is loaded, so both kinds of ``except`` and
``warnings.filterwarnings(category=...)`` match.
"""

from __future__ import annotations

import sys
import threading

__all__ = [
    "ConvergenceWarning",
    "DegenerateComponentWarning",
    "DataWarning",
    "WarmStartWarning",
    "SamplerWarning",
    "NotFittedError",
    "CovarianceError",
    "ILL_DEFINED_COVARIANCE",
    "sklearn_compatible",
]

#: How scikit-learn's error for a covariance that is not positive definite begins; ours
#: begin the same way (code ported from scikit-learn may match it), then name the case.
ILL_DEFINED_COVARIANCE = (
    "Fitting the mixture model failed because some components have ill-defined empirical "
    "covariance (for instance caused by singleton or collapsed samples). Try to decrease "
    "the number of components, increase reg_covar, or scale the input data."
)


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before meeting its tolerance."""


class DegenerateComponentWarning(UserWarning):
    """A component sits on fewer distinct points than it has dimensions, or below the
    resolution the data were recorded at: its likelihood is unbounded."""


class DataWarning(UserWarning):
    """The data are fitted, but a property of theirs limits what the fit means.

    Constant, identical or collinear features and fewer rows than features (fitted only
    thanks to ``reg_covar``), or values whose spread float64 cannot resolve.
    """


class WarmStartWarning(UserWarning):
    """``warm_start=True`` could not continue the previous fit, so the fit started cold."""


class SamplerWarning(UserWarning):
    """Sampler trouble: divergences, R-hat, effective sample size, non-convergence."""


class NotFittedError(ValueError, AttributeError):
    """Raised when a method that needs a fitted model is called before ``fit``."""


class CovarianceError(ValueError):
    """A covariance estimate is not positive definite (a collapsed component)."""


#: scikit-learn's class of the same role, by our class.
_SKLEARN_NAMES = {ConvergenceWarning: "ConvergenceWarning", NotFittedError: "NotFittedError"}
_bridges: dict[tuple[type, type], type] = {}
_lock = threading.Lock()


def sklearn_compatible(cls: type) -> type:
    """``cls``, or a subclass of it and of scikit-learn's namesake when that is loaded.

    Examples
    --------
    >>> issubclass(sklearn_compatible(ConvergenceWarning), ConvergenceWarning)
    True
    """
    name = _SKLEARN_NAMES.get(cls)
    module = sys.modules.get("sklearn.exceptions")
    base = getattr(module, name, None) if name is not None else None
    if not isinstance(base, type) or issubclass(cls, base):
        return cls
    with _lock:
        key = (cls, base)
        if key not in _bridges:
            _bridges[key] = type(
                cls.__name__, (cls, base), {"__module__": cls.__module__, "__doc__": cls.__doc__}
            )
        return _bridges[key]
