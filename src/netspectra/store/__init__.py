"""Results store: runs, models, layer rows and spectra in one SQLite file; resume and reuse.

>>> from netspectra.store import Store, analyze_into_store
>>> run_id, report = analyze_into_store("model.safetensors", "netspectra.db")   # doctest: +SKIP
>>> Store("netspectra.db").load_report(run_id).layers[0].eigenvalues          # doctest: +SKIP
"""

from netspectra._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "netspectra.store.analyze": ("StoredAnalysis", "analyze_into_store"),
        "netspectra.store.db": ("DEFAULT_STORE", "ModelInfo", "RunInfo", "Store", "StoredRun"),
        "netspectra.store.errors": ("StoreError", "UntrustedRun"),
    },
)
