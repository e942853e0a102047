"""The words the CLI and the app both show, written once so they cannot drift apart."""

from __future__ import annotations

from pathlib import Path

SYNTHETIC_LINE = "SYNTHETIC data: drawn shapes, not radiographs; no figure here says anything about X-rays"


def synthetic_run(run_dir: Path) -> bool:
    """The run was trained on the SYNTHETIC demo set (its config says so)."""
    from training.run.store import load_config

    data = load_config(run_dir).get("data")
    return isinstance(data, dict) and data.get("synthetic") is True


def support_words(where: str, support: dict) -> tuple[str, str | None]:
    """``(stands_on, warning)``: the images an operating point stands on with its sensitivity and specificity there
    (95% Wilson intervals), and the warning line when they are too few (None otherwise). ``pneumo threshold``
    prints them; the app's Evaluation screen shows the same words."""
    def interval(name: str) -> str:
        f = support[name]
        return "-" if f["value"] is None else f"{f['value']:.3f} [{f['low']:.3f}, {f['high']:.3f}]"

    negative, positive = support["classes"]  # the task's, as operating_point_support gives them
    stands_on = (f"on {support['n']} {where} images ({support['n_negative']} {negative}, {support['n_positive']} "
                 f"{positive}): sensitivity {interval('sensitivity')}, specificity {interval('specificity')} "
                 "(95% Wilson)")
    return stands_on, (f"warning: {support['warning']}" if support["warning"] else None)


def stability_words(stability: dict, rule: str | None) -> list[str]:
    """Where the rule's optimum is flat and how far its choice moves over bootstrap resamples (the report's words)."""
    from training.run.operating_point import stability_words as words  # lazy: numpy stays out of `pneumo --help`

    return words(stability, rule)
