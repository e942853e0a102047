"""Compare two runs on the same test images: McNemar for accuracy, DeLong for AUC.

Cases are matched by image, never by row order: the two runs may list them in a
different order, and only the images both runs scored are compared. An image is
matched by its class and path inside the class folder (``image_key``), so a
run given a Kermany root and one given its ``test`` folder compare.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.data.sources.folder import image_key
from training.evaluation.review_cases import load_rows, split_rows
from training.metrics.significance import delong, mcnemar
from training.run.operating_point import load_threshold


def compare_runs(run_a: Path, run_b: Path, split: str = "test") -> dict:
    rows_a = _by_image(load_rows(run_a), split)
    rows_b = _by_image(load_rows(run_b), split)
    common = sorted(rows_a.keys() & rows_b.keys())
    if not common:
        raise ValueError(f"the two runs share no {split} images (ids differ): not comparable")
    disagree = [i for i in common if rows_a[i]["label"] != rows_b[i]["label"]]
    if disagree:
        raise ValueError(f"{len(disagree)} shared images have different labels in the two runs (e.g. {disagree[0]})")
    labels = np.array([rows_a[i]["label"] for i in common])
    prob_a = np.array([rows_a[i]["probability"] for i in common])
    prob_b = np.array([rows_b[i]["probability"] for i in common])
    thr_a, thr_b = load_threshold(run_a), load_threshold(run_b)
    correct_a = (prob_a >= thr_a).astype(int) == labels
    correct_b = (prob_b >= thr_b).astype(int) == labels
    result = {
        "run_a": str(run_a),
        "run_b": str(run_b),
        "split": split,
        "n_matched": len(common),
        "only_in_a": len(rows_a) - len(common),
        "only_in_b": len(rows_b) - len(common),
        "threshold_a": thr_a,
        "threshold_b": thr_b,
        "mcnemar": mcnemar(correct_a, correct_b),
    }
    try:
        result["delong"] = delong(labels, prob_a, prob_b)
    except ValueError as exc:
        result["delong"] = {"error": str(exc)}
    return result


def _by_image(rows: list[dict], split: str) -> dict[str, dict]:
    """The split's rows keyed by ``image_key``: the same film matches whichever folder each run was given."""
    return {image_key(r["id"]): r for r in split_rows(rows, split)}


def format_comparison(result: dict) -> str:
    """The human-readable summary printed by ``pneumo compare``."""
    a, b = Path(result["run_a"]).name, Path(result["run_b"]).name
    m, d = result["mcnemar"], result["delong"]
    lines = [
        f"A: {a}  (threshold {result['threshold_a']:.3f})",
        f"B: {b}  (threshold {result['threshold_b']:.3f})",
        f"{result['n_matched']} {result['split']} images matched by id"
        + (f"; {result['only_in_a']} only in A, {result['only_in_b']} only in B (left out)"
           if result["only_in_a"] or result["only_in_b"] else ""),
        "",
        f"accuracy  A {m['accuracy_a']:.4f}   B {m['accuracy_b']:.4f}",
        f"  McNemar ({m['method']}): A right/B wrong {m['a_right_b_wrong']}, "
        f"B right/A wrong {m['b_right_a_wrong']}, p = {m['p_value']:.4g}",
    ]
    if "error" in d:
        lines.append(f"AUC: DeLong not possible ({d['error']})")
    else:
        lines += [
            f"AUC       A {d['auc_a']:.4f}   B {d['auc_b']:.4f}   difference {d['difference']:+.4f} (SE {d['se']:.4f})",
            f"  DeLong: z = {d['z']:.3f}, p = {d['p_value']:.4g}",
        ]
    lines.append("")
    lines += conclusions(result)
    return "\n".join(lines)


ALPHA = 0.05


def conclusions(result: dict) -> list[str]:
    """What the two tests say about these two runs, in words: one line for accuracy, one for AUC.

    "differs" only when p < 0.05 (and then which run is better, by how much); otherwise that these images
    give no evidence of a difference, which is not evidence that the runs are equally good.
    """
    m, d, n = result["mcnemar"], result["delong"], result["n_matched"]
    lines = []
    p = m["p_value"]
    if p < ALPHA:
        better = "A" if m["accuracy_a"] > m["accuracy_b"] else "B"
        lines.append(f"Accuracy differs: p = {p:.4g} < {ALPHA:g}; {better} is right more often "
                     f"({m['accuracy_a']:.4f} vs {m['accuracy_b']:.4f}).")
    elif m["a_right_b_wrong"] + m["b_right_a_wrong"] == 0:
        lines.append(f"No evidence of a difference in accuracy: A and B are right and wrong on the same "
                     f"{n} images (p = {p:.4g}).")
    else:
        lines.append(f"No evidence of a difference in accuracy on these {n} images (p = {p:.4g} >= {ALPHA:g}).")
    if "error" in d:
        lines.append("AUC not compared (see above).")
    elif d["p_value"] < ALPHA:
        better = "A" if d["auc_a"] > d["auc_b"] else "B"
        lines.append(f"AUC differs: p = {d['p_value']:.4g} < {ALPHA:g}; {better} ranks the cases better "
                     f"(AUC {d['auc_a']:.4f} vs {d['auc_b']:.4f}).")
    else:
        lines.append(f"No evidence of a difference in AUC on these {n} images (p = {d['p_value']:.4g} >= {ALPHA:g}).")
    return lines
