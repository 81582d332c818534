"""Models to merge in tests and benchmarks: small synthetic models, and a testbed on scikit-learn's digits.

The digits testbed: a weak base MLP and two fine-tunes on disjoint digit sets.

* base: ``64 -> H -> H -> 10`` ReLU MLP (torch), trained for 60 Adam steps on 150 training images of all
  ten digits, so it is mediocre everywhere;
* task ``0-4`` / ``5-9``: a copy of the base fine-tuned for 150 Adam steps on every training image of its
  five digits, with the cross-entropy taken over its own five logits only (a task-specific head, as in the
  task-arithmetic literature), so that fine-tuning adds knowledge of its digits instead of merely
  suppressing the other five.

Accuracy is the 10-way argmax accuracy on the held-out images of each task and of all digits ("union").
Everything is seeded; training takes a few seconds on one CPU thread.  Used by the tests and by
``benchmarks/bench_merge.py``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TASKS = {"0-4": (0, 1, 2, 3, 4), "5-9": (5, 6, 7, 8, 9)}


@dataclass(frozen=True)
class DigitsTasks:
    """State dicts (float32 arrays in torch's (out, in) layout) and the test split."""

    base: dict[str, np.ndarray]
    finetuned: dict[str, dict[str, np.ndarray]]
    x_test: np.ndarray
    y_test: np.ndarray

    def accuracies(self, weights: dict[str, np.ndarray]) -> dict[str, float]:
        """Accuracy on each task's test images and on all of them (``union``)."""
        out = {}
        for task, digits in TASKS.items():
            mask = np.isin(self.y_test, digits)
            out[task] = accuracy(weights, self.x_test[mask], self.y_test[mask])
        out["union"] = accuracy(weights, self.x_test, self.y_test)
        return out


def accuracy(weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """10-way argmax accuracy of the MLP ``weights`` (NumPy forward pass)."""
    h = np.maximum(x @ weights["fc1.weight"].T + weights["fc1.bias"], 0.0)
    h = np.maximum(h @ weights["fc2.weight"].T + weights["fc2.bias"], 0.0)
    return float(np.mean(np.argmax(h @ weights["head.weight"].T + weights["head.bias"], axis=1) == y))


def build_digits_tasks(seed: int = 0, hidden: int = 64) -> DigitsTasks:
    """Train the base and the two fine-tunes (see the module docstring)."""
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        model = torch.nn.Sequential()
        model.add_module("fc1", torch.nn.Linear(64, hidden))
        model.add_module("act1", torch.nn.ReLU())
        model.add_module("fc2", torch.nn.Linear(hidden, hidden))
        model.add_module("act2", torch.nn.ReLU())
        model.add_module("head", torch.nn.Linear(hidden, 10))
        subset = np.random.default_rng(seed).choice(len(x_train), 150, replace=False)
        _train(model, x_train[subset], y_train[subset], steps=60, lr=1e-3, seed=seed)
        base = _state(model)
        finetuned = {}
        for i, (task, digits) in enumerate(TASKS.items()):
            ft = copy.deepcopy(model)
            mask = np.isin(y_train, digits)
            logits = torch.tensor([c in digits for c in range(10)])
            _train(ft, x_train[mask], y_train[mask], steps=150, lr=5e-4, seed=100 * seed + 10 + i, logits=logits)
            finetuned[task] = _state(ft)
    finally:
        torch.set_num_threads(threads)
    return DigitsTasks(base, finetuned, x_test, y_test)


def _train(model, x: np.ndarray, y: np.ndarray, *, steps: int, lr: float, seed: int, logits=None) -> None:
    import torch

    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y).long()
    for _ in range(steps):
        idx = torch.randint(0, len(xs), (64,), generator=gen)
        out = model(xs[idx])
        if logits is not None:
            out = out.masked_fill(~logits, float("-inf"))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(out, ys[idx]).backward()
        opt.step()


def _state(model) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().astype(np.float32).copy() for k, v in model.state_dict().items()}


def write_model(directory: Path, weights: dict[str, np.ndarray], n_shards: int = 1, config: dict | None = None) -> Path:
    """Write ``weights`` as a Hugging Face-style directory: one ``model.safetensors``, or ``n_shards``
    shards (tensors dealt round-robin) with ``model.safetensors.index.json``; config.json if given."""
    from safetensors.numpy import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (directory / "config.json").write_text(json.dumps(config))
    if n_shards == 1:
        save_file(weights, str(directory / "model.safetensors"), metadata={"format": "pt"})
        return directory
    names = list(weights)
    weight_map = {}
    for i in range(n_shards):
        shard = f"model-{i + 1:05d}-of-{n_shards:05d}.safetensors"
        part = {n: weights[n] for n in names[i::n_shards]}
        save_file(part, str(directory / shard), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, shard))
    (directory / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return directory


def small_model(seed: int = 0, scale: float = 0.1, base: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """A tiny model with every tensor kind a merge meets: matrices, a bias, a norm, a conv kernel and an
    integer buffer.  With ``base``, every float tensor is base + scale * noise (a "fine-tune")."""
    rng = np.random.default_rng(seed)
    shapes = {"fc1.weight": (24, 16), "fc1.bias": (24,), "norm.weight": (24,), "conv.weight": (4, 3, 3, 3), "fc2.weight": (8, 24)}
    out = {}
    for name, shape in shapes.items():
        noise = rng.standard_normal(shape).astype(np.float32)
        out[name] = noise if base is None else (base[name] + scale * noise).astype(np.float32)
    out["position_ids"] = np.arange(6, dtype=np.int64)[None]
    return out
