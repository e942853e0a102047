"""``pneumo review``, ``compare``, ``report`` and ``threshold``: judging a finished run headless."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from training.core.jsontext import json_text
from training.core.tasks import DEFAULT_TASK
from training.run.paths import RunPaths

from ..words import SYNTHETIC_LINE, stability_words, support_words, synthetic_run
from .errors import fail, user_errors
from .options import RUNS, RUNS_DIR_ALIAS, resolve, runs_folder

SPLIT_OPTION = typer.Option("test", "--split", help="Which rows of predictions.csv: test or val.")
_ERRORS = (FileNotFoundError, ValueError, OSError)


def _run(ref: str, runs_dir: Path, alias: Path | None) -> Path:
    return resolve(ref, runs_folder(runs_dir, alias))


def review(
    run: str = typer.Argument(..., help="Run folder or run id."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
    export: Path | None = typer.Option(None, "--export", help="Also write the cases with notes to this CSV."),
    split: str = SPLIT_OPTION,
    include_correct: bool = typer.Option(False, "--all", help="Include correctly classified cases (TP/TN)."),
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """List the misclassified cases (FN/FP) at the run's saved threshold, with review notes."""
    from training.evaluation.review_cases import review_cases
    from training.run.operating_point import load_threshold
    from training.run.review_notes import ReviewNotes
    from training.run.store import run_task

    run_dir = _run(run, runs_dir, runs_alias)
    notes = ReviewNotes(run_dir)
    with user_errors(*_ERRORS):
        threshold = load_threshold(run_dir)
        cases = review_cases(run_dir, split=split, include_correct=include_correct, threshold=threshold, notes=notes)
        if export is not None:
            notes.export_csv(export, cases)
    if notes.problem:
        typer.echo(f"warning: {notes.problem}", err=True)
    if as_json:
        if synthetic_run(run_dir):
            typer.echo(SYNTHETIC_LINE, err=True)  # stdout stays one JSON list
        fields = ("id", "path", "split", "label", "probability", "kind", "verdict", "note", "subtype", "patient")
        typer.echo(json_text([{k: c.get(k) for k in fields} for c in cases]))
    else:
        if synthetic_run(run_dir):
            typer.echo(SYNTHETIC_LINE)
        _print_cases(cases, split, threshold, run_task(run_dir))
    if export is not None:
        typer.echo(f"wrote {len(cases)} cases to {export}", err=True)


def _print_cases(cases: list[dict], split: str, threshold: float, task) -> None:
    fn = sum(c["kind"] == "FN" for c in cases)
    fp = sum(c["kind"] == "FP" for c in cases)
    false_positive = "false alarms"
    if task.name != DEFAULT_TASK:
        typer.echo(f"task {task.name}: {task.question}")
        false_positive = f"{task.negative.lower()} called {task.positive.lower()}"
    typer.echo(f"{split} split, threshold {threshold:.3f}: {fn} FN (missed {task.positive.lower()}), {fp} FP "
               f"({false_positive})")
    if not cases:
        return
    typer.echo(f"{'kind':4}  {'prob':>6}  {'verdict':14}  id / note")
    for c in cases:
        note = f"  - {c['note']}" if c.get("note") else ""
        typer.echo(f"{c['kind']:4}  {c['probability']:6.3f}  {(c.get('verdict') or '-'):14}  {c['id']}{note}")


def compare(
    run_a: str = typer.Argument(..., help="First run (folder or id)."),
    run_b: str = typer.Argument(..., help="Second run (folder or id)."),
    as_json: bool = typer.Option(False, "--json", help="Print the test results as JSON."),
    split: str = SPLIT_OPTION,
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """Compare two runs on the same images: McNemar (accuracy) and DeLong (AUC)."""
    from training.evaluation.compare import compare_runs, format_comparison

    a, b = _run(run_a, runs_dir, runs_alias), _run(run_b, runs_dir, runs_alias)
    with user_errors(*_ERRORS):
        result = compare_runs(a, b, split=split)
    typer.echo(json.dumps(result, indent=2) if as_json else format_comparison(result))


def report(
    run: str = typer.Argument(..., help="Run folder or run id."),
    out: Path = typer.Option(..., "--out", help="Folder for report.md and its PNG figures."),
    split: str = SPLIT_OPTION,
    n_boot: int = typer.Option(2000, "--n-boot", min=100, help="Bootstrap resamples for the intervals."),
    partner: str | None = typer.Option(
        None, "--partner", help="The run of the other task (pneumonia or subtype) on the same data, for the "
        "three-class section (NORMAL / BACTERIAL / VIRAL); by default the newest one beside RUN."),
    no_three_class: bool = typer.Option(False, "--no-three-class", help="Leave the three-class section out."),
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """Write a Markdown report with ROC, PR, confusion matrix and misclassified thumbnails.

    When a finished run of the other task on the same data and the same val/test images sits beside RUN (or is
    given with --partner), the report also combines the two into three classes, NORMAL / BACTERIAL / VIRAL, on
    val and test.
    """
    from training.evaluation.report import write_report
    from training.evaluation.three_class import check_partner, partner_or_why

    if partner is not None and no_three_class:
        fail("--partner and --no-three-class: give one of them")
    run_dir = _run(run, runs_dir, runs_alias)
    partner_dir, why = None, None
    with user_errors(*_ERRORS):
        if no_three_class:
            why = "left out on request (--no-three-class)"
        elif partner is not None:
            partner_dir = _run(partner, runs_dir, runs_alias)
            check_partner(run_dir, partner_dir)
        else:
            partner_dir, why = partner_or_why(run_dir, run_dir.parent)
            why = why or None
        if why:
            typer.echo(f"three classes not shown: {why}", err=True)
        path = write_report(run_dir, out, split=split, n_boot=n_boot, partner=partner_dir, no_partner=why)
    if partner_dir is not None:
        typer.echo(f"three classes: with {partner_dir.name}", err=True)
    typer.echo(f"wrote {path}")


def threshold(
    run: str = typer.Argument(..., help="Run folder or run id."),
    youden: bool = typer.Option(False, "--youden", help="Maximise sensitivity + specificity on validation."),
    sensitivity: float | None = typer.Option(None, "--sensitivity", min=0.0, max=1.0,
                                                help="Highest threshold reaching this sensitivity on validation."),
    centre: bool = typer.Option(False, "--centre", help="With --youden or --sensitivity: the centre (in logits) of "
                                "the thresholds within 0.01 of the rule's best, not the edge the plain rule takes."),
    value: float | None = typer.Option(None, "--value", min=0.0, max=1.0, help="Set this threshold directly."),
    site: Path | None = typer.Option(
        None, "--on", help="Choose on this labelled folder (NORMAL/, PNEUMONIA/) of films from the site where the "
        "model will be used, instead of on validation. Never the run's training or test data."),
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """Show, or choose and save, the run's operating point.

    Chosen on the validation rows, or on a labelled sample of a site's films with --on. Shows where the rule's
    optimum is flat (the thresholds within 0.01 of its best, and how wide that is in logits), and how far the
    choice moves over bootstrap resamples of the images it was chosen on.
    """
    from training.evaluation.review_cases import labels_and_probabilities, load_rows, split_rows
    from training.metrics.binary import binary_metrics
    from training.metrics.thresholds import choose_threshold, operating_point_support, rule_stability
    from training.run.operating_point import load_operating_point, save_threshold, saved_rule
    from training.run.store import run_task

    if sum((youden, sensitivity is not None, value is not None)) > 1:
        fail("choose one of --youden, --sensitivity X, --value T")
    if centre and not (youden or sensitivity is not None):
        fail("--centre goes with a rule: --youden or --sensitivity X")
    rule = ("youden" if youden else f"sensitivity>={sensitivity:g}" if sensitivity is not None else None)
    rule = f"{rule}-centre" if rule and centre else rule
    run_dir = _run(run, runs_dir, runs_alias)
    if site is not None:
        if rule is None:
            fail("--on needs a rule to apply there: --youden or --sensitivity X")
        _threshold_on_site(run_dir, site, rule)
        return
    with user_errors(*_ERRORS):
        labels, probs = labels_and_probabilities(split_rows(load_rows(run_dir), "val"))
        if rule is not None:
            chosen, how = choose_threshold(rule, labels, probs)
        elif value is not None:
            chosen, how = value, "manual"
        else:
            saved = load_operating_point(run_dir)
            chosen, how, rule = saved["threshold"], None, saved_rule(run_dir)
    metrics = binary_metrics(labels, probs, chosen)
    support = operating_point_support(labels, probs, chosen, run_task(run_dir).classes)
    stability = rule_stability(rule or "youden", labels, probs)
    if how is not None:
        save_threshold(run_dir, chosen, how, val_sensitivity=metrics["sensitivity"],
                       val_specificity=metrics["specificity"], n_val=support["n"], rule=rule or "manual",
                       **stability)
        typer.echo(f"saved threshold {chosen:.4f} ({how}) to {RunPaths(run_dir).threshold}")
    else:
        typer.echo(f"threshold {chosen:.4f} ({saved['how']})")
    _print_support("validation", support, metrics)
    _print_stability(stability, rule)


def _print_stability(stability: dict, rule: str | None) -> None:
    for line in stability_words(stability, rule):
        typer.echo(line)


def _print_support(where: str, support: dict, metrics: dict) -> None:
    """The images an operating point stands on, its figures there with 95% intervals, and a warning if too few."""
    stands_on, warning = support_words(where, support)
    typer.echo(f"{stands_on}, "
               + ", ".join(f"{k} {metrics[k]:.3f}" for k in ("precision", "npv", "accuracy") if metrics[k] is not None))
    if warning:
        typer.echo(warning)


def _threshold_on_site(run_dir: Path, folder: Path, rule: str) -> None:
    from training.data.records import DataError
    from training.evaluation.site_calibration import choose_site_threshold
    from training.metrics.binary import binary_metrics
    from training.metrics.thresholds import operating_point_support
    from training.run.operating_point import save_threshold
    from training.run.store import run_task

    with user_errors(DataError, *_ERRORS):
        site = choose_site_threshold(run_dir, folder, rule)
    for path, why in site.skipped:
        typer.echo(f"skipped {path}: {why}")
    metrics = binary_metrics(site.labels, site.probabilities, site.threshold)
    save_threshold(run_dir, site.threshold, site.how, n_site=len(site.labels),
                   site_sensitivity=metrics["sensitivity"], site_specificity=metrics["specificity"])
    typer.echo(f"saved threshold {site.threshold:.4f} ({site.how}) to {RunPaths(run_dir).threshold}")
    _print_support("site", operating_point_support(site.labels, site.probabilities, site.threshold,
                                                   run_task(run_dir).classes), metrics)


def register(app: typer.Typer) -> None:
    app.command()(review)
    app.command()(compare)
    app.command()(report)
    app.command()(threshold)
