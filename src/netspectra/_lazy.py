"""Package attributes imported on first use (PEP 562).

``import netspectra`` and the command line's start-up then cost only what they touch: the numerical
stack (SciPy, pandas, matplotlib) is imported by the first analysis, not by ``netspectra --version``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(
    package: str, exports: dict[str, tuple[str, ...]]
) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` of ``package`` for ``{module: names}``: each name is imported
    from its module when first asked for, then kept in the package's namespace."""
    home = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> object:  # noqa: N807 (the module hook's name)
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(set(home) | set(vars(sys.modules[package])))

    return __getattr__, __dir__, sorted(home)
