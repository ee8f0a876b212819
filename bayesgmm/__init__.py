"""bayesgmm: Gaussian mixture models, fast EM and full Bayesian (PyMC), one result object."""

from .compare import compare
from .em import ConvergenceWarning, DegenerateComponentWarning, GaussianMixture
from .io import load, save
from .result import MixtureResult
from .selection import select

__version__ = "0.1.0"

__all__ = [
    "GaussianMixture",
    "MixtureResult",
    "select",
    "compare",
    "ConvergenceWarning",
    "DegenerateComponentWarning",
    "load",
    "save",
    "__version__",
]


def __getattr__(name: str):  # lazy, so that `import bayesgmm` does not import PyMC
    if name == "BayesianGaussianMixture":
        from .bayes import BayesianGaussianMixture

        return BayesianGaussianMixture
    raise AttributeError(f"module 'bayesgmm' has no attribute {name!r}")
