"""One registry for every family of the library: models, attacks, explainers, training steps,
stylizers, feature-visualization objectives, analyses.

A family creates one `Registry` in its base module and decorates each method's class (or
factory) with ``@REGISTRY.register("name")``. The built-in members register themselves when
their module is imported; the registry imports that module (``builtins=``) lazily on the first
look-up, so the base never imports its methods at import time and there is no import circle.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Iterator

from tfinterp.errors import UserError


class Registry:
    """Names -> classes (or factories) of one family, with the built-ins loaded on first use.

    `kind` names the family in error messages ("attack", "explanation method");
    `builtins` is the module (or list of modules) whose import registers the built-in members.
    """

    def __init__(self, kind: str, builtins: str | list[str] | None = None, attribute: str = "registry_name"):
        self.kind = kind
        self._builtins = [builtins] if isinstance(builtins, str) else list(builtins or [])
        self._attribute = attribute
        self._entries: dict[str, Any] = {}
        self._meta: dict[str, dict] = {}
        self._loaded = not self._builtins

    def register(self, name: str, **meta) -> Callable:
        """Decorator: add the class or factory under `name` (with optional metadata, e.g. a description)."""
        def deco(obj):
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._entries[name] = obj
            self._meta[name] = dict(meta)
            if isinstance(obj, type):
                setattr(obj, self._attribute, name)
            return obj
        return deco

    def _load(self):
        if not self._loaded:
            self._loaded = True  # set first: a built-in module may look itself up while importing
            for mod in self._builtins:
                importlib.import_module(mod)

    def names(self) -> list[str]:
        """The registered names, sorted."""
        self._load()
        return sorted(self._entries)

    def __contains__(self, name) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def get(self, name: str, extra: tuple[str, ...] = ()):
        """The class or factory registered under `name`; a `UserError` listing the known names if none is.

        `extra` are further accepted words (such as ``all``) that the error message should list.
        """
        self._load()
        if name not in self._entries:
            known = ", ".join(self.names() + list(extra))
            raise UserError(f"unknown {self.kind} '{name}'; available: {known}")
        return self._entries[name]

    def meta(self, name: str) -> dict:
        """The metadata given at registration."""
        self.get(name)
        return dict(self._meta[name])

    def create(self, name: str, *args, **kwargs):
        """Instantiate (or call) the member registered under `name`."""
        return self.get(name)(*args, **kwargs)
