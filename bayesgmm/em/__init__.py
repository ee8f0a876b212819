"""EM for Gaussian mixtures: the engine (arrays in, arrays out) and GaussianMixture."""

from .estimator import GaussianMixture

__all__ = ["GaussianMixture"]
