"""A new site's films against the run's validation split: is it shifted, and an operating point that follows it.

Nothing here reads a label of the site's images. Detection (``detect_shift``) compares what needs no labels:
the model's scores (a two-sample KS test on the logits, the predicted-positive rate at the run's threshold), the
images themselves (KS on their mean intensity) and the model's penultimate features (a domain classifier's
out-of-fold AUC), after Rabanser et al. 2019, "Failing loudly". Adaptation (``adapt_run``) writes a *derived* run
(the original's files are never touched) whose model and operating point suit the site:

- ``bn``: AdaBN (Li et al. 2016): every BatchNorm's running statistics re-estimated on the site's images;
- ``prior``: the site's class prior by EM (Saerens et al. 2002) on posteriors calibrated on validation by
  bias-corrected temperature scaling (Alexandari et al. 2020), and the threshold moved by its logit offset;
- ``align``: the threshold at which the site's predicted-positive rate equals validation's (the score distribution
  mapped onto validation's, after Roschewitz et al. 2023's prediction alignment);
- ``prevalence`` P or ``positive_rate`` R: a number the deploying clinician knows instead of labels: the threshold
  at which the site's positive rate is R, or the rate the operating point's validation sensitivity and specificity
  would give at prevalence P, as screening programmes set recall rates.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.core.errors import PneumoError
from training.core.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text
from training.core.jsontext import finite
from training.data.records import DataError, Record
from training.metrics.thresholds import logit, sigmoid
from training.run.checkpoints import digest
from training.run.operating_point import load_operating_point_details, load_threshold, save_threshold
from training.run.paths import RunPaths
from training.run.predictions import predictions_csv, read_predictions
from training.run.store import load_config, new_run_dir

ALPHA = 0.05
N_TESTS = 4  # KS on logits, KS on intensity, positive rate, domain classifier: Bonferroni over these
SITE_SPLIT = "site"


class ShiftError(PneumoError):
    """A site or a run that shift detection or adaptation cannot use (one line)."""


@dataclass
class Outputs:
    """What a run's model gives on a split: its own (test-time-view) probabilities, and single-view features."""

    probabilities: np.ndarray
    features: np.ndarray
    intensity: np.ndarray  # each image's mean grey level (0-255) as the model sees it
    labels: np.ndarray  # -1 where unknown (a site's images are never asked for theirs)
    groups: np.ndarray | None = None  # each image's patient (its id where none is known): folds keep them whole


# ----------------------------------------------------------------------------- images


def site_records(folder: Path) -> tuple[object | None, list[Record]]:
    """``(source, records)`` of a site's folder: a dataset layout when it has one (class folders, any split: the
    labels are kept for a later evaluation, never used here), else every image file below it, unlabelled."""
    from training.data.decode import IMAGE_EXTENSIONS
    from training.data.sources import open_source

    folder = Path(folder)
    if not folder.is_dir():
        raise ShiftError(f"{folder}: no such folder of site images")
    try:
        source = open_source(folder)
        records = [r for r in source.records() if r.path is not None]
        if records:
            return source, records
    except DataError:
        pass
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (*IMAGE_EXTENSIONS, ".dcm", ".dicom")
                   and p.is_file())
    if not paths:
        raise ShiftError(f"{folder}: no images found")
    return None, [Record(id=str(p.relative_to(folder)), split=SITE_SPLIT, label=-1, path=p) for p in paths]


def load_site(run_dir: Path, folder: Path):
    """The site's images prepared as the run prepares its own (size, fit), through the cache when it can."""
    from training.data.arrays import SplitData
    from training.data.cache import cached_images
    from training.evaluation.predict import load_for_model

    recipe = load_config(run_dir).get("recipe", {})
    size, fit = int(recipe.get("image_size", 200)), recipe.get("fit", "squash")
    source, records = site_records(folder)
    if source is not None:
        cached = cached_images(source, records, size=size, fit=fit)
        return SplitData(list(cached.records), cached.images)
    kept, pixels = [], []
    for record in records:
        try:
            pixels.append(load_for_model(record.path, size, fit))
            kept.append(record)
        except Exception:  # noqa: BLE001 - an unreadable site image is skipped, as training skips them
            continue
    if not kept:
        raise ShiftError(f"{folder}: none of its images can be read")
    return SplitData(kept, np.stack(pixels))


def load_val(run_dir: Path):
    """The run's own validation split, rebuilt from its config through the cache."""
    from training.data.arrays import DataSpec, prepare_data

    config = load_config(run_dir)
    info, recipe = config.get("data", {}), config.get("recipe", {})
    if not info.get("path"):
        raise ShiftError(f"{Path(run_dir).name} has no data path in its config: its validation split cannot be rebuilt")
    spec = DataSpec(Path(info["path"]), None, use_test=False)
    data = prepare_data(spec, recipe["image_size"], recipe.get("fit", "squash"), info.get("val_fraction", 0.1),
                        info.get("split_seed", 0), val_split=recipe.get("val_split", "auto"))
    return data.val


# ----------------------------------------------------------------------------- model outputs


def model_outputs(model, split, recipe: dict, setup=None) -> Outputs:
    """The run's probabilities (its own test-time views) and single-view penultimate features for ``split``."""
    import torch

    from training.data.arrays import BatchLoader
    from training.engine.device import device_setup
    from training.engine.tta import predict_views, recipe_views

    setup = setup or device_setup(None, amp=False, channels_last=False)
    model = model.to(setup.device).eval()
    probabilities = predict_views(model, split, setup, recipe_views(recipe))
    head = _last_linear(model)
    captured = []
    hook = head.register_forward_hook(lambda module, inputs, output: captured.append(inputs[0].detach().float()))
    features = np.zeros((len(split), head.in_features), dtype=np.float32)
    try:
        with torch.inference_mode():
            for batch in BatchLoader(split, 64, setup.device).batches():
                captured.clear()
                model(setup.prepare_batch(batch.images))
                features[batch.indices] = captured[-1].reshape(len(batch.indices), -1).cpu().numpy()
    finally:
        hook.remove()
    intensity = split.images.reshape(len(split), -1).mean(axis=1).astype(float)
    labels = np.array([r.label for r in split.records], dtype=int)
    groups = np.array([r.patient or r.id for r in split.records], dtype=object)
    return Outputs(probabilities, features, intensity, labels, groups)


def _last_linear(model):
    import torch.nn as nn

    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ShiftError("the model has no linear head to read penultimate features from")
    return linears[-1]


# ----------------------------------------------------------------------------- detection


def shift_tests(reference: Outputs, site: Outputs, threshold: float, seed: int = 0) -> dict:
    """The four label-free comparisons of ``site`` against ``reference``, and the verdict."""
    from scipy import stats

    ref_logits, site_logits = logit(reference.probabilities), logit(site.probabilities)
    ks_logit = stats.ks_2samp(site_logits, ref_logits)
    ks_intensity = stats.ks_2samp(site.intensity, reference.intensity)
    ref_pos, site_pos = int((reference.probabilities >= threshold).sum()), int((site.probabilities >= threshold).sum())
    _, p_rate = stats.fisher_exact([[site_pos, len(site_logits) - site_pos], [ref_pos, len(ref_logits) - ref_pos]])
    domain_auc, p_domain = domain_classifier(reference.features, site.features, seed,
                                             groups=_groups(reference, site))
    p_values = {"logits_ks": float(ks_logit.pvalue), "intensity_ks": float(ks_intensity.pvalue),
                "positive_rate": float(p_rate), "domain_classifier": float(p_domain)}
    p_value = min(1.0, N_TESTS * min(p_values.values()))
    shifted = p_value < ALPHA
    return finite({
        "shifted": shifted,
        "p_value": p_value,
        "domain_auc": domain_auc,
        "tests": p_values,
        "n_reference": len(ref_logits),
        "n_site": len(site_logits),
        "threshold": threshold,
        "positive_rate": {"reference": ref_pos / len(ref_logits), "site": site_pos / len(site_logits)},
        "mean_logit": {"reference": float(ref_logits.mean()), "site": float(site_logits.mean())},
        "mean_intensity": {"reference": float(reference.intensity.mean()), "site": float(site.intensity.mean())},
        "verdict": verdict(shifted, p_value, domain_auc),
    })


def _groups(reference: Outputs, site: Outputs) -> np.ndarray | None:
    if reference.groups is None or site.groups is None:
        return None
    return np.r_[reference.groups, site.groups]


def domain_classifier(reference: np.ndarray, site: np.ndarray, seed: int = 0,
                      groups: np.ndarray | None = None) -> tuple[float, float]:
    """Out-of-fold AUC of a logistic regression telling site features from reference ones (5 folds), and the
    one-sided Mann-Whitney p-value that it tells them apart better than chance.

    With ``groups`` (each row's patient, reference rows first), the folds keep a patient's images together and
    the p-value compares one mean score per patient and side: images of one child are not independent, and a
    classifier that has seen a child's other films recognises the child, not the site (two halves of one
    validation split came out "shifted", domain AUC 0.58-0.65, p < 0.005, before this).
    """
    from scipy import stats
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.vstack([reference, site])
    y = np.r_[np.zeros(len(reference)), np.ones(len(site))].astype(int)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    if groups is None:
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
        scores = cross_val_predict(classifier, x, y, cv=folds, method="decision_function")
        return float(roc_auc_score(y, scores)), float(
            stats.mannwhitneyu(scores[y == 1], scores[y == 0], alternative="greater").pvalue)
    folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed)
    scores = cross_val_predict(classifier, x, y, cv=folds, groups=groups, method="decision_function")
    auc = float(roc_auc_score(y, scores))
    per_patient = {}
    for g, side, score in zip(groups, y, scores, strict=True):
        per_patient.setdefault((g, side), []).append(score)
    means = {side: [np.mean(v) for (g, s), v in per_patient.items() if s == side] for side in (0, 1)}
    p = float(stats.mannwhitneyu(means[1], means[0], alternative="greater").pvalue)
    return auc, p


def verdict(shifted: bool, p_value: float, domain_auc: float) -> str:
    if shifted:
        return (f"this site differs from validation (p = {p_value:.2g} after Bonferroni; a classifier tells its "
                f"films from validation's with AUC {domain_auc:.2f}): expect the operating point to move; adapt it "
                "(pneumo adapt) or choose it on a labelled sample of the site (pneumo threshold --on)")
    return (f"no shift from validation found (p = {p_value:.2g} after Bonferroni, domain AUC {domain_auc:.2f}): "
            "the validation operating point should hold, within its intervals")


def detect_shift(run_dir: Path, folder: Path) -> dict:
    """``shift_tests`` of the site's images in ``folder`` against the run's validation split."""
    from training.engine.checkpoint import load_model_from_run

    model, config = load_model_from_run(run_dir)
    recipe = config.get("recipe", {})
    threshold = load_threshold(run_dir)
    reference = model_outputs(model, load_val(run_dir), recipe)
    site = model_outputs(model, load_site(run_dir, folder), recipe)
    return {"run": Path(run_dir).name, "site": os.path.abspath(folder), **shift_tests(reference, site, threshold)}


# ----------------------------------------------------------------------------- adaptation


def adabn(model, split, setup=None, batch_size: int = 64):
    """``model`` with every BatchNorm's running mean and variance re-estimated on ``split`` (a cumulative average
    over one pass in training mode; no weight changes, no augmentation). Returns the number of layers updated."""
    import torch

    from training.data.arrays import BatchLoader
    from training.engine.device import device_setup

    setup = setup or device_setup(None, amp=False, channels_last=False)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        raise ShiftError("the model has no BatchNorm layer: AdaBN has nothing to re-estimate")
    model.to(setup.device).eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative moving average: every batch counts the same
        norm.train()
    with torch.no_grad():
        for batch in BatchLoader(split, batch_size, setup.device).batches():
            if len(batch.indices) > 1:
                model(setup.prepare_batch(batch.images))
    model.eval()
    return len(norms)


def fit_bcts(logits, labels) -> tuple[float, float]:
    """Bias-corrected temperature scaling for one logit: ``(T, b)`` minimising the log loss of sigmoid(z / T + b)."""
    from scipy.optimize import minimize

    z, y = np.asarray(logits, dtype=float), np.asarray(labels, dtype=float)

    def nll(params):
        t, b = math.exp(params[0]), params[1]
        c = z / t + b
        return float(np.mean(np.logaddexp(0, c) - y * c))

    best = minimize(nll, x0=[0.0, 0.0], method="L-BFGS-B", bounds=[(-5, 5), (-20, 20)])
    return float(math.exp(best.x[0])), float(best.x[1])


def em_prior(posteriors, prior: float, tolerance: float = 1e-6, steps: int = 1000) -> float:
    """The class prior of unlabelled cases whose calibrated posteriors (under ``prior``) are ``posteriors``, by EM
    (Saerens et al. 2002)."""
    q = np.clip(np.asarray(posteriors, dtype=float), 1e-9, 1 - 1e-9)
    pi = float(prior)
    for _ in range(steps):
        up, down = pi / prior * q, (1 - pi) / (1 - prior) * (1 - q)
        new = float(np.mean(up / (up + down)))
        if abs(new - pi) < tolerance:
            return new
        pi = new
    return pi


def rate_threshold(probabilities, rate: float) -> float:
    """The threshold at which a fraction ``rate`` of ``probabilities`` is called positive (>= it)."""
    p = np.sort(np.asarray(probabilities, dtype=float))[::-1]
    if not 0 < rate < 1:
        raise ShiftError(f"a positive rate must be between 0 and 1, not {rate}")
    k = max(1, min(len(p), int(round(rate * len(p)))))
    return float(p[k - 1])


@dataclass
class Adaptation:
    methods: list[str]
    threshold: float
    how: str
    details: dict


def adapt_threshold(t_a: float, val: Outputs, site_probabilities, *, prior: bool = False, align: bool = False,
                    prevalence: float | None = None, positive_rate: float | None = None) -> tuple[float, str, dict]:
    """The site's threshold from the run's ``t_a`` by one of the label-free rules (see the module doc)."""
    chosen = [m for m, on in (("prior", prior), ("align", align), ("prevalence", prevalence is not None),
                              ("positive rate", positive_rate is not None)) if on]
    if len(chosen) > 1:
        raise ShiftError(f"give one way to move the threshold, not {' and '.join(chosen)}")
    if not chosen:
        return t_a, "kept", {}
    val_p, val_y = val.probabilities, val.labels
    if prior:
        t, b = fit_bcts(logit(val_p), val_y)
        pi_val = float(val_y.mean())
        calibrated = sigmoid(logit(site_probabilities) / t + b)
        pi_site = em_prior(calibrated, pi_val)
        moved = float(sigmoid(logit(t_a) - t * (logit(pi_site) - logit(pi_val))))
        return moved, f"moved by the site's prior by EM ({pi_site:.3f}, validation {pi_val:.3f})", {
            "temperature": t, "bias": b, "prior_validation": pi_val, "prior_site": pi_site}
    if align:
        rate = float((val_p >= t_a).mean())
        return rate_threshold(site_probabilities, rate), f"aligned: the site's positive rate set to validation's " \
            f"({rate:.3f})", {"positive_rate": rate}
    if prevalence is not None:
        if not 0 < prevalence < 1:
            raise ShiftError(f"a prevalence must be between 0 and 1, not {prevalence}")
        sens = float((val_p[val_y == 1] >= t_a).mean())
        spec = float((val_p[val_y == 0] < t_a).mean())
        rate = sens * prevalence + (1 - spec) * (1 - prevalence)
        return rate_threshold(site_probabilities, rate), f"set for a prevalence of {prevalence:g} (positive rate " \
            f"{rate:.3f})", {"prevalence": prevalence, "positive_rate": rate, "sensitivity_on_validation": sens,
                             "specificity_on_validation": spec}
    return rate_threshold(site_probabilities, positive_rate), f"set for a positive rate of {positive_rate:g}", {
        "positive_rate": positive_rate}


def adapt_run(run_dir: Path, folder: Path, *, bn: bool = False, prior: bool = False, align: bool = False,
              prevalence: float | None = None, positive_rate: float | None = None,
              runs_dir: Path | None = None) -> Path:
    """Write a derived run: the original's model (its BatchNorm re-estimated on the site with ``bn``), an operating
    point moved for the site, and predictions of val (the original's) and of the site's images. The original run's
    files are only read."""
    from training.engine.checkpoint import encode_checkpoint, load_model_from_run, load_run_checkpoint

    run_dir = Path(run_dir)
    methods = [m for m, on in (("bn", bn), ("prior", prior), ("align", align), ("prevalence", prevalence is not None),
                               ("positive-rate", positive_rate is not None)) if on]
    if not methods:
        raise ShiftError("give at least one of --bn, --prior, --align, --prevalence P, --positive-rate R")
    config = load_config(run_dir)
    recipe = config.get("recipe", {})
    model, _ = load_model_from_run(run_dir)
    val_split, site_split = load_val(run_dir), load_site(run_dir, folder)
    val = model_outputs(model, val_split, recipe)  # where the operating point was chosen: the reference throughout
    if bn:
        adabn(model, site_split)
    site = model_outputs(model, site_split, recipe)
    t_a = load_threshold(run_dir)
    threshold, moved, details = adapt_threshold(t_a, val, site.probabilities, prior=prior, align=align,
                                                prevalence=prevalence, positive_rate=positive_rate)
    data = config.get("data", {})
    test_paths = {os.path.realpath(r["path"]) for r in read_predictions(run_dir) if r["split"] == "test" and r["path"]}
    site_paths = {os.path.realpath(r.path) for r in site_split.records if r.path}
    is_test = bool(site_paths) and site_paths <= test_paths  # the run's own test images: its test rows anew
    transductive = is_test or _same_folder(folder, data.get("test_path")) or _inside(folder, data.get("path"))
    site_name = "test" if is_test else SITE_SPLIT
    derived = new_run_dir(runs_dir or run_dir.parent, f"{run_dir.name}-adapted-{'-'.join(methods)}")
    paths = RunPaths(derived)
    checkpoint = load_run_checkpoint(run_dir, "best")
    if bn:
        checkpoint = {**checkpoint, "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    data_bytes = encode_checkpoint({k: v for k, v in checkpoint.items() if k != "format"})
    atomic_write_bytes(paths.best_checkpoint, data_bytes)
    base = load_operating_point_details(run_dir)
    how = base.get("how", "saved") + (f", then {moved}" if moved != "kept" else "")
    adapted = {"from": run_dir.name, "from_path": os.path.abspath(run_dir), "on": os.path.abspath(folder),
               "methods": methods, "n_site": len(site_split), "threshold_from": t_a, "bn_layers": bn or None,
               "transductive": transductive, "site_split": site_name, **details}
    atomic_write_json(paths.config, {**config, "run_id": derived.name, "adapted": finite(adapted)})
    save_threshold(derived, threshold, how, rule=base.get("rule", "adapted"), adapted_from=t_a)
    rows = [r for r in read_predictions(run_dir) if r["split"] == "val"]  # the original's: where t_a was chosen
    rows += [{"id": r.id, "path": str(r.path or ""), "split": site_name, "label": r.label, "probability": f"{p:.6f}",
              "subtype": r.subtype or "", "patient": r.patient or ""}
             for r, p in zip(site_split.records, site.probabilities, strict=True)]
    atomic_write_text(paths.predictions, predictions_csv(rows))
    _write_events(run_dir, derived, adapted, data_bytes)
    return derived


def _write_events(run_dir: Path, derived: Path, adapted: dict, checkpoint_bytes: bytes) -> None:
    """The derived run's log: the original's training history (no checkpoint or eval claims: its own differ), then
    its own best checkpoint and what it was adapted with."""
    from training.run.events import EventWriter, read_events

    keep = [e for e in read_events(RunPaths(run_dir).events) if e["event"] not in ("checkpoint", "eval")]
    with EventWriter(RunPaths(derived).events) as log:
        for event in keep:
            log.write(event.pop("event"), **{k: v for k, v in event.items() if k != "time"})
        log.write("checkpoint", kind="best", epoch=None, path="checkpoints/best.pt", metric=None, value=None,
                  sha256=digest(checkpoint_bytes))
        log.write("adapted", **{k: adapted[k] for k in ("from", "on", "methods", "transductive")})


def _inside(folder, data_path) -> bool:
    """``folder`` is, or lies inside, the run's data folder."""
    if not data_path:
        return False
    folder, data = Path(os.path.realpath(folder)), Path(os.path.realpath(data_path))
    return folder == data or data in folder.parents


def _same_folder(a, b) -> bool:
    if not a or not b:
        return False
    try:
        return Path(os.path.realpath(a)) == Path(os.path.realpath(b))
    except OSError:
        return False
