"""Results store: runs, models, layer rows and spectra in one SQLite file; resume and reuse.

>>> from netspectra.store import Store, analyze_into_store
>>> run_id, report = analyze_into_store("model.safetensors", "netspectra.db")   # doctest: +SKIP
>>> Store("netspectra.db").load_report(run_id).layers[0].eigenvalues          # doctest: +SKIP
"""

from netspectra.store.analyze import StoredAnalysis, analyze_into_store
from netspectra.store.db import DEFAULT_STORE, ModelInfo, RunInfo, Store, StoreError

__all__ = [
    "DEFAULT_STORE",
    "ModelInfo",
    "RunInfo",
    "Store",
    "StoreError",
    "StoredAnalysis",
    "analyze_into_store",
]
