"""The package imports and fits the seed example."""

import numpy as np
from sklearn.metrics import adjusted_rand_score

from bayesgmm import GaussianMixture
from bayesgmm.datasets import load_seed_example


def test_seed_example_recovers_clusters():
    X, labels = load_seed_example(return_labels=True)
    fitted = GaussianMixture(4, covariance_type="full", random_state=0).fit(X)
    assert adjusted_rand_score(labels, fitted.predict(X)) > 0.95
    bics = [GaussianMixture(k, random_state=0).fit(X).bic(X) for k in range(1, 10)]
    assert int(np.argmin(bics)) + 1 == 4
