"""Package attributes imported on first use (PEP 562).

``import netspectra`` and the command line's start-up then cost only what they touch: the numerical
stack (SciPy, pandas, matplotlib) is imported by the first analysis, not by ``netspectra --version``.
The package's public submodules (``netspectra.demo``, ``netspectra.report``, ...) are imported the same way,
on first use, and ``dir(netspectra)`` lists the public names and submodules only.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable


def lazy_exports(
    package: str, exports: dict[str, tuple[str, ...]], extra: tuple[str, ...] = ()
) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` of ``package`` for ``{module: names}``: each name is imported
    from its module when first asked for, then kept in the package's namespace; a public submodule is
    imported when first asked for.  ``__dir__`` gives ``__all__`` (the names and ``extra``) and the public
    submodules."""
    home = {name: module for module, names in exports.items() for name in names}
    path = sys.modules[package].__path__
    submodules = {info.name for info in pkgutil.iter_modules(path) if not info.name.startswith("_")}

    def __getattr__(name: str) -> object:  # noqa: N807 (the module hook's name)
        module = home.get(name)
        if module is None:
            if name not in submodules:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            return importlib.import_module(f"{package}.{name}")  # the import sets the attribute
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted({*home, *extra, *submodules})

    return __getattr__, __dir__, sorted([*home, *extra])
