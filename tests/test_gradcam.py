"""Grad-CAM looks where the class evidence is: a blob whose position decides the class."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from training.evaluation.gradcam import GradCamUnavailable, explain_image, find_target_layer, grad_cam

SIZE = 32


def blob_images(n: int, seed: int):
    """Dark noisy 32x32 images with one bright blob: left half -> 0, right half -> 1."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    images, centres = np.empty((n, SIZE, SIZE), np.float32), []
    for i, label in enumerate(labels):
        cx = rng.integers(4, 12) + (16 if label else 0)
        cy = rng.integers(4, 28)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 2.0 ** 2))
        images[i] = np.clip(0.15 + 0.05 * rng.standard_normal((SIZE, SIZE)) + 0.8 * blob, 0, 1)
        centres.append((cy, cx))
    return torch.from_numpy(images)[:, None], torch.from_numpy(labels).float(), centres


class CoordCNN(nn.Module):
    """A tiny CNN that can tell left from right (CoordConv: the image times its x-coordinate is a
    second channel), global average pooling, one logit per image like the zoo's models.
    No biases: a dark background gives no activation, so each class must point at the blob
    instead of winning by default (otherwise "right" is learnt as "no blob on the left")."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(2, 8, 3, padding=1, bias=False), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.ReLU(),
        )
        self.head = nn.Linear(8, 1, bias=False)
        self.register_buffer("xs", torch.linspace(-1, 1, SIZE).expand(1, 1, SIZE, SIZE).clone())

    def forward(self, x):
        x = x - x.mean(dim=(2, 3), keepdim=True)
        return self.head(self.features(torch.cat([x, x * self.xs], dim=1)).mean(dim=(2, 3))).squeeze(1)


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    x, y, _ = blob_images(384, seed=0)
    model = CoordCNN()
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(6):
        for i in range(0, len(x), 32):
            opt.zero_grad()
            loss = nn.functional.binary_cross_entropy_with_logits(model(x[i:i + 32]), y[i:i + 32])
            loss.backward()
            opt.step()
    return model


def test_heatmap_peak_falls_on_the_blob(trained):
    x, y, centres = blob_images(60, seed=1)
    with torch.no_grad():
        accuracy = ((trained(x) > 0).float() == y).float().mean().item()
    assert accuracy > 0.9, "the tiny model must learn the task for the test to mean anything"
    hits = 0
    for i in range(len(x)):
        result = grad_cam(trained, x[i:i + 1])
        assert result.heatmap.shape == (SIZE, SIZE)
        assert 0.0 <= result.heatmap.min() and result.heatmap.max() <= 1.0
        py, px = np.unravel_index(np.argmax(result.heatmap), result.heatmap.shape)
        cy, cx = centres[i]
        hits += abs(py - cy) <= 4 and abs(px - cx) <= 4
    assert hits / len(x) >= 0.8, f"peak on the blob for only {hits}/{len(x)} images"


def test_explain_image_returns_a_map_at_native_size(trained):
    x, _, (centre, *_) = blob_images(1, seed=5)
    native = np.kron((x[0, 0].numpy() * 255).astype(np.uint8), np.ones((3, 2), np.uint8))  # 96 x 64
    result = explain_image(trained, native, size=SIZE)
    assert result.heatmap.shape == (96, 64)
    py, px = np.unravel_index(np.argmax(result.heatmap), result.heatmap.shape)
    assert abs(py / 3 - centre[0]) <= 4 and abs(px / 2 - centre[1]) <= 4
    letterboxed = explain_image(trained, native, size=SIZE, fit="letterbox")
    assert letterboxed.heatmap.shape == (96, 64)


def test_target_layer_for_zoo_like_models():
    flat = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4, 1))
    assert find_target_layer(flat) is flat[4]  # the activation after the last conv
    assert find_target_layer(CoordCNN()).__class__ is nn.Sequential  # the features block

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4))

        def forward(self, x):
            return torch.relu(self.body(x) + x)

    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Sequential(Block(), Block()), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 1))
    assert find_target_layer(net) is net[1][1]  # the last residual block, not a conv inside it
    out = grad_cam(net, torch.rand(1, 1, 16, 16))
    assert out.heatmap.shape == (16, 16)
    with pytest.raises(GradCamUnavailable):
        find_target_layer(nn.Sequential(nn.Flatten(), nn.Linear(4, 1)))


def test_every_conv_model_of_the_zoo_gets_a_map():
    zoo = pytest.importorskip("training.models")
    for name in zoo.model_names():
        if name in ("baseline", "resnet50"):
            continue  # no conv layer / too slow for a unit test
        result = grad_cam(zoo.build_model(name, 64), torch.rand(1, 1, 64, 64))
        assert result.heatmap.shape == (64, 64), name


SHARED_DATA = __import__("pathlib").Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.mark.shared_data
@pytest.mark.skipif(not (SHARED_DATA / "chest_xray" / "test").is_dir(), reason="needs ../shared/data")
def test_map_on_a_real_xray_at_native_size():
    from PIL import Image

    from training.models import build_model

    path = sorted((SHARED_DATA / "chest_xray" / "test" / "PNEUMONIA").glob("*.jpeg"))[0]
    with Image.open(path) as im:
        pixels = np.asarray(im.convert("L"))
    torch.manual_seed(0)
    result = explain_image(build_model("cnn3", 64), pixels, size=64)
    assert result.heatmap.shape == pixels.shape and np.isfinite(result.heatmap).all()
