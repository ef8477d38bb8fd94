"""Tests of the featurize stage: decoding, encoders, HDF5 layout, skipping, streaming, the script."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from pipeline.features.encoders import load_encoder
from pipeline.core.errors import PipelineError
from pipeline.artifacts.features import FeatureWriter
from pipeline.core.params import checked
from pipeline.features.decode import load_rgb
from pipeline.features.featurize import featurize
from pipeline.features.params import FeaturesParams

REPO = Path(__file__).resolve().parents[2]
TEST_DATA = Path(__file__).parents[1] / "data"
# The default encoder's features of tests/data/tuxpaint_zebra.png (tests/data/README.md), and how close a rerun
# must come: a change of preprocessing or weights moves them by far more, a different CPU's float rounding by less.
ZEBRA_REFERENCE = TEST_DATA / "tuxpaint_zebra_efficientnet_lite0.npy"
REFERENCE_TOLERANCE = 1e-4
EXIF_ORIENTATION = 0x0112
TINY = FeaturesParams(encoder="resnet18", weights="none", batch_size=2, num_workers=0, threads=2)


def _noise(size: tuple[int, int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)


def _make_images(folder: Path) -> dict[str, str]:
    """Write one image per colour mode Pillow commonly returns; return image_id -> file name."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_noise((80, 60), 0)).save(folder / "rgb.jpg", quality=90)
    rgba = np.dstack([_noise((50, 70), 1), np.full((70, 50), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    paletted = Image.fromarray(_noise((40, 40), 2)).quantize(16)
    paletted.save(folder / "paletted.png", transparency=0)
    Image.fromarray(_noise((64, 64), 3)[..., 0], "L").save(folder / "grey.png")
    Image.fromarray(_noise((30, 90), 4)).convert("CMYK").save(folder / "cmyk.jpg")
    return {
        "rgb": "rgb.jpg",
        "rgba": "rgba.png",
        "paletted": "paletted.png",
        "grey": "grey.png",
        "cmyk": "cmyk.jpg",
    }


def _write_table(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = ["image_id,path,wnid,source,split"]
    lines += [f"{image_id},{file},n00000000,test,train" for image_id, file in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def images(tmp_path: Path) -> list[tuple[str, str]]:
    """(image_id, path relative to tmp_path) of five small images in different colour modes."""
    names = _make_images(tmp_path / "img")
    return [(image_id, f"img/{name}") for image_id, name in names.items()]


def test_load_rgb_composites_transparency_on_white_and_converts_modes(tmp_path: Path) -> None:
    Image.new("RGBA", (4, 4), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    Image.new("LA", (4, 4), (0, 0)).save(tmp_path / "clear_la.png")
    paletted = Image.new("P", (4, 4), 1)
    paletted.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    paletted.save(tmp_path / "clear_p.png", transparency=1)
    Image.new("L", (4, 4), 77).save(tmp_path / "grey.png")
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(tmp_path / "grey16.png")
    Image.new("CMYK", (4, 4), (0, 0, 0, 0)).save(tmp_path / "cmyk.jpg")

    for name in ("clear.png", "clear_la.png", "clear_p.png", "grey16.png", "cmyk.jpg"):
        image = load_rgb(tmp_path / name)
        assert image.mode == "RGB"
        assert np.asarray(image).min() >= 250, name
    assert np.asarray(load_rgb(tmp_path / "grey.png")).tolist()[0][0] == [77, 77, 77]


def test_featurize_writes_aligned_features_and_attributes(tmp_path: Path, images) -> None:
    table = _write_table(tmp_path / "images.csv", images)
    out = tmp_path / "out" / "features.h5"

    result = featurize(table, out, TINY, base_dir=tmp_path)

    assert (result.images, result.dim, result.skipped) == (5, 512, [])
    with h5py.File(out) as h5:
        assert h5["features"].dtype == np.float32
        assert h5["features"].shape == (5, 512)
        assert [s.decode() for s in h5["image_ids"][:]] == [image_id for image_id, _ in images]
        assert h5.attrs["encoder"] == "resnet18"
        assert h5.attrs["weights"] == "none"
        assert h5.attrs["dim"] == 512
        preprocessing = json.loads(h5.attrs["preprocessing"])
        assert (preprocessing["resize"], preprocessing["crop"]) == (256, 224)
        assert preprocessing["mean"] == pytest.approx([0.485, 0.456, 0.406])
        rows = h5["features"][:]
    assert np.isfinite(rows).all()
    assert len({row.tobytes() for row in rows}) == 5
    assert not list(out.parent.glob(".*.tmp")), "temporary file left behind"


def test_undecodable_images_are_skipped_and_reported(tmp_path: Path, images) -> None:
    (tmp_path / "img" / "garbage.jpg").write_bytes(b"this is not an image")
    jpeg = (tmp_path / "img" / "rgb.jpg").read_bytes()
    (tmp_path / "img" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    bad = [("garbage", "img/garbage.jpg"), ("truncated", "img/truncated.jpg"), ("gone", "img/gone.png")]
    mixed = [images[0], bad[0], images[1], bad[1], bad[2], *images[2:]]
    clean_out, mixed_out = tmp_path / "clean.h5", tmp_path / "mixed.h5"

    featurize(_write_table(tmp_path / "clean.csv", images), clean_out, TINY, base_dir=tmp_path)
    result = featurize(_write_table(tmp_path / "mixed.csv", mixed), mixed_out, TINY, base_dir=tmp_path)

    assert result.images == 5
    assert [s["image_id"] for s in result.skipped] == ["garbage", "truncated", "gone"]
    assert result.skipped[0]["path"] == "img/garbage.jpg"
    assert "UnidentifiedImageError" in result.skipped[0]["error"]
    assert "truncated" in result.skipped[1]["error"]
    assert "No such file" in result.skipped[2]["error"]
    with h5py.File(clean_out) as clean, h5py.File(mixed_out) as mixed_h5:
        assert mixed_h5["image_ids"][:].tolist() == clean["image_ids"][:].tolist()
        np.testing.assert_allclose(mixed_h5["features"][:], clean["features"][:], rtol=1e-5, atol=1e-6)


def test_no_decodable_image_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"nope")
    table = _write_table(tmp_path / "images.csv", [("bad", "bad.png")])
    with pytest.raises(PipelineError, match="none of its 1 images could be decoded"):
        featurize(table, tmp_path / "features.h5", TINY, base_dir=tmp_path)
    assert not (tmp_path / "features.h5").exists()


def test_features_are_streamed_to_disk_batch_by_batch(tmp_path: Path, images, monkeypatch) -> None:
    appended: list[tuple[int, int]] = []
    original = FeatureWriter.append

    def recording_append(self, image_ids, rows):
        original(self, image_ids, rows)
        appended.append((len(image_ids), self.features.shape[0]))

    monkeypatch.setattr(FeatureWriter, "append", recording_append)
    table = _write_table(tmp_path / "images.csv", images)
    params = FeaturesParams(encoder="resnet18", weights="none", batch_size=2, num_workers=2, threads=1)

    featurize(table, tmp_path / "features.h5", params, base_dir=tmp_path)

    assert appended == [(2, 2), (2, 4), (1, 5)]
    with h5py.File(tmp_path / "features.h5") as h5:
        assert h5["features"].maxshape == (None, 512)
        assert h5["features"].chunks == (2, 512)


@pytest.fixture(scope="module")
def lite0():
    return load_encoder("efficientnet_lite0", "imagenet")


def relative_distance(features: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(features - reference) / np.linalg.norm(reference))


def test_default_encoder_gives_the_reference_features_of_a_committed_image(tmp_path: Path) -> None:
    upright = load_rgb(TEST_DATA / "tuxpaint_zebra.png")
    upright.save(tmp_path / "upright.png")
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # "rotate 90 degrees clockwise to display": the pixels are stored turned anticlockwise
    upright.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "rotated.png", exif=exif)
    table = _write_table(tmp_path / "images.csv", [("zebra", str(TEST_DATA / "tuxpaint_zebra.png")),
                                                   ("upright", "upright.png"), ("rotated", "rotated.png")])

    featurize(table, tmp_path / "features.h5", FeaturesParams(num_workers=0, threads=2), base_dir=tmp_path)

    with h5py.File(tmp_path / "features.h5") as h5:
        zebra, upright_features, rotated_features = h5["features"][:]
    assert relative_distance(zebra, np.load(ZEBRA_REFERENCE)) < REFERENCE_TOLERANCE
    assert relative_distance(rotated_features, upright_features) < REFERENCE_TOLERANCE


def test_the_reference_features_tell_preprocessing_changes_apart(lite0) -> None:
    reference = np.load(ZEBRA_REFERENCE)
    image = load_rgb(TEST_DATA / "tuxpaint_zebra.png")
    preprocessing = lite0.preprocessing
    variants = {"resized straight to the crop": replace(preprocessing, resize=preprocessing.crop),
                "not normalised": replace(preprocessing, mean=(0.0,) * 3, std=(1.0,) * 3),
                "turned on its side": preprocessing}
    images = {name: image for name in variants} | {"turned on its side": image.transpose(Image.Transpose.ROTATE_90)}
    for name, variant in variants.items():
        with torch.inference_mode():
            features = lite0.features(variant.transform()(images[name]).unsqueeze(0))[0].numpy()
        assert relative_distance(features, reference) > 100 * REFERENCE_TOLERANCE, name


def test_efficientnet_lite0_weights_recognise_real_photos(lite0) -> None:
    encoder = lite0
    transform = encoder.preprocessing.transform()
    pixels = torch.stack(
        [transform(load_rgb(TEST_DATA / name)) for name in ("tuxpaint_strawberry.png", "tuxpaint_zebra.png")]
    )
    with torch.inference_mode():
        pooled = encoder.features(pixels)
        probabilities = encoder.logits(pooled).softmax(dim=1)

    assert pooled.shape == (2, 1280) and encoder.dim == 1280
    assert probabilities.argmax(dim=1).tolist() == [949, 340]  # ImageNet strawberry, zebra


def test_resnet_weights_unavailable_offline_is_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "urlopen", offline)
    with pytest.raises(PipelineError, match=r"cannot download .*resnet18-f37072fd\.pth.*efficientnet_lite0"):
        load_encoder("resnet18", "imagenet")


def test_random_weights_depend_only_on_seed() -> None:
    batch = torch.rand(1, 3, 224, 224)
    with torch.inference_mode():
        a = load_encoder("resnet18", "none", seed=1).features(batch)
        b = load_encoder("resnet18", "none", seed=1).features(batch)
        c = load_encoder("resnet18", "none", seed=2).features(batch)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_images_table_errors(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="run the map_images stage"):
        featurize(tmp_path / "missing.csv", tmp_path / "f.h5", TINY)
    (tmp_path / "dup.csv").write_text("image_id,path\na,x.png\na,y.png\n")
    with pytest.raises(PipelineError, match="'a' is listed more than once"):
        featurize(tmp_path / "dup.csv", tmp_path / "f.h5", TINY)


def _run_stage(cwd: Path, params: dict, *args: str) -> subprocess.CompletedProcess:
    (cwd / "params.yaml").write_text(yaml.safe_dump({"features": params}))
    return subprocess.run(
        [sys.executable, str(REPO / "stages" / "featurize.py"), *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def test_stage_script_end_to_end(tmp_path: Path, images) -> None:
    (tmp_path / "img" / "broken.png").write_bytes(b"\x89PNG broken")
    _write_table(tmp_path / "images.csv", [*images, ("broken", "img/broken.png")])
    params = {"encoder": "resnet18", "weights": "none", "batch_size": 4, "num_workers": 2, "seed": 3}

    run = _run_stage(tmp_path, params, "--images", "images.csv")

    assert run.returncode == 0, run.stderr
    summary = run.stdout.strip().splitlines()[-1]
    assert summary.startswith("featurize: 5 images encoded, 1 skipped") and "images/s" in summary
    metrics = json.loads((tmp_path / "results" / "features.json").read_text())
    assert metrics == {"images": 5, "skipped": 1, "dim": 512, "encoder": "resnet18"}
    report = json.loads((tmp_path / "data" / "features" / "report.json").read_text())
    assert [s["image_id"] for s in report["skipped"]] == ["broken"]
    with h5py.File(tmp_path / "data" / "features" / "features.h5") as h5:
        assert h5["features"].shape == (5, 512)


def test_stage_script_rejects_unknown_encoder(tmp_path: Path) -> None:
    run = _run_stage(tmp_path, {"encoder": "vgg16"})
    assert run.returncode == 2
    assert "features.encoder" in run.stderr and "'vgg16' is not one of" in run.stderr
    assert "Traceback" not in run.stderr


def test_params_out_of_range() -> None:
    with pytest.raises(PipelineError, match="params features.batch_size: must be >= 1, got 0$"):
        checked(FeaturesParams(batch_size=0), "features")
    assert FeaturesParams().encoder == "efficientnet_lite0"


def test_resnet_imagenet_weights_are_downloaded_with_their_hash_checked_and_loaded(tmp_path: Path,
                                                                                   monkeypatch) -> None:
    # A stand-in checkpoint (random weights, seeded) served by a fake download: the file name's hash
    # prefix must be handed to the download for checking, and the weights must end up in the encoder.
    from pipeline.features.encoders import import_torchvision

    torch.manual_seed(5)
    state = import_torchvision().models.resnet18(weights=None).state_dict()
    downloads = []

    def download(url, dst, hash_prefix=None, progress=True):
        downloads.append((url.rsplit("/", 1)[-1], hash_prefix))
        torch.save(state, dst)

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    encoder = load_encoder("resnet18", "imagenet")
    assert downloads == [("resnet18-f37072fd.pth", "f37072fd")]
    loaded = encoder._model.state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in state.items() if not key.startswith("fc."))
    assert torch.equal(encoder._classifier.weight, state["fc.weight"])
    assert torch.equal(encoder._classifier.bias, state["fc.bias"])
