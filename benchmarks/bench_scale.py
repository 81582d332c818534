"""Scale benchmark: a synthetic 7B-shaped model, serial vs process pool vs Dask, tail-only, peak memory, GPU.

Run:  python benchmarks/bench_scale.py [--blocks 1 | --full] [--workers 2] [--tail-only 64] [--dir DIR]
                                      [--runs serial,pool,dask,tail,tail-fast] [--baseline-blocks N] [--skip-density]
      python benchmarks/bench_scale.py --backend torch    # only the torch backend per layer shape (a GPU)

The model has the shapes of a 7B decoder (LLaMA-style): per block four 4096 x 4096 attention projections
and three MLP matrices 11008 x 4096 / 4096 x 11008, bf16, one safetensors shard per block with an HF
index.  ``--full`` writes all 32 blocks (about 13 GB, hours on 2 cores); the default is ``--blocks 1``
(7 matrices, 0.4 GB).  Weights are Gaussian noise plus a rank-64 component with power-law singular values,
so that each layer has a heavy tail with xmin inside the top 64.

Every timing is printed as a ratio to a baseline measured in the same run (the machine is shared and
noisy):
  * full analysis per layer / bare float64 Gram + ``numpy.linalg.eigvalsh`` on the same matrices (in memory);
  * serial / process pool (speed-up), Dask LocalCluster / process pool (overhead);
  * tail-only (top K; the command line's default executor) / full analysis, and the alpha difference per layer;
  * ``tail-fast``: tail-only without the depth columns (``--tail-only K --no-depth``: float32 windows refined in
    float64 where they pay), its time against the bare baseline and its alphas against the dense tail-only run;
  * randomized SVD (p = k, q = 7 and sklearn's p = 10, q = 4) vs Lanczos on one 4096 x 4096 layer;
  * SLQ and free decompression of one layer: time / exact ESD time and Wasserstein-1 / KS errors;
  * peak RSS of each run (the process and its workers, each run in a fresh interpreter);
  * with CUDA: torch backend / dense time and the alpha agreement, and per layer shape the GPU / CPU time and
    the top eigenvalues' largest relative difference to the float64 CPU result, Gram in float64 and in float32
    (skipped without a GPU).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from netspectra.io import iter_weight_matrices

HIDDEN, INTERMEDIATE, BLOCKS_7B, RANK = 4096, 11008, 32, 64
ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
#: The analyses timed, each in a fresh interpreter (``--runs``).
RUNS = ("serial", "pool", "dask", "tail", "tail-fast")

#: Runs one analysis in a fresh interpreter; prints its wall time, the rows, and peak RSS (VmHWM) of
#: itself and of its largest descendant process, sampled every 0.25 s.  (ru_maxrss would be wrong here:
#: Linux carries it across fork and exec, so a child of this big process would report our own peak.)
RUNNER = """
import json, os, sys, threading, time, netspectra

def hwm_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0.0

def descendants(root):
    children = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as fh:
                children.setdefault(int(fh.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found

peaks, done = {}, threading.Event()

def sample():
    while not done.wait(0.25):
        for pid in descendants(os.getpid()):
            peaks[pid] = max(peaks.get(pid, 0.0), hwm_mb(pid))

threading.Thread(target=sample, daemon=True).start()
kw = json.loads(sys.argv[2])
if "options" in kw:
    kw["options"] = netspectra.AnalysisOptions(**kw["options"])
start = time.perf_counter()
report = netspectra.analyze(sys.argv[1], **kw)
elapsed = time.perf_counter() - start
done.set()
rows = [[layer.name, layer.alpha, layer.num_tail, layer.warning] for layer in report.layers]
print(json.dumps({"seconds": elapsed, "rss_mb": hwm_mb(os.getpid()), "child_rss_mb": max(peaks.values(), default=0.0),
                  "rows": rows}))
"""


def layer_weight(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """Gaussian noise / sqrt(max dim) plus a rank-64 term with singular values ~ Pareto (tail exponent ~3)."""
    noise = rng.standard_normal((rows, cols), dtype=np.float32) / np.float32(np.sqrt(max(rows, cols)))
    s = (1.0 - rng.random(RANK)) ** (-1.0 / 2.0)
    left = rng.standard_normal((rows, RANK), dtype=np.float32) / np.float32(np.sqrt(rows))
    right = rng.standard_normal((RANK, cols), dtype=np.float32) / np.float32(np.sqrt(cols))
    return noise + (left * s.astype(np.float32)) @ right


def write_model(directory: Path, blocks: int, seed: int = 0) -> Path:
    """Sharded bf16 safetensors with an HF index: ``model.layers.{i}.{self_attn,mlp}.*.weight``."""
    import torch
    from safetensors.torch import save_file

    rng = np.random.default_rng(seed)
    weight_map = {}
    for block in range(blocks):
        shard = f"model-{block + 1:05d}-of-{blocks:05d}.safetensors"
        shapes = {f"self_attn.{p}": (HIDDEN, HIDDEN) for p in ATTENTION}
        shapes |= {
            "mlp.gate_proj": (INTERMEDIATE, HIDDEN),
            "mlp.up_proj": (INTERMEDIATE, HIDDEN),
            "mlp.down_proj": (HIDDEN, INTERMEDIATE),
        }
        tensors = {}
        for part, (rows, cols) in shapes.items():
            name = f"model.layers.{block}.{part}.weight"
            tensors[name] = torch.from_numpy(layer_weight(rng, rows, cols)).to(torch.bfloat16)
            weight_map[name] = shard
        save_file(tensors, str(directory / shard))
    (directory / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return directory


def best_time(fn, repeats: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def fresh_run(path: Path, **kwargs) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, str(path), json.dumps(kwargs)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bare_eigvalsh_seconds(path: Path, matrices: int | None = None) -> float:
    """float64 Gram + eigvalsh of the first ``matrices`` matrices (all by default), loaded and converted
    beforehand (one at a time, to bound memory): the decomposition the analysis has to do, in the
    precision it does it in (``load`` decodes bf16 to float32; the analysis works in float64)."""
    total = 0.0
    for weight in list(iter_weight_matrices(path))[:matrices]:
        w = weight.load()[0].astype(np.float64)
        total += best_time(lambda w=w: np.linalg.eigvalsh(w.T @ w / w.shape[0]))
    return total


def one_layer(path: Path) -> np.ndarray:
    return next(w for w in iter_weight_matrices(path) if w.matrix_shape == (HIDDEN, HIDDEN)).load()[0]


def top_k_methods(w: np.ndarray, k: int) -> None:
    from netspectra.linalg.dense import dense_eigenvalues
    from netspectra.linalg.lanczos import lanczos_top_eigenvalues
    from netspectra.linalg.randomized import randomized_top_eigenvalues
    from netspectra.rmt.powerlaw import fit_power_law

    start = time.perf_counter()
    exact = dense_eigenvalues(w)
    t_dense = time.perf_counter() - start
    alpha = fit_power_law(exact[-k:]).alpha
    print(f"\ntop-{k} on one {HIDDEN}x{HIDDEN} layer (dense {t_dense:.1f} s = 1):")
    methods = {
        "lanczos": lambda: lanczos_top_eigenvalues(w, k),
        "randomized p=k q=7": lambda: randomized_top_eigenvalues(w, k),
        "randomized p=10 q=4": lambda: randomized_top_eigenvalues(w, k, oversample=10, power_iterations=4),
    }
    for name, fn in methods.items():
        start = time.perf_counter()
        top = fn()
        seconds = time.perf_counter() - start
        err = np.abs(top - exact[-k:]) / exact[-k:]
        print(
            f"  {name:<20} time ratio {seconds / t_dense:5.2f}  max rel err {err.max():.1e} "
            f"(bottom tenth {err[: k // 10].max():.1e})  alpha(top {k}) {fit_power_law(top).alpha - alpha:+.4f} vs exact"
        )


def densities(w: np.ndarray) -> None:
    from netspectra.linalg import DecompressionError, DiscreteDensity, cdf_distances, decompressed_esd, slq_density
    from netspectra.linalg.dense import dense_eigenvalues

    start = time.perf_counter()
    exact = DiscreteDensity.from_eigenvalues(dense_eigenvalues(w))
    t_exact = time.perf_counter() - start
    scale = float(np.mean(exact.nodes))
    print(
        f"\nspectral density of one {HIDDEN}x{HIDDEN} layer (exact ESD {t_exact:.1f} s = 1; W1 divided by the mean eigenvalue):"
    )
    for probes, steps in ((16, 32), (16, 64)):
        start = time.perf_counter()
        estimate = slq_density(w, probes=probes, steps=steps)
        seconds = time.perf_counter() - start
        w1, ks = cdf_distances(estimate, exact)
        print(
            f"  SLQ {probes} probes x {steps} steps        time ratio {seconds / t_exact:5.2f}  W1/mean {w1 / scale:.2e}  KS {ks:.3f}"
        )
    grid = np.linspace(0, 1.3 * exact.quantile(0.98), 2000)  # the bulk: the rank-64 spikes are outside the method's model
    for columns in (w.shape[1] // 2, w.shape[1] // 4):
        start = time.perf_counter()
        try:
            estimate = decompressed_esd(w, columns, grid)
        except DecompressionError as exc:
            print(f"  free decompression {w.shape[1] // columns}x: {exc}")
            continue
        seconds = time.perf_counter() - start
        w1, ks = cdf_distances(estimate, exact)
        print(
            f"  free decompression {w.shape[1] // columns}x ({columns} cols) time ratio {seconds / t_exact:5.2f}  "
            f"W1/mean {w1 / scale:.2e}  KS {ks:.3f}  mass {estimate.mass:.3f} (of 1; ~{RANK / HIDDEN:.3f} is in spikes)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=1, help="decoder blocks to write (default 1 of 32)")
    parser.add_argument("--full", action="store_true", help="all 32 blocks (about 13 GB)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tail-only", type=int, default=64)
    parser.add_argument("--dir", help="where to write the model (default: a temporary directory)")
    parser.add_argument("--skip-density", action="store_true", help="skip the top-k, SLQ and free-decompression part")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated subset of {','.join(RUNS)} (default all)")
    parser.add_argument(
        "--baseline-blocks",
        type=int,
        help="time the bare baseline on the first N blocks only and "
        "scale it to all (every block has the same shapes; default: all blocks)",
    )
    parser.add_argument(
        "--backend",
        choices=("torch",),
        help="torch: only the per-shape comparison of the torch backend (CUDA when torch sees it, else the CPU) "
        "with the dense float64 backend, for a lent GPU",
    )
    args = parser.parse_args()
    if args.backend == "torch":
        from netspectra.linalg.torch_backend import torch_device

        device_by_size(torch_device(), DEVICE_SHAPES)
        return
    runs = args.runs.split(",")
    if not set(runs) <= set(RUNS):
        parser.error(f"--runs: a subset of {','.join(RUNS)}")
    blocks = BLOCKS_7B if args.full else args.blocks
    root = Path(args.dir or tempfile.mkdtemp(prefix="bench_scale_"))
    root.mkdir(parents=True, exist_ok=True)
    need = blocks * (4 * HIDDEN * HIDDEN + 3 * HIDDEN * INTERMEDIATE) * 2
    if shutil.disk_usage(root).free < 2 * need:
        sys.exit(f"need {2 * need / 2**30:.1f} GiB free in {root}")
    try:
        start = time.perf_counter()
        path = write_model(root, blocks)
        layers = 7 * blocks
        print(
            f"model: {blocks} block(s), {layers} matrices, {need / 2**30:.2f} GiB bf16, written in {time.perf_counter() - start:.0f} s"
        )
        baseline_blocks = min(args.baseline_blocks or blocks, blocks)
        bare = bare_eigvalsh_seconds(path, 7 * baseline_blocks) * blocks / baseline_blocks
        options = {
            "serial": {"executor": "local"},
            "pool": {"executor": "process", "workers": args.workers},
            "dask": {"executor": "dask", "workers": args.workers},
            "tail": {"tail_only": args.tail_only, "executor": "process"},
            "tail-fast": {"tail_only": args.tail_only, "executor": "process", "options": {"depth": False}},
        }
        done = {name: fresh_run(path, **options[name]) for name in RUNS if name in runs}
        serial = done.get("serial")
        one_matrix_mb = INTERMEDIATE * HIDDEN * 8 / 2**20
        scaled = (
            f", timed on the first {baseline_blocks} block(s) x {blocks / baseline_blocks:g}" if baseline_blocks < blocks else ""
        )
        print(
            f"\nbaseline: float64 Gram + eigvalsh of the {layers} matrices in memory, {bare:.1f} s ({bare / layers:.2f} s per layer{scaled})"
        )
        labels = {
            "serial": "serial (local)",
            "pool": f"process pool x{args.workers}",
            "dask": f"dask LocalCluster x{args.workers}",
            "tail": f"tail-only K={args.tail_only} default",
            "tail-fast": f"tail-only K={args.tail_only} no depth",
        }
        print(f"{'run':<24}{'seconds':>9}{'/ bare':>8}{'/ serial':>10}{'peak RSS MB (self, largest worker)':>38}")
        for name, run in done.items():
            versus_serial = f"{run['seconds'] / serial['seconds']:>10.2f}" if serial else f"{'-':>10}"
            print(
                f"{labels[name]:<24}{run['seconds']:>9.1f}{run['seconds'] / bare:>8.2f}{versus_serial}"
                f"{run['rss_mb']:>26.0f}, {run['child_rss_mb']:.0f}"
            )
        print(f"peak RSS bound 2 GB + one float64 matrix = {2048 + one_matrix_mb:.0f} MB per process")
        if "tail" in done and "tail-fast" in done:
            a, b = (np.array([row[1] for row in done[name]["rows"]]) for name in ("tail", "tail-fast"))
            print(
                f"tail-only without depth against the dense tail-only run: max relative alpha difference {np.nanmax(np.abs(b - a) / a):.1e}"
            )
        if serial is None:
            return
        if "pool" in done:
            print(f"speed-up of the process pool: {serial['seconds'] / done['pool']['seconds']:.2f}x on {args.workers} workers")
        alpha = {name: np.array([row[1] for row in run["rows"]]) for name, run in done.items() if name != "tail"}
        for name in ("pool", "dask"):
            if name in done:
                print(
                    f"{labels[name]}: time / serial {done[name]['seconds'] / serial['seconds']:.2f}, alpha - serial max |diff| "
                    f"{np.max(np.abs(alpha[name] - alpha['serial'])):.1e} (BLAS thread counts differ: 2 here, 1 per worker)"
                )
        if "pool" in done and "dask" in done:
            print(f"dask overhead vs the pool: {done['dask']['seconds'] / done['pool']['seconds']:.2f}x")
        if "tail" in done:
            print(f"\n{'layer':<40}{'alpha full':>11}{'tail':>6}{'alpha K=' + str(args.tail_only):>12}{'tail':>6}  window")
            for full_row, tail_row in zip(serial["rows"], done["tail"]["rows"]):
                flag = "window-limited" if "window-limited" in tail_row[3] else ""
                print(f"{full_row[0]:<40}{full_row[1]:>11.3f}{full_row[2]:>6}{tail_row[1]:>12.3f}{tail_row[2]:>6}  {flag}")
        gpu(path, serial)
        if not args.skip_density:
            w = one_layer(path)
            top_k_methods(w, args.tail_only)
            densities(w)
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)


def gpu(path: Path, serial: dict) -> None:
    try:
        import torch
    except ImportError:
        print("\ntorch not installed: GPU part skipped")
        return
    if not torch.cuda.is_available():
        print("\nCUDA not available: GPU part skipped (--backend torch runs on the CPU here)")
        return
    on_gpu = fresh_run(path, backend="torch")
    diff = np.nanmax(np.abs(np.array([r[1] for r in on_gpu["rows"]]) - np.array([r[1] for r in serial["rows"]])))
    print(
        f"\nGPU ({torch.cuda.get_device_name()}): torch backend / dense serial time {on_gpu['seconds'] / serial['seconds']:.3f}, "
        f"max |alpha diff| {diff:.2e}"
    )
    device_by_size("cuda", DEVICE_SHAPES)


#: Layer shapes of :func:`device_by_size` (N x M, float32): a small one, the 7B attention and MLP shapes.
DEVICE_SHAPES = ((1024, 1024), (4096, 4096), (11008, 4096))
#: Top eigenvalues whose relative difference to the float64 CPU result is reported (target <= 1e-6).
DEVICE_TOP = 64


def device_by_size(device: str, shapes: tuple[tuple[int, int], ...]) -> None:
    """Per layer shape: the torch backend on ``device`` (Gram in float64 and in float32) against the dense float64
    backend on the CPU, time ratio (best of 2, after a warm-up) and the largest relative difference of the top
    :data:`DEVICE_TOP` eigenvalues."""
    from netspectra.linalg.dense import gram_eigenvalues
    from netspectra.linalg.torch_backend import GRAM_DTYPES, torch_eigenvalues

    rng = np.random.default_rng(0)
    print(f"\ntorch on {device} against dense float64 on the CPU (top {DEVICE_TOP} eigenvalues, target <= 1e-6 relative):")
    for n, m in shapes:
        w = rng.standard_t(3, (n, m)).astype(np.float32)
        cpu, cpu_seconds = _best_of_two(gram_eigenvalues, w)
        for dtype in GRAM_DTYPES:
            torch_eigenvalues(w, device=device, gram_dtype=dtype)  # warm-up: kernels, allocator
            evals, seconds = _best_of_two(torch_eigenvalues, w, device=device, gram_dtype=dtype)
            top, reference = np.sort(evals)[-DEVICE_TOP:], cpu[-DEVICE_TOP:]
            error = float(np.max(np.abs(top - reference) / reference))
            print(
                f"  {n:>6} x {m:<5} Gram {dtype}: {device} / CPU time {seconds / cpu_seconds:6.3f}, top max rel. diff {error:.1e}"
            )


def _best_of_two(run: Callable[..., np.ndarray], *args: object, **kwargs: object) -> tuple[np.ndarray, float]:
    """``run(*args, **kwargs)``'s result and its best wall time of two calls."""
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        result = run(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return result, best


if __name__ == "__main__":
    main()
