"""Histogram equalization inside the model: exposure-invariant input, kept across a checkpoint reload."""

import numpy as np
import torch
from engine_helpers import square_data

from training.engine.checkpoint import load_model_from_run
from training.engine.recipes import load_recipe
from training.engine.trainer import train
from training.evaluation.gradcam import grad_cam
from training.models import build_model
from training.models.equalize import equalize_histograms
from training.run.predictions import read_predictions

TINY = ["image_size=32", "batch_size=8", "rotation=0", "zoom=0", "width_shift=0", "height_shift=0", "tta=1"]


def _levels(seed: int, shape=(3, 1, 24, 24)) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 200, shape)).float()


def test_equalized_images_span_zero_to_one_and_keep_the_order_of_grey_levels():
    images = _levels(0) / 255
    out = equalize_histograms(images)
    assert out.shape == images.shape
    for image, equalized in zip(images.flatten(1), out.flatten(1), strict=True):
        assert equalized.min() == 0 and equalized.max() == 1
        order = torch.argsort(image)
        assert torch.all(equalized[order].diff() >= 0)  # brighter in, never darker out


def test_any_monotone_change_of_grey_levels_gives_the_same_equalized_image():
    levels = _levels(1)
    more_contrast = (levels * 1.2 + 10) / 255  # strictly increasing with a slope over 1: no two levels merge
    gamma = (levels / 199) ** 0.8  # a gamma curve; its slope stays over one level per level, so none merge either
    for changed in (more_contrast, gamma):
        assert torch.allclose(equalize_histograms(levels / 255), equalize_histograms(changed), atol=1e-6)


def test_a_flat_image_equalizes_to_zeros_not_nans():
    out = equalize_histograms(torch.full((1, 1, 8, 8), 0.4))
    assert torch.equal(out, torch.zeros_like(out))


def test_a_model_built_to_equalize_answers_the_same_for_another_exposure():
    torch.manual_seed(0)
    plain = build_model("cnn1", 32).eval()
    equalizing = build_model("cnn1", 32, equalize=True).eval()
    equalizing.load_state_dict(plain.state_dict())  # the hook adds no parameters: same keys, same weights
    image = _levels(2, (1, 1, 32, 32)) / 255
    brighter = image * 1.2 + 0.02  # more contrast, brighter: no two grey levels merge
    with torch.inference_mode():
        assert torch.allclose(equalizing(image), equalizing(brighter), atol=1e-5)
        assert not torch.allclose(plain(image), plain(brighter), atol=1e-3)


def test_a_run_trained_with_equalize_reloads_with_it(tmp_path):
    recipe = load_recipe("cnn1", ["epochs=1", "equalize=true", *TINY])
    run = train(recipe, square_data(), tmp_path / "runs")
    model, config = load_model_from_run(run)
    assert config["recipe"]["equalize"] is True
    assert getattr(model, "equalizes_input", False)
    # The reloaded model gives the val predictions the trainer wrote, so it sees the same (equalized) input.
    data = square_data()
    with torch.inference_mode():
        p = torch.sigmoid(model(torch.from_numpy(data.val.images).unsqueeze(1).float() / 255)).numpy()
    written = {r["id"]: r["probability"] for r in read_predictions(run) if r["split"] == "val"}
    np.testing.assert_allclose(p, [written[r.id] for r in data.val.records], atol=1e-4)


def test_grad_cam_explains_an_equalizing_model_with_frozen_weights():
    model = build_model("cnn1", 32, equalize=True).eval().requires_grad_(False)
    result = grad_cam(model, _levels(3, (1, 1, 32, 32)) / 255)
    assert result.heatmap.shape == (32, 32) and np.isfinite(result.heatmap).all()
