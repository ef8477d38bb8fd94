"""Tests of the featurize stage: decoding, encoders, HDF5 layout, skipping, streaming, the script."""

from __future__ import annotations

import json
import subprocess
import sys
import functools
import hashlib
import http.server
import socket
import threading
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from pipeline.features import encoders
from pipeline.features.encoders import download_weights, import_torchvision, load_encoder
from pipeline.core.errors import PipelineError
from pipeline.artifacts.features import FeatureWriter
from pipeline.core.params import checked
from pipeline.features.decode import load_rgb
from pipeline.features.featurize import featurize, resolve_device
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


def test_16_bit_greyscale_is_scaled_to_the_full_8_bit_range(tmp_path: Path) -> None:
    levels = np.array([[0, 257, 32896, 65535]], np.uint16)  # 0, 1, 128, 255 in 8 bits
    Image.fromarray(levels).save(tmp_path / "ramp16.png")
    assert np.asarray(load_rgb(tmp_path / "ramp16.png"))[0, :, 0].tolist() == [0, 1, 128, 255]


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


def test_flip_tta_stores_the_mean_of_the_image_and_its_mirror_image(tmp_path: Path, images) -> None:
    table = _write_table(tmp_path / "images.csv", images)
    flip = replace(TINY, tta="flip", num_workers=2, threads=2)  # the DataLoader workers encode

    featurize(table, tmp_path / "flip.h5", flip, base_dir=tmp_path)
    featurize(table, tmp_path / "none.h5", TINY, base_dir=tmp_path)

    encoder = load_encoder(TINY.encoder, TINY.weights, TINY.seed)
    transform = encoder.preprocessing.transform()
    with torch.inference_mode():
        pixels = [transform(load_rgb(tmp_path / path)).unsqueeze(0) for _, path in images]
        plain = np.concatenate([encoder.features(p).numpy() for p in pixels])
        mirrored = np.concatenate([encoder.features(torch.flip(p, dims=[3])).numpy() for p in pixels])
    with h5py.File(tmp_path / "flip.h5") as h5_flip, h5py.File(tmp_path / "none.h5") as h5_none:
        np.testing.assert_allclose(h5_flip["features"][:], (plain + mirrored) / 2, atol=1e-5)
        np.testing.assert_allclose(h5_none["features"][:], plain, atol=1e-5)
        assert relative_distance(plain, mirrored) > 1e-2  # the mirror image is a different input
        assert h5_flip.attrs["tta"] == "flip" and "tta" not in h5_none.attrs  # tta: none keeps the old attributes
    with pytest.raises(PipelineError, match="features.tta: 'mirror' is not 'none' or 'flip'"):
        encoder.augmented_features(pixels[0], "mirror")


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


RESNET_DIMS = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048, "resnet152": 2048}


@pytest.mark.parametrize("name", RESNET_DIMS)
def test_every_resnet_gives_its_documented_dimension_through_featurize(tmp_path: Path, name: str) -> None:
    for seed in (0, 1):
        Image.fromarray(_noise((24, 20), seed)).save(tmp_path / f"{seed}.png")
    table = _write_table(tmp_path / "images.csv", [("a", "0.png"), ("b", "1.png")])
    params = FeaturesParams(encoder=name, weights="none", batch_size=2, num_workers=0, threads=2)

    result = featurize(table, tmp_path / "features.h5", params, base_dir=tmp_path)

    assert (result.images, result.dim, result.device) == (2, RESNET_DIMS[name], "cpu")
    with h5py.File(tmp_path / "features.h5") as h5:
        assert h5["features"].shape == (2, RESNET_DIMS[name]) and h5.attrs["dim"] == RESNET_DIMS[name]
        rows = h5["features"][:]
    assert np.isfinite(rows).all() and not np.array_equal(rows[0], rows[1])


@pytest.fixture()
def resnet18_state(tmp_path: Path) -> tuple[dict[str, torch.Tensor], Path]:
    """A resnet18 state_dict with random weights (seeded), saved to a file as torchvision ships them."""
    torch.manual_seed(5)
    state = import_torchvision().models.resnet18(weights=None).state_dict()
    path = tmp_path / "served" / "resnet18-test.pth"
    path.parent.mkdir()
    torch.save(state, path)
    return state, path


@pytest.fixture()
def weights_server(resnet18_state):
    """Base URL of an HTTP server on 127.0.0.1 serving the folder of the saved state_dict."""
    _, path = resnet18_state
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(path.parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _assert_loaded(encoder, state: dict[str, torch.Tensor]) -> None:
    loaded = encoder._model.state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in state.items() if not key.startswith("fc."))
    assert torch.equal(encoder._classifier.weight, state["fc.weight"])
    assert torch.equal(encoder._classifier.bias, state["fc.bias"])


def test_resnet_imagenet_weights_are_downloaded_checked_and_loaded(tmp_path: Path, monkeypatch, resnet18_state,
                                                                   weights_server) -> None:
    state, served = resnet18_state
    sha256 = hashlib.sha256(served.read_bytes()).hexdigest()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(encoders, "imagenet_checkpoint", lambda name: (f"{weights_server}/{served.name}", sha256[:8]))

    encoder = load_encoder("resnet18", "imagenet")

    cached = tmp_path / "torch" / "hub" / "checkpoints" / served.name
    assert cached.read_bytes() == served.read_bytes()
    assert [p.name for p in cached.parent.iterdir()] == [served.name], "temporary file left behind"
    _assert_loaded(encoder, state)
    served.unlink()  # a second load uses the checked cache, not the network
    _assert_loaded(load_encoder("resnet18", "imagenet"), state)


def test_download_with_a_full_sha256_and_a_wrong_one(tmp_path: Path, resnet18_state, weights_server) -> None:
    _, served = resnet18_state
    url, sha256 = f"{weights_server}/{served.name}", hashlib.sha256(served.read_bytes()).hexdigest()

    with pytest.raises(PipelineError) as wrong:
        download_weights(url, "0" * 64, tmp_path / "cache" / "w.pth")
    message = str(wrong.value)
    assert "\n" not in message and url in message and "does not start with the expected 0000" in message
    assert "features.weights_path" in message
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir()), "partial file left"

    assert download_weights(url, sha256, tmp_path / "cache" / "w.pth").read_bytes() == served.read_bytes()
    with pytest.raises(PipelineError, match=r"w\.pth: its sha256 does not start with 1234.*delete it"):
        download_weights(url, "1234abcd", tmp_path / "cache" / "w.pth")


def test_resnet_weights_from_a_dead_url_are_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/resnet18-f37072fd.pth"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(encoders, "imagenet_checkpoint", lambda name: (url, "f37072fd"))

    with pytest.raises(PipelineError) as dead:
        load_encoder("resnet18", "imagenet")

    message = str(dead.value)
    assert "\n" not in message and url in message and "download failed" in message
    assert "features.weights_path: resnet18-f37072fd.pth" in message and "efficientnet_lite0" in message
    assert not (tmp_path / "torch").exists() or not [p for p in (tmp_path / "torch").rglob("*") if p.is_file()]


def test_the_real_resnet_checkpoints_are_named_by_their_sha256() -> None:
    url, sha256 = encoders.imagenet_checkpoint("resnet18")
    assert (url, sha256) == ("https://download.pytorch.org/models/resnet18-f37072fd.pth", "f37072fd")


def test_stage_script_dead_url_and_local_weights_file(tmp_path: Path, images, resnet18_state, monkeypatch) -> None:
    state, weights_file = resnet18_state
    _write_table(tmp_path / "images.csv", images)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{_closed_port()}")  # the real URL, unreachable

    offline = _run_stage(tmp_path, {"encoder": "resnet18", "num_workers": 0}, "--images", "images.csv")
    assert offline.returncode == 2
    (line,) = offline.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: features.encoder resnet18: cannot download") and "weights_path" in line
    assert "Traceback" not in offline.stderr and not (tmp_path / "data" / "features" / "features.h5").exists()
    assert not (tmp_path / "torch").exists() or not [p for p in (tmp_path / "torch").rglob("*") if p.is_file()]

    params = {"encoder": "resnet18", "weights_path": str(weights_file), "num_workers": 0}
    local = _run_stage(tmp_path, params, "--images", "images.csv")
    assert local.returncode == 0, local.stderr
    with h5py.File(tmp_path / "data" / "features" / "features.h5") as h5:
        stored = h5["features"][:]
        assert h5.attrs["weights"] == "imagenet"
    encoder = load_encoder("resnet18", "imagenet", weights_path=weights_file)
    _assert_loaded(encoder, state)
    transform = encoder.preprocessing.transform()
    with torch.inference_mode():
        expected = encoder.features(torch.stack([transform(load_rgb(tmp_path / p)) for _, p in images])).numpy()
    np.testing.assert_allclose(stored, expected, rtol=1e-5, atol=1e-5)


def test_weights_path_errors(tmp_path: Path, resnet18_state) -> None:
    _, weights_file = resnet18_state
    with pytest.raises(PipelineError, match=r"gone\.pth: file not found"):
        load_encoder("resnet18", "imagenet", weights_path=tmp_path / "gone.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(PipelineError, match=r"junk\.pth: not a torch state_dict file"):
        load_encoder("resnet18", "imagenet", weights_path=tmp_path / "junk.pth")
    with pytest.raises(PipelineError, match=r"resnet18-test\.pth: not weights of resnet50 \(.*\); set features"):
        load_encoder("resnet50", "imagenet", weights_path=weights_file)
    with pytest.raises(PipelineError, match="params features: weights_path: .* set weights: imagenet"):
        checked(FeaturesParams(weights="none", weights_path="w.pth"), "features")


@pytest.mark.parametrize(("values", "error"), [
    ({"device": "gpu"}, r"params features: device: 'gpu' is not auto, cpu, cuda or cuda:N"),
    ({"device": "cuda:x"}, r"'cuda:x' is not auto"),
    ({"autocast": "fp8"}, r"params features.autocast: 'fp8' is not one of 'none', 'bf16', 'fp16'$"),
    ({"device": "cpu", "autocast": "bf16"}, r"autocast: 'bf16' works on a CUDA device only"),
    ({"tta": "mirror"}, r"params features.tta: 'mirror' is not one of 'none', 'flip'$"),
])
def test_device_params_are_checked(values: dict, error: str) -> None:
    with pytest.raises(PipelineError, match=error):
        checked(FeaturesParams(**values), "features")
    checked(FeaturesParams(device="cuda:1", autocast="fp16"), "features")
    checked(FeaturesParams(device="auto", autocast="bf16"), "features")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour without CUDA")
def test_without_cuda_auto_is_the_cpu_and_cuda_is_one_clear_error(tmp_path: Path, images) -> None:
    assert resolve_device("auto") == torch.device("cpu") and resolve_device("cpu") == torch.device("cpu")
    for spec in ("cuda", "cuda:1"):
        with pytest.raises(PipelineError, match=rf"features.device {spec}: CUDA is not available .*use device: cpu"):
            resolve_device(spec)
    _write_table(tmp_path / "images.csv", images)
    run = _run_stage(tmp_path, {"encoder": "resnet18", "weights": "none", "device": "cuda:0"}, "--images", "images.csv")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("error: features.device cuda:0: CUDA is not available")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(("autocast", "tta"), [("none", "none"), ("bf16", "none"), ("none", "flip")])
def test_cuda_features_are_float32_and_agree_with_the_cpu(tmp_path: Path, images, autocast: str, tta: str) -> None:
    table = _write_table(tmp_path / "images.csv", images)
    featurize(table, tmp_path / "cpu.h5", replace(TINY, tta=tta), base_dir=tmp_path)
    on_cuda = replace(TINY, device="cuda", autocast=autocast, num_workers=2, tta=tta)
    assert featurize(table, tmp_path / "cuda.h5", on_cuda, base_dir=tmp_path).device == "cuda"
    with h5py.File(tmp_path / "cpu.h5") as cpu, h5py.File(tmp_path / "cuda.h5") as cuda:
        assert cuda["features"].dtype == np.float32
        assert cuda["image_ids"][:].tolist() == cpu["image_ids"][:].tolist()
        tolerance = 1e-3 if autocast == "none" else 5e-2
        assert relative_distance(cuda["features"][:], cpu["features"][:]) < tolerance
