"""``pneumo shift`` and ``pneumo adapt``: a run at a new site, whose films carry no labels."""

from __future__ import annotations

from pathlib import Path

import typer

from training.core.jsontext import json_text

from .errors import user_errors
from .options import RUNS, RUNS_DIR_ALIAS, resolve, runs_folder

ON_OPTION = typer.Option(..., "--on", help="The site's images: a folder (class folders not needed; labels, if any, "
                         "are not read).")


def register(app: typer.Typer) -> None:
    app.command()(shift)
    app.command()(adapt)


def shift(
    run: str = typer.Argument(..., help="Run folder or run id."),
    site: Path = ON_OPTION,
    as_json: bool = typer.Option(False, "--json", help="One JSON object: shifted, p_value, domain_auc, tests, ..."),
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """Is this site's set of films shifted from the run's validation split? Needs no labels.

    Compares the model's scores (KS test on the logits, the positive rate at the run's threshold), the images'
    mean intensity (KS) and the model's penultimate features (a domain classifier's out-of-fold AUC); shifted when
    the smallest p-value, Bonferroni-corrected over the four, is below 0.05.
    """
    from training.evaluation.site_shift import detect_shift

    run_dir = resolve(run, runs_folder(runs_dir, runs_alias))
    with user_errors(FileNotFoundError, ValueError):
        result = detect_shift(run_dir, site)
    if as_json:
        typer.echo(json_text(result))
        return
    tests = result["tests"]
    typer.echo(f"{result['run']} on {result['site']}: {result['n_site']} site images against "
               f"{result['n_reference']} validation images")
    typer.echo(f"  mean logit         site {result['mean_logit']['site']:+.2f}   validation "
               f"{result['mean_logit']['reference']:+.2f}   KS p = {tests['logits_ks']:.2g}")
    typer.echo(f"  positive rate      site {result['positive_rate']['site']:.3f}   validation "
               f"{result['positive_rate']['reference']:.3f}   at threshold {result['threshold']:.3f}, Fisher p = "
               f"{tests['positive_rate']:.2g}")
    typer.echo(f"  mean intensity     site {result['mean_intensity']['site']:.1f}   validation "
               f"{result['mean_intensity']['reference']:.1f}   KS p = {tests['intensity_ks']:.2g}")
    typer.echo(f"  domain classifier  AUC {result['domain_auc']:.3f}   p = {tests['domain_classifier']:.2g}")
    typer.echo(("SHIFTED: " if result["shifted"] else "not shifted: ") + result["verdict"])


def adapt(
    run: str = typer.Argument(..., help="Run folder or run id."),
    site: Path = ON_OPTION,
    bn: bool = typer.Option(False, "--bn", help="AdaBN: re-estimate every BatchNorm's statistics on the site's films."),
    prior: bool = typer.Option(False, "--prior", help="Move the threshold by the site's class prior, estimated by EM "
                               "on posteriors calibrated on validation."),
    align: bool = typer.Option(False, "--align", help="Set the threshold so that the site's positive rate is "
                               "validation's."),
    prevalence: float | None = typer.Option(None, "--prevalence", help="The site's expected share of pneumonia, as "
                                            "the clinician knows it: the threshold is set for it."),
    positive_rate: float | None = typer.Option(None, "--positive-rate", help="The share of films to call positive "
                                               "(a recall rate)."),
    runs_dir: Path = RUNS,
    runs_alias: Path | None = RUNS_DIR_ALIAS,
) -> None:
    """Adapt a run to a site without its labels: a new, derived run; the original is never changed.

    --bn changes the model; --prior, --align, --prevalence and --positive-rate (one of them) move the operating
    point. The derived run records what it used; `pneumo eval` and the app read it like any run.
    """
    from training.evaluation.site_shift import adapt_run

    run_dir = resolve(run, runs_folder(runs_dir, runs_alias))
    with user_errors(FileNotFoundError, ValueError):
        derived = adapt_run(run_dir, site, bn=bn, prior=prior, align=align, prevalence=prevalence,
                            positive_rate=positive_rate, runs_dir=run_dir.parent)
    from training.run.operating_point import load_operating_point
    from training.run.store import load_config

    adapted = load_config(derived)["adapted"]
    point = load_operating_point(derived)
    typer.echo(f"wrote {derived}")
    typer.echo(f"  {', '.join(adapted['methods'])} on {adapted['n_site']} site images; threshold "
               f"{adapted['threshold_from']:.4f} -> {point['threshold']:.4f} ({point['how']})")
    if adapted.get("transductive"):
        typer.echo("  TRANSDUCTIVE: the site is this run's own data (its images were used, their labels were not)")
