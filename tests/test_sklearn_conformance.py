"""scikit-learn's estimator checks: ``check_estimator(GaussianMixture())`` as one test per check.

Every check passes: none is expected to fail (scikit-learn itself skips the array API
checks when ``SCIPY_ARRAY_API`` is unset). ``check_sample_weight_equivalence_on_dense_data``
fits 27 weighted rows of 30 features with full covariances, which bayesgmm fits
regularised, with a DataWarning, as scikit-learn does.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from bayesgmm import GaussianMixture


@parametrize_with_checks([GaussianMixture()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_clone_keeps_every_parameter():
    estimator = GaussianMixture(3, covariance_type="diag", tol=1e-4, n_init=2, random_state=5)
    copy = clone(estimator)
    assert copy is not estimator
    assert copy.get_params() == estimator.get_params()


@pytest.mark.parametrize(
    "code",
    [
        "from sklearn.model_selection import GridSearchCV\n"
        "search = GridSearchCV(GaussianMixture(n_init=1), "
        "{'n_components': [1, 2, 3], 'covariance_type': ['full', 'diag']}, cv=3).fit(X)\n"
        "best = search.best_params_\n",
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler\n"
        "pipe = make_pipeline(StandardScaler(), GaussianMixture(2, random_state=0)).fit(X)\n"
        "best = pipe.predict(X)\n",
    ],
    ids=["grid_search_by_score", "pipeline"],
)
def test_runs_in_sklearn_meta_estimators(code):
    """Code written for sklearn.mixture.GaussianMixture (search, pipelines) runs unchanged."""
    from bayesgmm.datasets import load_seed_example

    namespace = {"GaussianMixture": GaussianMixture, "X": load_seed_example()}
    exec(code, namespace)
    assert namespace["best"] is not None
    if "search" in namespace:  # the mean held-out log-likelihood prefers 4 blobs' cover
        assert namespace["search"].best_params_["n_components"] >= 2


@pytest.mark.parametrize("action", ["filterwarnings", "simplefilter"])
def test_sklearn_convergence_warning_filters_silence_ours(action):
    """Issue 14.2: code ported from scikit-learn filters scikit-learn's class; every
    non-convergence warning of the EM fitter must obey it."""
    from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning

    X = np.random.default_rng(0).normal(size=(200, 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if action == "filterwarnings":
            warnings.filterwarnings("ignore", category=SklearnConvergenceWarning)
        else:
            warnings.simplefilter("ignore", SklearnConvergenceWarning)
        for options in ({"n_init": 1}, {}, {"engine": "blocks"}, {"warm_start": True}):
            model = GaussianMixture(3, max_iter=2, random_state=0, **options)
            model.fit(X)
            assert not model.converged_
    assert not [w for w in caught if "converge" in str(w.message)], caught
    # and without the filter the same fits do warn, as both classes
    with pytest.warns(SklearnConvergenceWarning, match="did not converge"):
        GaussianMixture(3, max_iter=2, random_state=0).fit(X)
