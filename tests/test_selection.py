"""Model selection: criteria against scikit-learn, degenerate fits never chosen, errors."""

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from bayesgmm import GaussianMixture
from bayesgmm.bayes.progress import DelayedProgress
from bayesgmm.datasets import load_seed_example, make_mixture
from bayesgmm.selection import SelectionResult, select

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


@pytest.fixture(scope="module")
def seed_selection():
    X, labels = load_seed_example(return_labels=True)
    return X, select(X, n_components=range(1, 6), covariance_types=COVARIANCE_TYPES, random_state=0)


def test_seed_example_selects_four_tied_components(seed_selection):
    """The seed example is four blobs stretched by one linear map: K=4 with a tied covariance."""
    _, selection = seed_selection
    assert selection.best_params_ == {"covariance_type": "tied", "n_components": 4}
    assert isinstance(selection.best_, GaussianMixture)
    assert selection.best_.n_components == 4
    assert selection.table.shape[0] == 5 * 4


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_table_criteria_match_scikit_learn(seed_selection, covariance_type):
    """BIC/AIC in the table equal scikit-learn's on the same parameters (independent code)."""
    X, selection = seed_selection
    table = selection.table.set_index(["covariance_type", "n_components"])
    for k in (1, 3):
        ours = selection.estimators_[(covariance_type, k)]
        sk = SkGaussianMixture(k, covariance_type=covariance_type)
        sk.weights_, sk.means_, sk.covariances_ = ours.weights_, ours.means_, ours.covariances_
        sk.precisions_cholesky_ = ours.precisions_cholesky_
        row = table.loc[(covariance_type, k)]
        assert row["bic"] == pytest.approx(sk.bic(X), rel=1e-10)
        assert row["aic"] == pytest.approx(sk.aic(X), rel=1e-10)
        assert row["n_parameters"] == sk._n_parameters()


def test_icl_is_bic_plus_entropy_and_never_below(seed_selection):
    _, selection = seed_selection
    table = selection.table
    assert (table["icl"] >= table["bic"] - 1e-9).all()
    one = table[table["n_components"] == 1]
    np.testing.assert_allclose(one["icl"], one["bic"])  # one component: no entropy


@pytest.mark.parametrize("criterion", ["bic", "aic", "icl"])
def test_best_is_the_argmin_of_the_criterion(criterion):
    X = make_mixture(150, 3, 2, random_state=1).X
    selection = select(
        X,
        n_components=range(1, 4),
        covariance_types=("full", "diag"),
        criterion=criterion,
        estimator_params={"n_init": 2},
    )
    table = selection.table
    best = table.loc[table[criterion].idxmin()]
    assert selection.best_params_ == {
        "covariance_type": best["covariance_type"],
        "n_components": int(best["n_components"]),
    }
    assert selection.criterion == criterion
    assert table["best"].sum() == 1


def test_ranking_re_ranks_without_refitting(seed_selection):
    _, selection = seed_selection
    for criterion in ("bic", "aic", "icl"):
        ranking = selection.ranking(criterion)
        assert ranking[criterion].is_monotonic_increasing
        assert ranking["rank"].tolist() == list(range(len(ranking)))
    assert selection.criterion == "bic"  # the selection itself is unchanged


def _data_with_a_collapsing_component():
    rng = np.random.default_rng(0)
    spread = rng.normal(size=(200, 2)) * [1.0, 3.0]
    stack = np.tile([[4.0, 4.0]], (40, 1))  # 40 identical rows: a component collapses here
    return np.concatenate([spread, stack])


def test_degenerate_fits_are_marked_and_never_chosen():
    X = _data_with_a_collapsing_component()
    selection = select(
        X, n_components=[1, 2], covariance_types="full", estimator_params={"n_init": 2}
    )
    table = selection.table
    degenerate = table[table["degenerate"]]
    assert len(degenerate) >= 1
    assert degenerate["rank"].isna().all()
    assert not degenerate["best"].any()
    assert (degenerate["note"].str.len() > 0).all()
    # a degenerate fit has an unbounded likelihood: its BIC is the lowest of all, yet not chosen
    assert degenerate["bic"].min() < table.loc[table["best"], "bic"].iloc[0]
    best = selection.best_
    assert not best.result_.degenerate


def test_failed_candidates_are_recorded_not_raised():
    X = np.random.default_rng(0).normal(size=(6, 2))
    selection = select(X, n_components=[1, 2, 8], covariance_types="diag")
    row = selection.table.set_index("n_components").loc[8]
    assert row["failed"] and "n_components" in row["note"]
    assert ("diag", 8) not in selection.estimators_
    assert selection.best_params_["n_components"] in (1, 2)


def test_select_progress_goes_to_stderr_when_asked(capsys):
    X = make_mixture(100, 2, 2, random_state=0).X
    select(X, n_components=[1, 2], covariance_types="full", progress=True)
    err = capsys.readouterr().err
    assert "select" in err and "2/2" in err


def test_select_progress_by_default_is_silent_outside_interactive_sessions(capsys):
    """The default (None) shows a bar only where a person watches: not under pytest."""
    X = make_mixture(100, 2, 2, random_state=0).X
    select(X, n_components=[1, 2], covariance_types="full")
    assert capsys.readouterr().err == ""


def test_delayed_progress_draws_nothing_before_its_delay(capsys):
    with DelayedProgress(2, "select", enabled=True, delay=3600.0) as bar:
        bar.advance("full K=1")
        bar.advance("full K=2")
    assert bar.completed == 2 and capsys.readouterr().err == ""


def test_progress_option_must_be_a_bool_or_none():
    with pytest.raises(TypeError, match="progress must be True, False or None"):
        select(make_mixture(50, 1, 1, random_state=0).X, n_components=[1], progress="yes")


def test_repr_names_the_best(seed_selection):
    _, selection = seed_selection
    assert "best='tied' with 4 components" in repr(selection)
    assert isinstance(selection, SelectionResult)


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"criterion": "xyz"}, ValueError, "criterion"),
        ({"criterion": "loo"}, ValueError, "Bayesian fits"),
        ({"covariance_types": ("full", "round")}, ValueError, "covariance_types"),
        ({"n_components": [0, 1]}, ValueError, "n_components"),
        ({"n_components": []}, ValueError, "empty"),
        ({"method": "gibbs"}, ValueError, "method"),
        ({"estimator_params": {"n_components": 3}}, ValueError, "estimator_params"),
        ({"n_components": 2.5}, TypeError, "n_components"),
    ],
)
def test_bad_options_raise_clear_errors(kwargs, error, text):
    X = make_mixture(50, 2, 2, random_state=0).X
    with pytest.raises(error, match=text):
        select(X, **kwargs)


def test_bad_data_raises_before_any_fit():
    with pytest.raises(ValueError, match="NaN"):
        select(np.array([[1.0, np.nan], [2.0, 3.0], [0.0, 1.0]]))


class _FakeBayesFit:
    def __init__(self, result):
        self.result_ = result


@pytest.mark.filterwarnings("ignore:Estimated shape parameter:UserWarning")
def test_bayesian_candidates_are_ranked_by_loo(monkeypatch):
    """The LOO path of select, with stand-in posteriors instead of a sampler."""
    import arviz as az
    from bayes_fakes import fake_posterior_result

    import bayesgmm.selection as selection_module

    truth = make_mixture(80, 2, 1, separation=10.0, random_state=4)
    X = truth.X
    fits = {}
    for k in (1, 2):
        em = GaussianMixture(k, random_state=0).fit(X)
        fits[k] = _FakeBayesFit(
            fake_posterior_result(em.weights_, em.means_, em.covariances_, X, draws=40)
        )

    def fake_fit_one(X, n_components, covariance_type, method, *rest):
        assert method == "advi"
        return fits[n_components], [], None

    monkeypatch.setattr(selection_module, "_fit_one", fake_fit_one)
    selection = select(X, n_components=[1, 2], covariance_types="full", method="advi")
    assert selection.criterion == "loo"
    table = selection.table.set_index("n_components")
    for k in (1, 2):
        expected = az.loo(fits[k].result_.posterior)
        assert table.loc[k, "elpd_loo"] == pytest.approx(expected["elpd_loo"])
        assert table.loc[k, "se"] == pytest.approx(expected["se"])
    assert selection.best_params_["n_components"] == 2  # two separated clusters
    assert table.loc[2, "elpd_diff"] == 0 and table.loc[1, "elpd_diff"] > 0
    assert selection.ranking()["elpd_loo"].is_monotonic_decreasing
    assert "elpd_loo" in repr(selection)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_select_with_advi_fits_prefers_the_true_number_of_components():
    truth = make_mixture(150, 2, 2, separation=10.0, random_state=7)
    selection = select(
        truth.X,
        n_components=[1, 2],
        covariance_types="full",
        method="advi",
        estimator_params={"draws": 100, "chains": 2, "advi_max_iter": 5000},
    )
    assert selection.criterion == "loo"
    assert selection.best_params_["n_components"] == 2
    assert selection.table["elpd_loo"].notna().all()
