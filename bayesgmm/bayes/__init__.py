"""Bayesian Gaussian mixtures with PyMC: model, samplers, relabelling, estimator.

Importing this package imports PyMC lazily (inside the functions that need it), but
``bayesgmm`` itself does not import this package until ``BayesianGaussianMixture`` is
first used.
"""

from ..exceptions import SamplerWarning
from .estimator import BayesianGaussianMixture
from .model import Standardisation, build_model
from .priors import Priors
from .relabel import raw_posterior, relabel
from .samplers import limit_blas_threads, run_inference, start_values

__all__ = [
    "BayesianGaussianMixture",
    "Priors",
    "SamplerWarning",
    "Standardisation",
    "build_model",
    "limit_blas_threads",
    "raw_posterior",
    "relabel",
    "run_inference",
    "start_values",
]
