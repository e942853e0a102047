"""pneumo review / compare / threshold, headless."""

import csv
import json

import numpy as np
import pytest
from review_fixtures import write_run
from typer.testing import CliRunner

from pneumo_tui.cli import app
from training.metrics.binary import binary_metrics
from training.metrics.significance import delong, mcnemar
from training.metrics.thresholds import threshold_for_sensitivity, youden
from training.run.operating_point import load_threshold, save_threshold
from training.run.predictions import read_predictions
from training.run.review_notes import ReviewNotes

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _expected_errors(run_dir, split="test"):
    thr = load_threshold(run_dir)
    return {r["id"]: ("FN" if r["label"] else "FP") for r in read_predictions(run_dir)
            if r["split"] == split and (r["probability"] >= thr) != bool(r["label"])}


def test_review_json_lists_exactly_the_misclassified(tmp_path):
    run = write_run(tmp_path / "run-a")
    rows = [r for r in read_predictions(run) if r["split"] == "test"]
    # a threshold equal to one probability: ">=" must count that case as positive
    save_threshold(run, rows[0]["probability"], "manual")
    ReviewNotes(run).set(next(iter(_expected_errors(run))), "label doubtful", "faint opacity?")
    result = invoke("review", run, "--json")
    assert result.exit_code == 0, result.output
    cases = json.loads(result.stdout)
    expected = _expected_errors(run)
    assert expected and len(expected) < len(rows)
    assert {c["id"]: c["kind"] for c in cases} == expected
    assert all({"id", "path", "label", "probability", "kind", "verdict", "note"} <= set(c) for c in cases)
    noted = [c for c in cases if c["verdict"]]
    assert [(c["verdict"], c["note"]) for c in noted] == [("label doubtful", "faint opacity?")]
    thr = load_threshold(run)  # most confident call first: farthest from the threshold, relative to its side
    confidences = [(c["probability"] - thr) / (1 - thr) if c["kind"] == "FP" else (thr - c["probability"]) / thr
                   for c in cases]
    assert confidences == sorted(confidences, reverse=True)


def test_review_table_all_and_export(tmp_path):
    run = write_run(tmp_path / "run-a")
    out = tmp_path / "notes.csv"
    result = invoke("review", run, "--all", "--export", out)
    assert result.exit_code == 0, result.output
    assert "FN (missed pneumonia)" in result.stdout
    exported = list(csv.DictReader(open(out, newline="")))
    assert len(exported) == 60 and {r["kind"] for r in exported} == {"TP", "TN", "FP", "FN"}
    val = json.loads(invoke("review", run, "--json", "--split", "val").stdout)
    assert set(c["id"] for c in val) == set(_expected_errors(run, "val"))


def test_review_bad_input_is_one_line(tmp_path):
    result = invoke("review", tmp_path / "nope")
    assert result.exit_code == 1 and "error: no run named" in result.output and "Traceback" not in result.output
    run = write_run(tmp_path / "run-a")
    (run / "predictions.csv").unlink()
    result = invoke("review", run)
    assert result.exit_code == 1 and "no predictions.csv yet" in result.output
    run = write_run(tmp_path / "run-b", n_test=0)
    result = invoke("review", run)
    assert result.exit_code == 1 and "no test rows" in result.output
    run = write_run(tmp_path / "run-c")
    text = (run / "predictions.csv").read_text().splitlines()
    bad = next(i for i, line in enumerate(text) if ",test," in line)
    text[bad] = text[bad].replace(",test,1,", ",test,yes,").replace(",test,0,", ",test,no,")
    (run / "predictions.csv").write_text("\n".join(text) + "\n")
    result = invoke("review", run)
    assert result.exit_code == 1 and "malformed predictions.csv" in result.output and "Traceback" not in result.output


def test_threshold_is_chosen_on_validation_only(tmp_path):
    run = write_run(tmp_path / "run-a")
    rows = read_predictions(run)
    val = [r for r in rows if r["split"] == "val"]
    labels, probs = [r["label"] for r in val], [r["probability"] for r in val]
    # make the test rows very different: a choice made on them would move
    assert invoke("threshold", run, "--youden").exit_code == 0
    assert load_threshold(run) == pytest.approx(youden(labels, probs))
    saved = json.loads((run / "threshold.json").read_text())
    assert saved["how"] == "youden on val"

    result = invoke("threshold", run, "--sensitivity", "0.9")
    assert result.exit_code == 0, result.output
    thr = load_threshold(run)
    assert thr == pytest.approx(threshold_for_sensitivity(labels, probs, 0.9))
    assert binary_metrics(labels, probs, thr)["sensitivity"] >= 0.9
    assert invoke("threshold", run, "--value", "0.42").exit_code == 0 and load_threshold(run) == 0.42
    shown = invoke("threshold", run)
    assert "threshold 0.4200" in shown.stdout and load_threshold(run) == 0.42
    both = invoke("threshold", run, "--youden", "--value", "0.3")
    assert both.exit_code == 1 and "choose one" in both.output


def test_an_operating_point_says_what_it_stands_on_and_warns_when_that_is_little(tmp_path):
    # Youden chosen on 10 demo val images was shown with no word of how little it stands on.
    small = write_run(tmp_path / "small", n_val=10, images=False)
    shown = invoke("threshold", small, "--youden").stdout
    assert "on 10 validation images (" in shown and "(95% Wilson)" in shown
    assert "warning: this operating point stands on only 10 images" in shown and "at least 100" in shown
    big = write_run(tmp_path / "big", n_val=400, images=False)
    assert "warning" not in invoke("threshold", big, "--youden").stdout
    default = invoke("threshold", write_run(tmp_path / "plain", images=False)).stdout
    assert default.startswith("threshold 0.5000 (the default: no operating point chosen yet)")


def test_wilson_intervals_match_scipy():
    from scipy.stats import binomtest

    from training.metrics.thresholds import wilson_interval

    for k, n in ((0, 1), (13, 14), (7, 28), (390, 390), (5, 234)):
        reference = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((reference.low, reference.high), abs=1e-9)
    assert wilson_interval(0, 0) == (None, None)


def test_compare_matches_by_id(tmp_path):
    a = write_run(tmp_path / "run-a", seed=1)
    b = write_run(tmp_path / "run-b", seed=2, separation=0.5, shuffle=True)
    save_threshold(b, 0.4, "manual")
    result = invoke("compare", a, b, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    test_a = {r["id"]: r for r in read_predictions(a) if r["split"] == "test"}
    test_b = {r["id"]: r for r in read_predictions(b) if r["split"] == "test"}
    ids = sorted(test_a)
    labels = np.array([test_a[i]["label"] for i in ids])
    pa = np.array([test_a[i]["probability"] for i in ids])
    pb = np.array([test_b[i]["probability"] for i in ids])
    assert out["n_matched"] == 60
    assert out["delong"]["p_value"] == pytest.approx(delong(labels, pa, pb)["p_value"])
    expected = mcnemar((pa >= 0.5) == labels, (pb >= 0.4) == labels)
    assert out["mcnemar"]["a_right_b_wrong"] == expected["a_right_b_wrong"]
    assert out["mcnemar"]["p_value"] == pytest.approx(expected["p_value"])
    text = invoke("compare", a, b)
    assert "McNemar" in text.stdout and "DeLong" in text.stdout
    # The conclusion for these two runs, in words, with their own p values (not a template).
    last = text.stdout.strip().splitlines()[-2:]
    assert last[1] == (f"AUC differs: p = {out['delong']['p_value']:.4g} < 0.05; A ranks the cases better "
                       f"(AUC {out['delong']['auc_a']:.4f} vs {out['delong']['auc_b']:.4f}).")
    accuracy = out["mcnemar"]
    verdict = "Accuracy differs" if accuracy["p_value"] < 0.05 else "No evidence of a difference in accuracy"
    assert last[0].startswith(verdict) and f"p = {accuracy['p_value']:.4g}" in last[0]
    assert "otherwise" not in text.stdout


def test_compare_says_when_the_images_cannot_tell_two_runs_apart(tmp_path):
    from training.evaluation.compare import conclusions

    a = write_run(tmp_path / "run-a", seed=1, images=False)
    same = invoke("compare", a, a).stdout.strip().splitlines()[-2:]
    assert same == ["No evidence of a difference in accuracy: A and B are right and wrong on the same 60 images "
                    "(p = 1).", "No evidence of a difference in AUC on these 60 images (p = 1 >= 0.05)."]
    close = {"n_matched": 60, "mcnemar": {"p_value": 0.41, "accuracy_a": 0.8, "accuracy_b": 0.78,
                                          "a_right_b_wrong": 5, "b_right_a_wrong": 4},
             "delong": {"p_value": 0.003, "auc_a": 0.91, "auc_b": 0.95}}
    assert conclusions(close) == [
        "No evidence of a difference in accuracy on these 60 images (p = 0.41 >= 0.05).",
        "AUC differs: p = 0.003 < 0.05; B ranks the cases better (AUC 0.9100 vs 0.9500).",
    ]


def test_compare_matches_the_same_film_under_either_id_prefix(tmp_path):
    # An older run given ROOT/test stored NORMAL/x; a run given the Kermany root stores test/NORMAL/x.
    a = write_run(tmp_path / "run-a", seed=1, images=False)
    b = write_run(tmp_path / "run-b", seed=2, images=False)
    (b / "predictions.csv").write_text((b / "predictions.csv").read_text().replace("test/NORMAL/", "NORMAL/")
                                       .replace("test/PNEUMONIA/", "pneumonia/"))
    result = invoke("compare", a, b, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_matched"] == 60


def test_compare_refuses_runs_on_different_images(tmp_path):
    a = write_run(tmp_path / "run-a", images=False)
    b = write_run(tmp_path / "run-b", images=False)
    text = (b / "predictions.csv").read_text().replace("case-", "other-")
    (b / "predictions.csv").write_text(text)
    result = invoke("compare", a, b)
    assert result.exit_code == 1 and "share no test images" in result.output


def test_review_json_on_a_trained_run(tmp_path, monkeypatch):
    """A real tiny run: `pneumo train` on the demo set, then review at a threshold chosen on val."""
    from training.data.demo import write_demo

    monkeypatch.chdir(tmp_path)
    write_demo(tmp_path / "demo", per_class=24, size=48)
    trained = invoke("train", "cnn1", "--data", "demo", "--epochs", "2", "--image-size", "32", "--out", "runs")
    assert trained.exit_code == 0, trained.output
    (run,) = (tmp_path / "runs").iterdir()
    assert invoke("threshold", run, "--youden").exit_code == 0
    thr = load_threshold(run)
    result = invoke("review", run.name, "--json", "--runs-dir", "runs")
    assert result.exit_code == 0, result.output
    cases = json.loads(result.stdout)
    assert {c["id"]: c["kind"] for c in cases} == _expected_errors(run)
    everything = json.loads(invoke("review", run, "--json", "--all").stdout)
    test_rows = [r for r in read_predictions(run) if r["split"] == "test"]
    assert len(everything) == len(test_rows)
    assert all((c["probability"] >= thr) == (c["kind"] in ("TP", "FP")) for c in everything)
    report = invoke("report", run, "--out", tmp_path / "report", "--n-boot", "200")
    assert report.exit_code == 0, report.output
    text = (tmp_path / "report" / "report.md").read_text()
    assert "checkpoint of epoch" in text and "SYNTHETIC DATA" in text
    # the images of a real run load (paths in predictions.csv are relative to where training ran)
    from training.evaluation.review_cases import CaseImages

    monkeypatch.chdir("/")
    pixels = CaseImages(run).load(everything[0])
    assert pixels.ndim == 2 and pixels.dtype.name == "uint8"


def test_confidence_is_measured_from_the_threshold():
    from training.evaluation.review_cases import confidence, kind_of

    assert confidence({"probability": 0.25}, 0.2) == pytest.approx(0.0625)  # called positive, only just
    assert confidence({"probability": 0.1}, 0.2) == pytest.approx(0.5)
    assert confidence({"probability": 1.0}, 0.2) == confidence({"probability": 0.0}, 0.2) == 1.0
    assert [kind_of(1, 0.2, 0.2), kind_of(1, 0.19, 0.2), kind_of(0, 0.2, 0.2), kind_of(0, 0.1, 0.2)] == [
        "TP", "FN", "FP", "TN"]


def test_a_site_sample_sets_the_threshold_and_the_runs_own_data_is_refused(tmp_path, monkeypatch):
    """`pneumo threshold RUN --youden --on SITE`: chosen on a labelled sample new to the run,
    never on its test split."""
    import shutil

    from training.data.demo import write_demo
    from training.evaluation.predict import predict_images

    monkeypatch.chdir(tmp_path)
    write_demo(tmp_path / "demo", per_class=24, size=48)
    assert invoke("train", "cnn1", "--data", "demo", "--epochs", "2", "--image-size", "32",
                  "--out", "runs").exit_code == 0
    (run,) = (tmp_path / "runs").iterdir()
    # another site's films: 8 a class, so their patient numbers (1..8) stay below the run's test patients'
    site = write_demo(tmp_path / "site", per_class=8, size=56, seed=5) / "train"

    result = invoke("threshold", run, "--youden", "--on", site)
    assert result.exit_code == 0, result.output
    paths = sorted(site.glob("*/*.jpeg"))
    labels = [int(p.parent.name == "PNEUMONIA") for p in paths]
    probabilities = [p.probability for p in predict_images(run, paths)]
    assert load_threshold(run) == pytest.approx(youden(labels, probabilities))
    saved = json.loads((run / "threshold.json").read_text())
    assert saved["how"].startswith("youden on 16 site images") and saved["n_site"] == 16
    assert "on 16 site images (8 NORMAL, 8 PNEUMONIA)" in result.stdout
    assert "warning: this operating point" in result.stdout

    copy_of_test = shutil.copytree(tmp_path / "demo" / "test", tmp_path / "elsewhere")
    # A renamed copy, or links to the test images, used to pass: the threshold was then chosen on test data.
    renamed = shutil.copytree(tmp_path / "demo" / "test", tmp_path / "renamed")
    for i, image in enumerate(sorted(renamed.glob("*/*.jpeg"))):
        image.rename(image.with_name(f"site-{i:03d}.jpeg"))
    linked = tmp_path / "linked"
    for i, image in enumerate(sorted((tmp_path / "demo" / "test").glob("*/*.jpeg"))):
        (linked / image.parent.name).mkdir(parents=True, exist_ok=True)
        (linked / image.parent.name / f"film-{i:03d}.jpeg").symlink_to(image)
    refused = {
        tmp_path / "demo" / "test": "overlaps the run's training data",
        copy_of_test: "file names of this run's test images",
        renamed: "byte for byte images of this run's test split",
        linked: "is a link into the run's training data",
    }
    for folder, why in refused.items():
        result = invoke("threshold", run, "--sensitivity", "0.9", "--on", folder)
        assert result.exit_code == 1 and why in result.output, result.output
    assert json.loads((run / "threshold.json").read_text()) == saved  # a refusal leaves the saved point as it was
    assert f"({saved['how']})" in invoke("threshold", run).stdout  # showing it says where it came from
    no_rule = invoke("threshold", run, "--on", site)
    assert no_rule.exit_code == 1 and "needs a rule" in no_rule.output


@pytest.mark.parametrize("content, words", [('{"threshold": 5, "how": "manual"}', "not 5"),
                                            ('{"threshold": NaN}', "not nan"),
                                            ('{"threshold": "0.3"}', "not '0.3'"),
                                            ("{not json", "not valid JSON")])
def test_a_threshold_file_that_is_not_a_probability_is_refused_naming_it(tmp_path, content, words):
    # threshold 5 was used silently (every case NORMAL, sensitivity 0); others fell back to 0.5 without a word.
    run = write_run(tmp_path / "run", images=False)
    (run / "threshold.json").write_text(content)
    for command in (["eval", str(run)], ["review", str(run)], ["threshold", str(run)]):
        result = invoke(*command)
        assert result.exit_code == 1 and "threshold.json" in result.output and words in result.output, command
        assert "Traceback" not in result.output
    listed = json.loads(invoke("runs", "--runs", str(tmp_path), "--json").stdout)
    assert listed[0]["threshold"] is None and "threshold.json" in listed[0]["threshold_how"]


@pytest.mark.parametrize("value", ["nan", "-3", "5"])
def test_a_threshold_given_on_the_command_line_must_be_a_probability(tmp_path, value):
    run = write_run(tmp_path / "run", images=False)
    for command in (["predict", str(run), str(tmp_path / "x.png"), "--threshold", value],
                    ["eval", str(run), "--threshold", value]):
        result = invoke(*command)
        assert result.exit_code == 1 and "--threshold: the threshold must be a number in [0, 1]" in result.output


def test_threshold_shows_the_flat_optimum_and_the_spread_and_chooses_its_centre(tmp_path):
    run = write_run(tmp_path / "run", n_val=300, separation=4.0, images=False)
    plain = invoke("threshold", run, "--youden").stdout
    assert "flat optimum of youden: within 0.01 of its best from" in plain and "logits wide" in plain
    assert "the threshold youden chooses moves by" in plain
    centred = invoke("threshold", run, "--youden", "--centre")
    assert centred.exit_code == 0 and "(youden-centre on val)" in centred.stdout
    saved = json.loads((run / "threshold.json").read_text())
    assert saved["rule"] == "youden-centre" and saved["flat_low"] <= saved["threshold"] <= saved["flat_high"]
    assert saved["threshold"] == pytest.approx(saved["flat_centre"]) and saved["spread_logits"] > 0
    shown = invoke("threshold", run).stdout  # showing the saved point says the same of it
    assert "(youden-centre on val)" in shown and "the threshold youden-centre chooses moves by" in shown
    assert invoke("threshold", run, "--centre").exit_code == 1  # a centre of what?
