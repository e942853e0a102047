"""The site-shift evaluation of BENCHMARKS.md section 8, as it was pre-registered there, from finished runs.

    python -m training.experiments.shift_study RUN0 RUN1 RUN2 --test ../shared/data/chest_xray/test \\
        --originals ../shared/data/chest_xray/train --copies ../shared/data/chest_xray_224/train --out shift.json

For each run: the threshold rules on validation (plain and centre, with their flat optimum and bootstrap spread)
and the val-only decision between them; row (a), the shipped rule's test figures; rows (b), each adaptation
(a derived run per method, the original untouched) with its test figures, TRANSDUCTIVE; row (c), shift detection
on the test images against validation, and the control (two halves of validation, split by patient); and the
diagnostic of the train originals against their resized copies. Test labels are read once per row and run, here.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from training.core.jsontext import json_text
from training.metrics.bootstrap import bootstrap_cis
from training.metrics.thresholds import choose_threshold, flat_optimum, threshold_spread
from training.run.operating_point import save_threshold
from training.run.predictions import read_predictions

RULES = ("youden", "youden-centre")
KERMANY = {"accuracy": 0.928, "sensitivity": 0.932, "specificity": 0.901, "auc": 0.968}
ADAPTATIONS = {  # row: (pneumo adapt's options, how the row is described)
    "b1 AdaBN": ({"bn": True}, "BatchNorm statistics re-estimated on the test images"),
    "b2 prior by EM": ({"prior": True}, "threshold moved by the test prior estimated by EM after BCTS"),
    "b3 alignment (UPA-style)": ({"align": True}, "test positive rate set to validation's"),
    "b4 prevalence 0.625 (the test split's own, an aggregate of its labels)": (
        {"prevalence": 0.625}, "threshold for the test split's own prevalence"),
}


def split_arrays(run_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [r for r in read_predictions(run_dir) if r["split"] == split]
    return np.array([r["label"] for r in rows], dtype=int), np.array([r["probability"] for r in rows], dtype=float)


def figures(labels, probabilities, threshold: float, n_boot: int = 2000) -> dict:
    """accuracy, sensitivity, specificity, AUC at ``threshold``, each with its stratified bootstrap 95% CI."""
    cis = bootstrap_cis(labels, probabilities, threshold, n_boot=n_boot)
    return {"threshold": float(threshold), **{k: cis[k] for k in ("accuracy", "sensitivity", "specificity", "auc")}}


def rules_on_validation(run_dir: Path) -> dict:
    y, p = split_arrays(run_dir, "val")
    out = {}
    for rule in RULES:
        threshold, how = choose_threshold(rule, y, p)
        out[rule] = {"threshold": threshold, "how": how, "spread_logits": threshold_spread(rule, y, p)}
    flat = flat_optimum(y, p)
    out["flat"] = {"low": flat.low, "high": flat.high, "width_logits": flat.width_logits, "best_j": flat.best}
    return out


def decide_rule(per_run: list[dict]) -> str:
    """The pre-registered, val-only decision: the centre if its mean bootstrap sd is lower than plain Youden's."""
    centre = np.mean([r["youden-centre"]["spread_logits"] for r in per_run])
    plain = np.mean([r["youden"]["spread_logits"] for r in per_run])
    return "youden-centre" if centre < plain else "youden"


def val_halves(run_dir: Path, seed: int = 0):
    """The run's validation split cut in two by patient, at random (the control of row (c))."""
    from training.data.arrays import SplitData
    from training.evaluation.site_shift import load_val

    val = load_val(run_dir)
    patients = sorted({r.patient or r.id for r in val.records})
    random.Random(seed).shuffle(patients)
    first = set(patients[: len(patients) // 2])
    pick = np.array([(r.patient or r.id) in first for r in val.records])
    half = [SplitData([r for r, k in zip(val.records, pick, strict=True) if k == keep], val.images[pick == keep])
            for keep in (True, False)]
    return half[0], half[1]


def shift_rows(run_dir: Path, test: Path) -> dict:
    from training.engine.checkpoint import load_model_from_run
    from training.evaluation.site_shift import detect_shift, model_outputs, shift_tests
    from training.run.operating_point import load_threshold

    result = {"test": detect_shift(run_dir, test)}
    model, config = load_model_from_run(run_dir)
    a, b = val_halves(run_dir)
    recipe = config.get("recipe", {})
    result["control"] = shift_tests(model_outputs(model, a, recipe), model_outputs(model, b, recipe),
                                    load_threshold(run_dir))
    return result


def resize_diagnostic(run_dir: Path, originals: Path, copies: Path) -> dict:
    """Single-view logits of the train originals against their third-party 224-px copies (matched by name)."""
    import torch

    from training.engine.checkpoint import load_model_from_run
    from training.evaluation.predict import load_for_model

    model, config = load_model_from_run(run_dir)
    recipe = config.get("recipe", {})
    size, fit = int(recipe.get("image_size", 200)), recipe.get("fit", "squash")
    copy_of = {p.name.lower(): p for p in Path(copies).rglob("*") if p.is_file()}
    pairs = [(p, copy_of[p.name.lower()]) for p in sorted(Path(originals).rglob("*.jpeg")) if p.name.lower() in copy_of]
    logits = []
    with torch.inference_mode():
        for original, copy in pairs:
            batch = np.stack([load_for_model(original, size, fit), load_for_model(copy, size, fit)])
            x = torch.from_numpy(batch).float().div(255).unsqueeze(1)
            logits.append(model(x).float().numpy())
    z = np.array(logits)
    diff = z[:, 0] - z[:, 1]
    return {"n_pairs": len(pairs), "mean_difference": float(diff.mean()), "mean_abs_difference": float(
        np.abs(diff).mean()), "correlation": float(np.corrcoef(z[:, 0], z[:, 1])[0, 1]),
        "mean_logit_originals": float(z[:, 0].mean()), "mean_logit_copies": float(z[:, 1].mean())}


def study(runs: list[Path], test: Path, originals: Path | None = None, copies: Path | None = None) -> dict:
    from training.evaluation.site_shift import adapt_run
    from training.run.operating_point import load_threshold

    validation = [rules_on_validation(r) for r in runs]
    rule = decide_rule(validation)
    report = {"rule_decided_on_validation": rule, "runs": []}
    for run_dir, val in zip(runs, validation, strict=True):
        yv, pv = split_arrays(run_dir, "val")
        threshold, how = choose_threshold(rule, yv, pv)
        save_threshold(run_dir, threshold, how, rule=rule)  # what `pneumo threshold --youden [--centre]` saves
        y, p = split_arrays(run_dir, "test")  # the test labels: read here, once for each row below
        entry = {"run": run_dir.name, "validation": val, "a": figures(y, p, threshold),
                 "at_0_5": figures(y, p, 0.5), "youden_plain": figures(y, p, val["youden"]["threshold"]), "b": {}}
        for row, (options, _) in ADAPTATIONS.items():
            derived = adapt_run(run_dir, test, **options)
            yd, pd = split_arrays(derived, "test")
            entry["b"][row] = {"run": derived.name, **figures(yd, pd, load_threshold(derived))}
        entry["c"] = shift_rows(run_dir, test)
        if originals and copies:
            entry["diagnostic"] = resize_diagnostic(run_dir, originals, copies)
        report["runs"].append(entry)
    report["mean"] = _means(report["runs"])
    return report


def _means(runs: list[dict]) -> dict:
    def mean_of(pick) -> dict:
        rows = [pick(r) for r in runs]
        return {k: {"mean": float(np.mean([x[k]["value"] for x in rows])),
                    "sd": float(np.std([x[k]["value"] for x in rows], ddof=1)) if len(rows) > 1 else 0.0}
                for k in ("accuracy", "sensitivity", "specificity", "auc")}

    out = {"a": mean_of(lambda r: r["a"]), "at_0_5": mean_of(lambda r: r["at_0_5"]),
           "youden_plain": mean_of(lambda r: r["youden_plain"])}
    for row in ADAPTATIONS:
        out[row] = mean_of(lambda r, row=row: r["b"][row])
    return out


def beats_kermany(mean: dict) -> bool:
    return all(mean[k]["mean"] > KERMANY[k] for k in KERMANY)


def table(report: dict) -> str:
    """The rows as a Markdown table (mean +- sd over the runs, percentages)."""
    def cells(m: dict) -> str:
        return " | ".join(f"{100 * m[k]['mean']:.1f} +- {100 * m[k]['sd']:.1f}" if k != "auc" else
                          f"{m[k]['mean']:.3f} +- {m[k]['sd']:.3f}" for k in ("accuracy", "sensitivity",
                                                                             "specificity", "auc"))
    mean = report["mean"]
    lines = ["| row | accuracy % | sensitivity % | specificity % | AUC | beats Kermany on all four |",
             "|---|---|---|---|---|---|",
             f"| (a) {report['rule_decided_on_validation']} on val, inductive | {cells(mean['a'])} | "
             f"{'yes' if beats_kermany(mean['a']) else 'no'} |",
             f"| plain youden on val (the `best` before this issue) | {cells(mean['youden_plain'])} | "
             f"{'yes' if beats_kermany(mean['youden_plain']) else 'no'} |",
             f"| threshold 0.5 | {cells(mean['at_0_5'])} | {'yes' if beats_kermany(mean['at_0_5']) else 'no'} |"]
    for row in ADAPTATIONS:
        lines.append(f"| (b) {row}, **transductive** | {cells(mean[row])} | "
                     f"{'yes' if beats_kermany(mean[row]) else 'no'} |")
    lines.append("| Kermany 2018, InceptionV3, ImageNet-pretrained | 92.8 | 93.2 | 90.1 | 0.968 | - |")
    lines.append("| Siddiqi 2019, from scratch | 94.4 | 99 | 86 | - | - |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--originals", type=Path)
    parser.add_argument("--copies", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    report = study(args.runs, args.test, args.originals, args.copies)
    if args.out:
        args.out.write_text(json_text(report) + "\n")
    print(table(report))
    for entry in report["runs"]:
        c = entry["c"]
        print(f"{entry['run']}: shift on test {c['test']['shifted']} (p {c['test']['p_value']:.2g}, domain AUC "
              f"{c['test']['domain_auc']:.3f}); control {c['control']['shifted']} (p {c['control']['p_value']:.2g}, "
              f"domain AUC {c['control']['domain_auc']:.3f})"
              + (f"; originals vs copies: {json.dumps(entry['diagnostic'])}" if "diagnostic" in entry else ""))


if __name__ == "__main__":
    main()
