"""The bayesgmm command: fit/select/predict/info round trips and clear errors."""

import numpy as np
import pandas as pd
import pytest

from bayesgmm import GaussianMixture, load
from bayesgmm.cli import main
from bayesgmm.datasets import make_mixture


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    truth = make_mixture(120, 2, 2, separation=8.0, random_state=0)
    frame = pd.DataFrame(truth.X, columns=["x", "y"])
    frame["name"] = "row"  # a text column the CLI must ignore
    path = folder / "data.csv"
    frame.to_csv(path, index=False)
    return folder, path, frame[["x", "y"]]


def test_fit_saves_a_model_equal_to_the_library_fit(csv, capsys):
    folder, path, X = csv
    model = folder / "m.nc"
    assert main(["fit", str(path), "-k", "2", "--covariance", "diag", "--out", str(model)]) == 0
    out = capsys.readouterr().out
    assert "BIC" in out and "saved to" in out
    loaded = load(model)
    direct = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    np.testing.assert_allclose(loaded.means.values, direct.means_)
    assert loaded.feature_names == ["x", "y"]


def test_predict_writes_labels_probabilities_and_density(csv, capsys):
    folder, path, X = csv
    model = folder / "p.nc"
    main(["fit", str(path), "-k", "2", "--out", str(model)])
    out_csv = folder / "pred.csv"
    assert main(["predict", str(model), str(path), "--out", str(out_csv)]) == 0
    predictions = pd.read_csv(out_csv)
    fitted = GaussianMixture(2, random_state=0).fit(X)
    assert list(predictions.columns) == ["label", "prob_0", "prob_1", "log_density"]
    np.testing.assert_array_equal(predictions["label"], fitted.predict(X))
    np.testing.assert_allclose(predictions[["prob_0", "prob_1"]], fitted.predict_proba(X))
    np.testing.assert_allclose(predictions["log_density"], fitted.score_samples(X))
    capsys.readouterr()
    assert main(["predict", str(model), str(path)]) == 0  # to standard output
    assert capsys.readouterr().out.startswith("label,prob_0,prob_1,log_density")


def test_info_describes_the_model(csv, capsys):
    folder, path, _ = csv
    model = folder / "i.nc"
    main(["fit", str(path), "-k", "2", "--out", str(model)])
    capsys.readouterr()
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "covariance_type='full'" in out and "features: x, y" in out
    assert "degenerate components: none" in out


def test_select_writes_table_best_model_and_plot(csv, capsys):
    folder, path, _ = csv
    table, best, png = folder / "sel.csv", folder / "best.nc", folder / "sel.png"
    argv = ["select", str(path), "-k", "1-3", "--covariance", "full,spherical", "-q"]
    argv += ["--out", str(table), "--save-best", str(best), "--plot", str(png)]
    assert main(argv) == 0
    frame = pd.read_csv(table)
    assert len(frame) == 6 and frame["best"].sum() == 1
    chosen = frame[frame["best"]].iloc[0]
    assert load(best).n_components == chosen["n_components"]
    assert png.stat().st_size > 10_000
    assert "best:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["fit", "missing.csv"], "no such file"),
        (["fit", "{data}", "--covariance", "round"], "unknown type"),
        (["fit", "{data}", "-k", "two"], "not a number"),
        (["fit", "{data}", "-k", "1-3"], "one number of components"),
        (["fit", "{data}", "--columns", "x,zz"], "no column"),
        (["fit", "{text}"], "no numeric columns"),
        (["fit", "{empty}"], "could not be read"),
        (["select", "{data}", "-k", "0"], ">= 1"),
        (["info", "{data}"], "not a bayesgmm model file"),
        (["predict", "missing.nc", "{data}"], "no such file"),
    ],
)
def test_bad_files_and_options_give_one_line_errors(csv, capsys, argv, text):
    folder, path, _ = csv
    (folder / "text.csv").write_text("a,b\nx,y\nz,w\n")
    (folder / "empty.csv").write_text("")
    files = {"data": path, "text": folder / "text.csv", "empty": folder / "empty.csv"}
    argv = [arg.format(**files) for arg in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err
    assert err.startswith(f"bayesgmm {argv[0]}: error:")


def test_demo_em_only_writes_plots(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--fast", "--method", "none", "--out", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "Model selection by BIC" in text and "best:" in text
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["em_clusters.png", "em_density.png", "em_uncertainty.png", "selection_bic.png"]


@pytest.mark.slow
def test_demo_with_a_bayesian_fit(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--fast", "--method", "advi", "--out", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "EM versus Bayes" in text and "adjusted_rand_index" in text
    for name in ("bayes_posterior_ellipses.png", "bayes_uncertainty.png", "em_vs_bayes.png"):
        assert (out / name).stat().st_size > 10_000


@pytest.mark.slow
def test_fit_advi_saves_a_posterior_that_info_and_predict_read(csv, capsys):
    folder, path, X = csv
    model = folder / "advi.nc"
    argv = ["fit", str(path), "-k", "2", "--method", "advi", "--draws", "100", "--chains", "2"]
    assert main([*argv, "--out", str(model), "-q"]) == 0
    capsys.readouterr()
    assert main(["info", str(model)]) == 0
    assert "posterior:" in capsys.readouterr().out
    out_csv = folder / "advi_pred.csv"
    assert main(["predict", str(model), str(path), "--out", str(out_csv)]) == 0
    predictions = pd.read_csv(out_csv)
    assert {"prob_0_lower", "prob_0_upper", "log_density"} <= set(predictions.columns)
    assert (predictions["prob_0_lower"] <= predictions["prob_0"] + 1e-12).all()
