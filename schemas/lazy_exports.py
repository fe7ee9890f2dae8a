"""A package's public names, imported from their modules only when first used (PEP 562 ``__getattr__``).

Both ``schemas`` and ``catalog.search`` re-export names whose modules are costly to import (pydantic
models, the search engines); a process that needs one of them should not pay for all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, homes: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``homes`` maps each public name to the submodule holding it;
    once found, the name is stored in ``namespace`` (the package's globals) as an ordinary attribute."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    return __getattr__
