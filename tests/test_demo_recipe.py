"""A first run that learns (issue 16, item 5): ``pneumo train demo`` on ``pneumo data demo``'s default set reaches
test AUC >= 0.9, seeded, in seconds. The study recipes do not (cnn3 3 epochs 64 px: test AUC 0.45)."""

import pytest

pytest.importorskip("torch", reason="needs the training engine")


def test_the_demo_recipe_learns_the_default_demo_set(tmp_path, monkeypatch):
    from training.data.arrays import DataSpec
    from training.data.demo import write_demo
    from training.engine.recipes import load_recipe
    from training.engine.trainer import train
    from training.run.state import read_run

    monkeypatch.setenv("PNEUMO_CACHE", str(tmp_path / "cache"))
    data = write_demo(tmp_path / "demo")  # the default set, as `pneumo data demo DIR` writes it
    run = train(load_recipe("demo", ["seed=0"]), DataSpec(data), tmp_path / "runs", device="cpu")
    test = read_run(run).state.evals["test"]
    assert test["n"] == 20
    assert test["auc"] >= 0.9
