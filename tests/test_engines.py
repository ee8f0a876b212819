"""The EM engines: the same answer from every engine, and the right answer.

Checked against scikit-learn on the same start (log-likelihood to 1e-10 relative),
against the textbook EM of ``tests/reference.py`` (no shared code), against
statistics computed directly from responsibilities, and against themselves under
changes that must not change the answer (the engine, offset data, threads, blocks,
dask chunks, float32). Engines are picked with ``GaussianMixture(engine=...)`` or
built directly: no test patches module globals.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import reference
from threadpoolctl import threadpool_limits

from bayesgmm import GaussianMixture, gaussian
from bayesgmm.covariance import MODELS, get_covariance_model
from bayesgmm.em.blocks import Workers
from bayesgmm.em.engines import BlockEngine, WholeRunEngine, select_engine
from bayesgmm.em.loop import Parameters, run_em
from bayesgmm.em.passes import STACKED_FEATURES, BlockPass
from bayesgmm.em.starts import parameters_from_sums
from bayesgmm.exceptions import CovarianceError
from bayesgmm.family import GAUSSIAN

TYPES = ["full", "tied", "diag", "spherical"]
ALL_MODELS = sorted(MODELS)
ENGINES = ["compiled", "blocks"]


def _data(n_samples=3000, n_features=3, n_components=3, seed=0, standardise=True):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (n_components, n_features))
    labels = rng.integers(n_components, size=n_samples)
    mix = rng.normal(size=(n_components, n_features, n_features)) + 2 * np.eye(n_features)
    X = np.einsum("nd,nde->ne", rng.normal(size=(n_samples, n_features)), mix[labels])
    X += centers[labels]
    if standardise:  # ddof=0: unit variances, so a float reg_covar is relative to them
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X


def _identity_precisions(model, n_components, n_features):
    """Identity precisions in the model's public shape."""
    shape = model.covariance_shape(n_components, n_features)
    if model.dims[-2:] == ("feature", "feature_bis"):
        return np.broadcast_to(np.eye(n_features), shape).copy()
    return np.ones(shape)


def _start(X, n_components, covariance_type, seed=1):
    rng = np.random.default_rng(seed)
    model = get_covariance_model(covariance_type)
    return {
        "weights_init": np.full(n_components, 1.0 / n_components),
        "means_init": X[rng.choice(len(X), n_components, replace=False)].astype(np.float64),
        "precisions_init": _identity_precisions(model, n_components, X.shape[1]),
    }


def _fit(cls, X, covariance_type, n_iter=25, reg_covar="auto", n_components=3, **options):
    model = cls(
        n_components,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=n_iter,
        reg_covar=reg_covar,
        n_init=1,
        **options,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X)


def _assert_same_fit(left, right, rtol):
    np.testing.assert_allclose(left.lower_bounds_, right.lower_bounds_, rtol=rtol)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(
            getattr(left, name), getattr(right, name), rtol=1e3 * rtol, atol=1e3 * rtol
        )
    assert left.n_iter_ == right.n_iter_
    assert left.converged_ == right.converged_


# ---------------------------------------------------------------- the right answer
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("reg_covar", [1e-6, 0.0])
def test_same_log_likelihood_as_sklearn(covariance_type, reg_covar, engine):
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    # reg_covar=0 needs no standardisation: both add nothing to the variances
    X = _data(standardise=reg_covar > 0)
    init = _start(X, 3, covariance_type)
    ours = _fit(GaussianMixture, X, covariance_type, reg_covar=reg_covar, engine=engine, **init)
    theirs = _fit(SkGaussianMixture, X, covariance_type, reg_covar=reg_covar, **init)
    expected = theirs.score(X)
    assert ours.score(X) == pytest.approx(expected, rel=1e-10)
    assert ours.lower_bound_ == pytest.approx(expected, rel=1e-10)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(
            getattr(ours, name), getattr(theirs, name), rtol=1e-7, atol=1e-9, err_msg=name
        )


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("covariance_type", reference.MODELS)
def test_every_model_follows_the_textbook_em(covariance_type, engine):
    """Five iterations from the same start give the reference EM's history, weights,
    means and covariances: catches an M-step or an E-step term of any model with a
    closed form (the iterative ones are checked in test_covariance_models.py)."""
    X = _data(n_samples=400, seed=2)
    row_weights = np.random.default_rng(2).uniform(0.5, 2.0, len(X))
    init = _start(X, 3, covariance_type)
    model = get_covariance_model(covariance_type)
    ours = GaussianMixture(
        3, covariance_type=covariance_type, tol=0.0, max_iter=5, n_init=1, engine=engine,
        reg_covar=1e-6, **init,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.fit(X, sample_weight=row_weights)
    reg = np.full(3, 1e-6)  # a float reg_covar is added as it is, in the data's units
    full_start = np.linalg.inv(
        reference.full_covariances(covariance_type, init["precisions_init"], 3, 3)
    )
    history, weights, means, full = reference.em(
        covariance_type,
        X,
        row_weights,
        init["weights_init"],
        init["means_init"],
        full_start,
        5,
        reg,
    )
    np.testing.assert_allclose(ours.lower_bounds_, history, rtol=1e-11)
    np.testing.assert_allclose(ours.weights_, weights, rtol=1e-9)
    np.testing.assert_allclose(ours.means_, means, rtol=1e-9, atol=1e-11)
    ours_full = model.to_full(ours.covariances_, 3, 3)
    np.testing.assert_allclose(ours_full, full, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("covariance_type", ALL_MODELS)
def test_em_never_decreases_the_log_likelihood(covariance_type):
    """From a poor random start, every iteration's mean log-likelihood is at least the
    previous one's, to the rounding of a sum of N log-densities (N eps |ll|)."""
    X = _data(n_samples=1000, seed=3)
    model = GaussianMixture(
        4, covariance_type=covariance_type, init_params="random_from_data", n_init=1, tol=0.0,
        max_iter=60, random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = np.array(model.fit(X).lower_bounds_)
    rounding = len(X) * np.finfo(float).eps * np.abs(history).max()
    assert np.diff(history).min() >= -rounding
    assert history[-1] > history[0] + 0.01  # EM did climb


def test_pass_statistics_match_responsibilities():
    """The fused pass against sums formed directly from gaussian.py's E-step, every layout."""
    rng = np.random.default_rng(3)
    X = _data(n_samples=500, seed=3) + 5.0
    row_weights = rng.integers(0, 4, size=len(X)).astype(float)
    shift = np.average(X, axis=0, weights=row_weights)
    for covariance_type in TYPES:
        model = get_covariance_model(covariance_type)
        means = X[:3] - shift
        covariances = {
            "full": np.stack([np.eye(3) * s + 0.3 for s in (0.5, 1.0, 2.0)]),
            "tied": np.eye(3) + 0.2,
            "diag": rng.uniform(0.5, 2, (3, 3)),
            "spherical": np.array([0.5, 1.0, 2.0]),
        }[covariance_type]
        weights = np.array([0.2, 0.3, 0.5])
        prec = model.precision_cholesky(covariances, weights)
        log_likelihood, T = BlockPass(
            model.layout, (weights, means, covariances, prec, np.full(3, np.inf)), shift, "f8"
        )(X, row_weights)
        log_likelihood += model.layout.likelihood_terms(
            prec, _second(X, row_weights, shift), T[:, -1].sum()
        )
        Xs = X - shift
        joint = model.log_density(Xs, means, prec) + np.log(weights)
        log_prob, log_resp = gaussian.log_mixture_density(joint)
        resp = np.exp(log_resp) * row_weights[:, None]
        q = model.layout.n_quadratic(3)
        assert log_likelihood == pytest.approx(row_weights @ log_prob, rel=1e-12)
        np.testing.assert_allclose(T[:, -1], resp.sum(axis=0), rtol=1e-12)
        np.testing.assert_allclose(T[:, q:-1], resp.T @ Xs, rtol=1e-10, atol=1e-10)


def _second(X, row_weights, shift):
    Xs = X - shift
    return (Xs * row_weights[:, None]).T @ Xs


def test_maximise_matches_closed_form_for_one_component():
    X = _data(n_samples=400, seed=12)
    model = get_covariance_model("full")
    shift = X.mean(axis=0)
    params = (np.ones(1), np.zeros((1, 3)), np.eye(3)[None], np.eye(3)[None], np.full(1, np.inf))
    _, T = BlockPass(model.layout, params, shift, "f8")(X, np.ones(len(X)))
    fitted = parameters_from_sums(model, T, np.zeros((3, 3)), np.zeros(3))
    np.testing.assert_allclose(fitted.covariances[0], np.cov(X.T, ddof=0), rtol=1e-10)
    np.testing.assert_allclose(fitted.means[0], 0.0, atol=1e-12)
    np.testing.assert_array_equal(fitted.weights, [1.0])


# ---------------------------------------------------------------- engines agree
def _engine_data(n_samples=1500, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (3, n_features))
    scales = rng.uniform(0.5, 2.0, (3, n_features))
    labels = rng.integers(3, size=n_samples)
    X = rng.normal(size=(n_samples, n_features)) * scales[labels] + centers[labels]
    return (X - X.mean(axis=0)) / X.std(axis=0)


@pytest.mark.parametrize("covariance_type", ALL_MODELS)
@pytest.mark.parametrize("weighted", [False, True])
def test_compiled_runs_equal_the_block_engine(covariance_type, weighted):
    X = _engine_data()
    row_weights = np.random.default_rng(2).uniform(0, 3, len(X)) if weighted else None
    init = _start(X, 3, covariance_type)
    fits = []
    for engine in ENGINES:
        model = GaussianMixture(
            3, covariance_type=covariance_type, tol=0.0, max_iter=40, n_init=1, engine=engine,
            **init,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits.append(model.fit(X, sample_weight=row_weights))
    _assert_same_fit(*fits, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_engines_stop_at_the_same_point(covariance_type):
    X = _engine_data(seed=5)
    init = _start(X, 3, covariance_type)
    compiled, blocks = (
        GaussianMixture(
            3,
            covariance_type=covariance_type,
            tol=1e-8,
            max_iter=500,
            n_init=1,
            engine=engine,
            **init,
        ).fit(X)  # fmt: skip
        for engine in ENGINES
    )
    assert compiled.converged_ and 2 < compiled.n_iter_ < 500
    _assert_same_fit(compiled, blocks, rtol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("covariance_type", TYPES)
def test_float32_within_1e6_of_float64(covariance_type, engine):
    X = _data(n_samples=5000, n_features=4, seed=8)
    init = _start(X, 3, covariance_type)
    double = _fit(GaussianMixture, X, covariance_type, n_iter=30, engine=engine, **init)
    single = _fit(
        GaussianMixture, X.astype(np.float32), covariance_type, n_iter=30, engine=engine, **init
    )
    assert single.lower_bound_ == pytest.approx(double.lower_bound_, rel=1e-6)
    assert single.means_.dtype == np.float32  # float32 in, float32 out (cast at the end)


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_empty_component(covariance_type, dtype):
    """A start with a component of weight 0: finite history, the same in both engines."""
    X = _engine_data(n_samples=1000).astype(dtype)
    init = {**_start(X, 3, covariance_type), "weights_init": np.array([0.5, 0.5, 0.0])}
    init["means_init"][2] = 50.0
    compiled, blocks = (
        _fit(GaussianMixture, X, covariance_type, n_iter=3, engine=engine, **init)
        for engine in ENGINES
    )
    assert np.isfinite(compiled.lower_bounds_).all()
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(compiled.lower_bounds_, blocks.lower_bounds_, rtol=rtol)


def _engine(cls, X, model, workers, reg=None):
    shift = X.mean(axis=0)
    reg = np.full(X.shape[1], 1e-6) if reg is None else reg
    return cls(X, np.ones(len(X)), shift, reg, model, 3, np.float64, workers), shift


@pytest.mark.parametrize("cls", [WholeRunEngine, BlockEngine])
@pytest.mark.parametrize("covariance_type", TYPES)
def test_failed_factorisation_raises_naming_the_component(covariance_type, cls):
    """A covariance that is not positive definite stops the run with CovarianceError
    naming the component (a negative variance floor forces it)."""
    X = _engine_data(n_samples=300)
    model = get_covariance_model(covariance_type)
    engine, shift = _engine(cls, X, model, Workers(1), reg=np.full(3, -100.0))
    fit = _fit(GaussianMixture, X, covariance_type, n_iter=1, **_start(X, 3, covariance_type))
    start = Parameters(
        fit.weights_, fit.means_ - shift, model.to_storage(fit.covariances_),
        model.to_storage(fit.precisions_cholesky_),
    )  # fmt: skip
    who = "the shared covariance" if covariance_type == "tied" else r"component \d \(weight"
    with pytest.raises(CovarianceError, match=who):
        run_em(engine, model, start, max_iter=5, tol=0.0)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_passes_do_not_depend_on_blocks_or_threads(covariance_type):
    """Many small blocks on two threads, one block on one thread: the same E-step."""
    X = _data(n_samples=4000, seed=4)
    model = get_covariance_model(covariance_type)
    fit = _fit(GaussianMixture, X, covariance_type, n_iter=2, **_start(X, 3, covariance_type))
    results = []
    for workers in (Workers(1), Workers(2, block_bytes=4096, min_rows=64)):
        with workers:
            assert (len(workers.blocks(len(X), 10)) > 10) == (workers.n_threads > 1)
            engine, shift = _engine(BlockEngine, X, model, workers)
            params = Parameters(
                fit.weights_, fit.means_ - shift, model.to_storage(fit.covariances_),
                model.to_storage(fit.precisions_cholesky_),
            ).arrays()  # fmt: skip
            stats = engine.new_statistics(model, 3)
            value = engine.e_step(model.layout, GAUSSIAN, None, params, stats)
            results.append((value, stats[0].copy()))
    (whole, T_whole), (blocked, T_blocked) = results
    assert blocked == pytest.approx(whole, rel=1e-12)
    np.testing.assert_allclose(T_blocked, T_whole, rtol=1e-11, atol=1e-9)


def test_thread_count_does_not_change_a_fit():
    """The same blocks summed in the same order: bitwise the same fit on 1 and 2 threads."""
    X = _data(n_samples=40_000, seed=4)
    fits = []
    for n_threads in (1, 2):
        with threadpool_limits(n_threads):
            fits.append(_fit(GaussianMixture, X, "full", n_iter=5, **_start(X, 3, "full")))
    np.testing.assert_array_equal(fits[0].lower_bounds_, fits[1].lower_bounds_)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("covariance_type", TYPES)
def test_offset_data_give_the_same_fit(covariance_type, engine):
    X = _data(n_samples=2000, seed=5)
    init = _start(X, 3, covariance_type)
    centred = _fit(GaussianMixture, X, covariance_type, n_iter=15, engine=engine, **init)
    offset = 1e6
    init_offset = {**init, "means_init": init["means_init"] + offset}
    shifted = _fit(
        GaussianMixture, X + offset, covariance_type, n_iter=15, engine=engine, **init_offset
    )
    # X + 1e6 itself is rounded to 1.2e-10: agreement to that rounding, not to 1e-16
    assert shifted.lower_bound_ == pytest.approx(centred.lower_bound_, rel=1e-8)
    np.testing.assert_allclose(shifted.means_ - offset, centred.means_, atol=1e-7)
    np.testing.assert_allclose(shifted.covariances_, centred.covariances_, rtol=1e-6)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_dask_input_gives_the_numpy_answer(covariance_type):
    da = pytest.importorskip("dask.array")
    X = _data(n_samples=3000, seed=6)
    init = _start(X, 3, covariance_type)
    in_memory = _fit(GaussianMixture, X, covariance_type, n_iter=10, **init)
    chunked = _fit(
        GaussianMixture, da.from_array(X, chunks=(700, 3)), covariance_type, n_iter=10, **init
    )
    assert chunked.lower_bound_ == pytest.approx(in_memory.lower_bound_, rel=1e-12)
    np.testing.assert_allclose(chunked.means_, in_memory.means_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(chunked.covariances_, in_memory.covariances_, rtol=1e-10)


def test_dask_offset_chunks_combine_stably():
    da = pytest.importorskip("dask.array")
    X = _data(n_samples=3000, seed=7)
    init = _start(X, 3, "full")
    offset = 1e6
    init_offset = {**init, "means_init": init["means_init"] + offset}
    centred = _fit(GaussianMixture, X, "full", n_iter=10, **init)
    chunked = _fit(
        GaussianMixture, da.from_array(X + offset, chunks=(500, 3)), "full", n_iter=10,
        **init_offset,
    )  # fmt: skip
    assert chunked.lower_bound_ == pytest.approx(centred.lower_bound_, rel=1e-8)
    np.testing.assert_allclose(chunked.covariances_, centred.covariances_, rtol=1e-6)


def test_dtype_parameter_sets_the_working_precision():
    """dtype="float32" fits float64 data as float32 data; "float64" the reverse."""
    X = _data(n_samples=3000, n_features=3, seed=9)
    init = _start(X, 3, "full")
    as_float32 = _fit(GaussianMixture, X.astype(np.float32), "full", n_iter=10, **init)
    asked = _fit(GaussianMixture, X, "full", n_iter=10, dtype="float32", **init)
    np.testing.assert_array_equal(asked.lower_bounds_, as_float32.lower_bounds_)
    double = _fit(GaussianMixture, X, "full", n_iter=10, **init)
    back = _fit(GaussianMixture, X.astype(np.float32), "full", n_iter=10, dtype=np.float64, **init)
    exact = _fit(
        GaussianMixture, X.astype(np.float32).astype(np.float64), "full", n_iter=10, **init
    )
    np.testing.assert_array_equal(back.lower_bounds_, exact.lower_bounds_)
    assert asked.lower_bound_ == pytest.approx(double.lower_bound_, rel=1e-6)
    assert asked.lower_bound_ != double.lower_bound_
    for bad in ("float16", "double precision", 3):
        with pytest.raises((ValueError, TypeError), match="'dtype' parameter"):
            GaussianMixture(2, dtype=bad).fit(X)


@pytest.mark.parametrize("engine", ENGINES)
def test_integer_weights_equal_repeated_rows(engine):
    X = _data(n_samples=600, seed=9)
    counts = np.random.default_rng(9).integers(0, 4, size=len(X))
    init = _start(X, 3, "full")
    repeated = _fit(
        GaussianMixture, np.repeat(X, counts, axis=0), "full", n_iter=10, engine=engine, **init
    )
    model = GaussianMixture(3, tol=0.0, max_iter=10, n_init=1, engine=engine, **init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted = model.fit(X, sample_weight=counts)
    assert weighted.lower_bound_ == pytest.approx(repeated.lower_bound_, rel=1e-10)
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-9)


def test_tied_data_moment_follows_an_array_changed_in_place():
    """An array changed in place between fits must not be served a stale S."""
    X = _data(n_samples=1000, seed=11)
    init = _start(X, 2, "tied")
    first = _fit(GaussianMixture, X, "tied", n_iter=5, n_components=2, **init)
    X *= 2.0
    init = {**init, "means_init": init["means_init"] * 2.0, "precisions_init": np.eye(3) / 4}
    second = _fit(GaussianMixture, X, "tied", n_iter=5, n_components=2, **init)
    np.testing.assert_allclose(second.covariances_, 4 * first.covariances_, rtol=1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stacked_factors_for_many_features_match_the_feature_path(dtype):
    """Full covariances with D above STACKED_FEATURES take the stacked-factor path: the
    same pass as the feature path, and scikit-learn's fit."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    n_features = STACKED_FEATURES + 6
    X = _data(n_samples=1500, n_features=n_features, seed=13).astype(dtype)
    init = _start(X.astype(np.float64), 3, "full")
    model = get_covariance_model("full")
    stacked = _fit(GaussianMixture, X, "full", n_iter=8, reg_covar=1e-6, **init)
    shift = X.astype(np.float64).mean(axis=0)
    params = Parameters(
        stacked.weights_, stacked.means_ - shift, stacked.covariances_,
        stacked.precisions_cholesky_,
    ).arrays()  # fmt: skip
    passes = [
        BlockPass(model.layout, params, shift, dtype, stacked=flag)(X, np.ones(len(X)))
        for flag in (True, False)
    ]
    rel = 1e-10 if dtype == np.float64 else 1e-6
    assert passes[0][0] == pytest.approx(passes[1][0], rel=rel)
    np.testing.assert_allclose(passes[0][1], passes[1][1], rtol=100 * rel, atol=100 * rel)
    if dtype == np.float64:
        theirs = _fit(SkGaussianMixture, X, "full", n_iter=8, reg_covar=1e-6, **init)
        assert stacked.score(X) == pytest.approx(theirs.score(X), rel=1e-10)
        np.testing.assert_allclose(stacked.covariances_, theirs.covariances_, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize(
    ("n_features", "dtype", "family", "log_vinv"),
    [
        (3, np.float64, "gaussian", None),
        (3, np.float32, "gaussian", None),
        (3, np.float64, "t", -9.0),
        (STACKED_FEATURES + 2, np.float64, "gaussian", None),
        (STACKED_FEATURES + 2, np.float32, "gaussian", None),
        (STACKED_FEATURES + 2, np.float64, "t", -40.0),
    ],
)
def test_one_pass_over_many_blocks_is_the_sum_of_its_blocks(n_features, dtype, family, log_vinv):
    """The blocks of one pass share working arrays (a smaller last block takes views of
    the first's): the pass must equal its blocks passed one by one, each with arrays of
    its own. A view of the wrong shape, or a value left from the previous block, shows."""
    from bayesgmm.em.blocks import row_blocks
    from bayesgmm.family import get_family

    rng = np.random.default_rng(21)
    n_components = 3
    model = get_covariance_model("full")
    block = None
    for n_rows in (7_001, 70_001):  # enough rows for several blocks, the last one short
        X = rng.normal(size=(n_rows, n_features)).astype(dtype)
        covariances = np.stack([np.eye(n_features) * s for s in (0.5, 1.0, 2.0)])
        weights = np.array([0.3, 0.3, 0.3, 0.1] if log_vinv is not None else [0.3, 0.3, 0.4])
        params = (
            weights, rng.normal(size=(n_components, n_features)), covariances,
            model.precision_cholesky(covariances, weights[:n_components]),
            np.array([4.0, 7.0, 12.0]),
        )  # fmt: skip
        block = BlockPass(model.layout, params, np.zeros(n_features), dtype,
                          family=get_family(family), log_vinv=log_vinv)  # fmt: skip
        slices = row_blocks(n_rows, block.n_columns + n_components, dtype)
        if len(slices) > 2:
            break
    assert len(slices) > 2 and slices[-1].stop - slices[-1].start < slices[0].stop
    row_weights = rng.integers(0, 3, size=len(X)).astype(float)
    whole = block.packed(X, row_weights)
    by_block = sum(block.packed(X[rows], row_weights[rows]) for rows in slices)
    np.testing.assert_allclose(whole, by_block, rtol=1e-12, atol=1e-9)
    assert np.isfinite(whole).all()


# ---------------------------------------------------------------- choosing an engine
def test_select_engine_takes_compiled_runs_for_small_in_memory_data():
    model = get_covariance_model("full")
    small, large = _data(n_samples=500), _data(n_samples=100_000, seed=1)

    def chosen(X, choice="auto"):
        return select_engine(
            X, np.ones(len(X)), X.mean(0), np.zeros(3), model, 3, np.float64, Workers(1), choice
        )

    assert isinstance(chosen(small), WholeRunEngine)
    assert isinstance(chosen(large), BlockEngine)
    assert isinstance(chosen(small, "blocks"), BlockEngine)
    with pytest.raises(ValueError, match="engine='compiled'.*more than one block"):
        chosen(large, "compiled")
    with pytest.raises(ValueError, match="'engine' parameter"):
        GaussianMixture(2, engine="gpu").fit(small)


def test_dask_data_take_the_block_engine():
    da = pytest.importorskip("dask.array")
    X = da.from_array(_data(n_samples=500), chunks=(100, 3))
    model = get_covariance_model("diag")
    engine = select_engine(
        X, da.ones(500, chunks=100), np.zeros(3), np.zeros(3), model, 3, np.float64, Workers(1)
    )
    assert isinstance(engine, BlockEngine)
    with pytest.raises(ValueError, match="dask array"):
        GaussianMixture(2, engine="compiled").fit(X)


def test_blocks_do_not_depend_on_the_thread_count():
    """The rows are cut by their size alone, so 1 and 8 threads sum the same blocks."""
    X = _data(n_samples=60_000, seed=3)
    fits = []
    for n_threads in (1, 8):
        with threadpool_limits(n_threads):
            model = GaussianMixture(
                3, n_init=1, tol=0.0, max_iter=4, engine="blocks", random_state=0
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fits.append(model.fit(X))
    np.testing.assert_array_equal(fits[0].lower_bounds_, fits[1].lower_bounds_)
    np.testing.assert_array_equal(fits[0].covariances_, fits[1].covariances_)
