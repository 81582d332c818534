"""A user's check: train an MLP on scikit-learn's digits, compress it, rebuild it, compare test accuracy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from safetensors.numpy import save_file
from threadpoolctl import threadpool_limits

from netspectra.denoise import compress_model, load_factored
from netspectra.errors import CompressionRefused
from netspectra.io.safetensors_file import SafetensorsFile

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

RMT_METHODS = ("mp-edge", "gavish-donoho", "bema")


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    """64 -> 256 -> 10 ReLU MLP saved as safetensors in torch's (out, in) layout, with its test split."""
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    with warnings.catch_warnings(), threadpool_limits(1):  # module scope: outside conftest's per-test limit
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(256,), max_iter=150, random_state=0).fit(x_train, y_train)
    tensors = {}
    for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_, strict=True)):
        tensors[f"fc{i}.weight"] = np.ascontiguousarray(w.T, dtype=np.float32)
        tensors[f"fc{i}.bias"] = b.astype(np.float32)
    path = tmp_path_factory.mktemp("digits") / "mlp.safetensors"
    save_file(tensors, str(path))
    return path, x_test, y_test


def accuracy(weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    hidden = np.maximum(x @ weights["fc0.weight"].T + weights["fc0.bias"], 0.0)
    return float(np.mean(np.argmax(hidden @ weights["fc1.weight"].T + weights["fc1.bias"], axis=1) == y))


def read_all(path) -> dict[str, np.ndarray]:
    f = SafetensorsFile(path)
    return {name: f.read(name) for name in f.entries}


def test_rmt_compression_keeps_digits_accuracy(digits_model, tmp_path):
    """The accuracy holds; the data-free bound (the MLP cannot be run: no config.json) is the worst case over
    all inputs, 0.33-0.37 here, so it refuses them without --force (see test_the_bound_...)."""
    path, x_test, y_test = digits_model
    base = accuracy(read_all(path), x_test, y_test)
    assert base > 0.95
    for method in RMT_METHODS:
        for shrink in ("hard", "frobenius"):
            dense_out = tmp_path / f"{method}-{shrink}.safetensors"
            report = compress_model(path, dense_out, method=method, shrink=shrink, factored=False, force=True)
            fact_out = tmp_path / f"{method}-{shrink}-factored.safetensors"
            factored = compress_model(path, fact_out, method=method, shrink=shrink, force=True)
            dense = read_all(dense_out)
            assert {k: (e.dtype, e.shape) for k, e in SafetensorsFile(dense_out).entries.items()} == {
                k: (e.dtype, e.shape) for k, e in SafetensorsFile(path).entries.items()
            }
            (layer,) = report.layers  # fc1 (10 x 256) has M = 10 < 32 and is copied
            assert layer.name == "fc0.weight" and 3 <= layer.rank <= 24
            acc, acc_factored = accuracy(dense, x_test, y_test), accuracy(load_factored(fact_out), x_test, y_test)
            assert acc >= base - 0.03, (method, shrink, acc, base)
            assert acc_factored == pytest.approx(acc, abs=0.005)
            assert factored.layers[0].params_after < 0.4 * layer.params_before
            assert not report.damaged and 0.45 < layer.energy_kept < 0.75  # denoised, not destroyed


def test_an_aggressive_rank_visibly_hurts_so_the_margin_means_something(digits_model, tmp_path):
    path, x_test, y_test = digits_model
    base = accuracy(read_all(path), x_test, y_test)
    with pytest.raises(CompressionRefused, match="keeps 13% of its energy"):
        compress_model(path, tmp_path / "r1.safetensors", method="rank:1", factored=False)
    assert not (tmp_path / "r1.safetensors").exists()
    report = compress_model(path, tmp_path / "r1.safetensors", method="rank:1", factored=False, force=True)
    assert report.damaged == report.layers and report.layers[0].energy_kept < 0.25
    assert accuracy(read_all(tmp_path / "r1.safetensors"), x_test, y_test) < base - 0.3


def test_the_bound_holds_on_the_digits_mlp_and_its_suggestion_passes(digits_model, tmp_path):
    """The MLP is a chain x -> relu(W0 x + b0) -> W1 h + b1 with only W0 compressed: its output moves by at most
    eps ||W0||_2 ||W1||_2 ||x|| (the chain bound, eps = ||W0 - W0_hat||_2 / ||W0||_2) on every test image.  A
    refused setting's suggestion is one that passes the same bound."""
    path, x_test, y_test = digits_model
    original = read_all(path)
    scale = np.linalg.norm(original["fc0.weight"], 2) * np.linalg.norm(original["fc1.weight"], 2) * np.linalg.norm(x_test, axis=1)

    def logits(w):
        return np.maximum(x_test @ w["fc0.weight"].T + w["fc0.bias"], 0.0) @ w["fc1.weight"].T + w["fc1.bias"]

    for method in (*RMT_METHODS, "rank:8", "energy:0.99"):
        report = compress_model(path, tmp_path / "o.safetensors", method=method, factored=False, force=True)
        check = report.function
        assert check.judge == "bound" and check.note == "no config.json next to the weights"
        assert check.chain_bound == pytest.approx(report.layers[0].rel_spec_error)
        moved = np.linalg.norm(logits(read_all(tmp_path / "o.safetensors")) - logits(original), axis=1) / scale
        assert moved.max() <= check.chain_bound * (1 + 1e-4) + 1e-6, method
    with pytest.raises(CompressionRefused, match=r"chain bound .* fails .* passes: use --method (energy:[0-9.]+)") as info:
        compress_model(path, tmp_path / "r.safetensors", method="mp-edge")
    suggested = info.value.args[0].split("use --method ")[1].split(",")[0]
    report = compress_model(path, tmp_path / "r.safetensors", method=suggested)
    assert report.function.passed and report.function.chain_bound <= 0.1425
