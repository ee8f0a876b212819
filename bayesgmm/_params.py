"""scikit-learn's parameter protocol (get_params, set_params, repr), shared by both estimators.

scikit-learn is only a test dependency, so the estimators do not inherit from its
``BaseEstimator``; this mixin gives them the same protocol: the constructor's keyword
arguments are the parameters, stored unchanged under their own names.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["ParamsMixin"]


def _same(value: Any, default: Any) -> bool:
    if value is default:
        return True
    try:
        return type(value) is type(default) and bool(value == default)
    except Exception:  # arrays and other objects without a plain truth value
        return False


class ParamsMixin:
    """``get_params`` / ``set_params`` / ``__repr__`` from the constructor's signature.

    Examples
    --------
    >>> class Model(ParamsMixin):
    ...     def __init__(self, alpha=1.0, *, beta="x"):
    ...         self.alpha = alpha
    ...         self.beta = beta
    >>> Model(alpha=2.0)
    Model(alpha=2.0)
    >>> Model().set_params(beta="y").get_params()
    {'alpha': 1.0, 'beta': 'y'}
    """

    @classmethod
    def _parameter_names(cls) -> list[str]:
        return list(inspect.signature(cls.__init__).parameters)[1:]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this estimator, as scikit-learn's ``get_params``."""
        return {name: getattr(self, name) for name in self._parameter_names()}

    def set_params(self, **params: Any) -> Any:
        """Set parameters, as scikit-learn's ``set_params``; returns the estimator."""
        names = self._parameter_names()
        for name, value in params.items():
            if name not in names:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {sorted(names)!r}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = type(self)().get_params()
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if not _same(value, defaults[name])
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "result_")
