"""The model zoo: the study's exact architectures and the modern model."""

import pytest
import torch

from training.models import build_model, count_parameters, model_info, model_names
from training.models.study import PretrainedWeightsMissing


@pytest.mark.parametrize(
    "name, expected",
    [("baseline", 4_000_201), ("cnn1", 40_145_473), ("cnn3", 8_768_257)],
)
def test_study_parameter_counts_at_200px(name, expected):
    assert count_parameters(build_model(name, 200)) == expected


def test_resnet50_is_torchvision_resnet50_with_one_channel_stem_and_one_logit():
    model = build_model("resnet50", 200)
    assert 23_400_000 < count_parameters(model) < 23_600_000
    assert model.conv1.in_channels == 1
    assert isinstance(model.fc[0], torch.nn.Dropout) and model.fc[0].p == 0.5


@pytest.mark.parametrize("name", ["baseline", "cnn1", "cnn3", "resnet50", "resnet_small"])
def test_every_model_maps_a_batch_to_one_logit_per_image(name):
    model = build_model(name, 64).eval()
    with torch.no_grad():
        out = model(torch.rand(3, 1, 64, 64))
    assert out.shape == (3,)
    assert torch.isfinite(out).all()


def test_modern_model_is_small_and_uses_batchnorm_and_global_pooling():
    model = build_model("resnet_small", 128)
    assert count_parameters(model) < 2_000_000
    kinds = {type(m).__name__ for m in model.modules()}
    assert {"BatchNorm2d", "AdaptiveAvgPool2d", "Dropout"} <= kinds
    assert not model_info("resnet_small").study
    assert [n for n in model_names() if model_info(n).study] == ["baseline", "cnn1", "cnn3", "resnet50"]


def test_unknown_model_and_too_small_images_are_clear_errors():
    with pytest.raises(KeyError, match="known models"):
        build_model("vgg99")
    with pytest.raises(ValueError, match="too small"):
        build_model("cnn3", 12)


def test_pretrained_without_cached_weights_names_the_file_and_does_not_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(PretrainedWeightsMissing, match=str(tmp_path)):
        build_model("resnet50", 64, pretrained=True)
