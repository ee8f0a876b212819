"""Bayesian Gaussian mixtures with PyMC: model, samplers, relabelling, estimator.

Importing this package imports PyMC lazily (inside the functions that need it), but
``bayesgmm`` itself does not import this package until ``BayesianGaussianMixture`` is
first used.
"""

from ..exceptions import SamplerWarning
from .estimator import BayesianGaussianMixture
from .loo import LooResult, loo, loo_pit_log_weights
from .model import Standardisation, build_model
from .predictive import posterior_predictive
from .priors import Priors
from .relabel import raw_posterior, relabel
from .samplers import limit_blas_threads, run_inference, start_values
from .sparse import SparseMixtureResult, nonempty_components, sparse_mixture

__all__ = [
    "BayesianGaussianMixture",
    "LooResult",
    "Priors",
    "SamplerWarning",
    "SparseMixtureResult",
    "Standardisation",
    "build_model",
    "limit_blas_threads",
    "loo",
    "loo_pit_log_weights",
    "nonempty_components",
    "posterior_predictive",
    "raw_posterior",
    "relabel",
    "run_inference",
    "sparse_mixture",
    "start_values",
]
