"""EM for Gaussian mixtures: the engine (arrays in, arrays out) and GaussianMixture.

Modules: ``loop`` (the EM skeleton), ``stopping`` (the stopping rule), ``engines`` (where the
E-step runs, chosen once per fit), ``passes`` (one E-step pass over a block of rows),
``blocks`` (row blocks and the fit's threads), ``statistics`` (the data's moments), ``starts``
and ``init`` (the starts), ``user_values`` (initial values given by the user), ``degenerate``
(collapsed components), ``estimator`` (:class:`GaussianMixture`).
"""

from .estimator import GaussianMixture

__all__ = ["GaussianMixture"]
