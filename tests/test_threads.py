"""BLAS threads: fits running in several threads leave the process's BLAS as it was.

Issue 15.14: four EM fits in threads used to leave OpenBLAS at one thread for the rest
of the process, because each fit's ``threadpoolctl`` context restored what another had
set. ``bayesgmm.threads.single_threaded_blas`` counts its holders instead.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from bayesgmm import GaussianMixture
from bayesgmm.datasets import make_mixture
from bayesgmm.threads import single_threaded_blas


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.fixture
def two_blas_threads():
    """BLAS at two threads, so a leak to one is visible (whatever the machine's default)."""
    if not _blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can control")
    with threadpool_limits(limits=2, user_api="blas"):
        if set(_blas_threads()) != {2}:
            pytest.skip("this BLAS does not take a limit of two threads")
        yield


def test_fits_in_four_threads_leave_blas_threads_as_they_were(two_blas_threads):
    before = _blas_threads()
    datasets = [make_mixture(2000, 3, 3, random_state=seed).X for seed in range(8)]

    def fit(X):
        return GaussianMixture(3, random_state=0, engine="blocks").fit(X).lower_bound_

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(fit, datasets))
    assert _blas_threads() == before
    # and each threaded fit is the fit made alone
    assert results == [fit(X) for X in datasets]


def test_holders_restore_the_limit_whatever_order_they_leave_in(two_blas_threads):
    """Two holders entered one after the other, left in the same order: the second one
    out restores the original (a plain threadpoolctl context would restore the first's)."""
    before = _blas_threads()
    first, second = single_threaded_blas(), single_threaded_blas()
    first.__enter__()
    second.__enter__()
    assert set(_blas_threads()) == {1}
    first.__exit__(None, None, None)
    assert set(_blas_threads()) == {1}  # one holder left: still one thread
    second.__exit__(None, None, None)
    assert _blas_threads() == before


def test_the_blas_view_is_kept_between_fits_and_renewed_after_an_import():
    """Reading the process's libraries costs milliseconds: made once per start, it took
    nine tenths of a default iris fit. A new import may bring a new BLAS: then renewed."""
    import sys
    import types

    from bayesgmm import threads

    view = threads._controller()
    assert threads._controller() is view
    sys.modules["_bayesgmm_test_new_module"] = types.ModuleType("_bayesgmm_test_new_module")
    try:
        assert threads._controller() is not view
    finally:
        del sys.modules["_bayesgmm_test_new_module"]
