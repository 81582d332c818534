"""Eigenvalues of X = W^T W / N with torch, on CUDA when ``torch.cuda.is_available()``, else on the CPU.

Convention: W is N x M with N >= M; the eigenvalues are those of X = W^T W / N.

The Gram matrix is formed on the device in ``gram_dtype`` (float64 by default) and diagonalised in
float64 (``torch.linalg.eigvalsh``: LAPACK ``syevd`` on the CPU, cuSOLVER ``syevd`` on CUDA), with the
same SVD fallback as the dense backend (:func:`netspectra.linalg.dense.needs_svd`).  float64 on the
device agrees with the dense backend to rounding; a float32 Gram (for GPUs with slow float64) adds a
relative error of about eps_32 sqrt(N) lambda_max / lambda to each eigenvalue, measured in
``benchmarks/bench_scale.py`` and docs/scale.md.  TF32 matmuls follow torch's global setting (off by
default for float32 matmul).
"""

from __future__ import annotations

import functools
import os

import numpy as np

from netspectra.linalg.dense import needs_svd

#: Precisions of the Gram matrix: never float16 (WeightWatcher 0.7.7 casts eigenvalues to float16 on CUDA, and its
#: GPU and CPU runs disagree).
GRAM_DTYPES = ("float64", "float32")
#: Device nodes of the NVIDIA driver: without them torch is not even imported to look for CUDA.
_NVIDIA_DEVICE = "/dev/nvidiactl"


@functools.cache
def cuda_available() -> bool:
    """True if torch is installed and sees a CUDA device (torch is imported only when a driver exists)."""
    if not os.path.exists(_NVIDIA_DEVICE):
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def torch_device(device: str | None = None) -> str:
    """``device`` if given, else ``"cuda"`` when available, else ``"cpu"``."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def torch_eigenvalues(w: np.ndarray, *, device: str | None = None, gram_dtype: str = "float64") -> np.ndarray:
    """Ascending eigenvalues of W^T W / N (N >= M) computed with torch on ``device``.

    Parameters
    ----------
    w : ndarray (N, M)
        Any real dtype (float16 and bfloat16 weights included: their values are exact in both Gram precisions).
    device : str, optional
        ``"cuda"``, ``"cuda:1"``, ``"cpu"``; default: CUDA when available.
    gram_dtype : {"float64", "float32"}
        Precision of W^T W (:data:`GRAM_DTYPES`); the eigenvalue solver always runs in float64.

    Raises
    ------
    ValueError
        For another ``gram_dtype`` (float16 included).
    """
    if gram_dtype not in GRAM_DTYPES:
        raise ValueError(f"gram_dtype {gram_dtype!r}: use one of {', '.join(GRAM_DTYPES)} (never float16)")
    import torch

    dev = torch.device(torch_device(device))
    t = torch.from_numpy(np.ascontiguousarray(w)).to(dev, dtype=getattr(torch, gram_dtype))
    gram = (t.T @ t).to(torch.float64) / w.shape[0]
    del t
    evals = torch.linalg.eigvalsh(gram).cpu().numpy()
    if needs_svd(evals, w.shape[1]):
        s = torch.linalg.svdvals(torch.from_numpy(np.ascontiguousarray(w)).to(dev)).cpu().numpy()
        return np.sort(s * s / w.shape[0])
    return evals
