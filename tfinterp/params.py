"""Declared parameters: one mechanism for attacks, explainers, training steps and configs.

A family member declares ``params = {"steps": Param(50, int, min=1), ...}``. From that one
table come the validation at construction (unknown names, wrong types, out-of-range values:
a `UserError` that names the parameter and what was expected), the conversion of the
strings a user types (``--param steps=20``, TOML values), the ``--help`` listing and the
JSON summary of the values in force.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from tfinterp.errors import UserError

_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


@dataclass(frozen=True)
class Param:
    """One parameter: its default, type and range.

    type: ``int``, ``float``, ``bool``, ``str`` or ``list`` (a list of values of `item`);
    ``choices`` restricts the value to a set; ``min`` / ``max`` bound numbers (``min_open`` /
    ``max_open`` make a bound strict); ``none_ok`` allows None (the default is then None when
    not given); ``check`` / ``expect`` add a custom rule and its wording; ``alt`` names a
    second type the value may take instead (e.g. ``background``: the word "blur" or a float).
    """

    default: Any
    type: type = float
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False
    choices: tuple | None = None
    none_ok: bool = False
    check: Callable[[Any], bool] | None = None
    expect: str | None = None
    item: type | None = None
    alt: type | None = None
    doc: str = ""
    extra: dict = field(default_factory=dict)

    def describe(self) -> str:
        """What a valid value is, in words ("an integer >= 1")."""
        if self.expect:
            return self.expect
        if self.choices is not None:
            words = " or ".join(repr(c) if isinstance(c, str) else str(c) for c in self.choices)
            base = f"one of {words}"
        else:
            base = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
                    list: "a list"}.get(self.type, self.type.__name__)
            bounds = []
            if self.min is not None:
                bounds.append(f"{'>' if self.min_open else '>='} {self.min:g}")
            if self.max is not None:
                bounds.append(f"{'<' if self.max_open else '<='} {self.max:g}")
            if bounds:
                base += " " + " and ".join(bounds)
            if self.alt is not None:
                base += f" (or {self.alt.__name__ if self.alt is not str else 'a word'})"
        return base + (" or None" if self.none_ok else "")

    # ---- conversion and checking ---------------------------------------------------------

    def _convert(self, value, typ):
        """`value` as `typ` (strings parsed), or raise ValueError."""
        if typ is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
                return _BOOL_WORDS[value.strip().lower()]
            raise ValueError
        if typ is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, str):
                value = value.strip()
                f = float(value)
                if not f.is_integer():
                    raise ValueError
                return int(f)
            if hasattr(value, "dtype") and getattr(value, "ndim", 0) == 0:  # NumPy scalar
                value = value.item()
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, int):
                return int(value)
            raise ValueError
        if typ is float:
            if isinstance(value, bool):
                raise ValueError
            if hasattr(value, "dtype") and getattr(value, "ndim", 0) == 0:
                value = value.item()
            if isinstance(value, (int, float)):
                v = float(value)
            elif isinstance(value, str):
                v = float(value.strip())
            else:
                raise ValueError
            if not math.isfinite(v):
                raise ValueError
            return v
        if typ is str:
            if isinstance(value, str):
                return value
            raise ValueError
        if typ is list:
            if isinstance(value, str):
                value = [v for v in (s.strip() for s in value.split(",")) if v]
            if not isinstance(value, (list, tuple)):
                raise ValueError
            return [self._convert(v, self.item) for v in value] if self.item else list(value)
        if isinstance(value, typ):
            return value
        raise ValueError

    def _in_range(self, v) -> bool:
        if self.choices is not None and v not in self.choices:
            return False
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if self.min is not None and (v < self.min or (self.min_open and v == self.min)):
                return False
            if self.max is not None and (v > self.max or (self.max_open and v == self.max)):
                return False
        return True

    def coerce(self, name: str, value, owner: str = ""):
        """The validated value of parameter `name` (strings from the CLI or TOML are parsed)."""
        prefix = f"{owner}: " if owner else ""
        if value is None or (isinstance(value, str) and value.strip().lower() == "none" and self.none_ok):
            if self.none_ok:
                return None
            raise UserError(f"{prefix}{name} must be {self.describe()}, got None")
        for typ in (self.type, self.alt):
            if typ is None:
                continue
            try:
                v = self._convert(value, typ)
            except (ValueError, TypeError, OverflowError):
                continue
            if typ is self.type and not self._in_range(v):
                continue
            if self.check is not None and not self.check(v):
                continue
            return v
        raise UserError(f"{prefix}{name} must be {self.describe()}, got {value!r}")


def resolve(spec: dict[str, Param], values: dict, owner: str = "") -> dict:
    """Every parameter of `spec` validated: given `values` where present, defaults elsewhere.

    Unknown names are refused with the list of known ones.
    """
    prefix = f"{owner}: " if owner else ""
    unknown = sorted(set(values) - set(spec))
    if unknown:
        raise UserError(f"{prefix}unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                        f"known: {', '.join(sorted(spec))}")
    out = {}
    for name, p in spec.items():
        if name in values:
            out[name] = p.coerce(name, values[name], owner)
        else:
            out[name] = p.default if p.default is None else p.coerce(name, p.default, owner)
    return out


def describe_params(spec: dict[str, Param]) -> list[dict]:
    """Rows for `--help` listings and docs: name, default, what is expected, doc."""
    return [{"name": k, "default": p.default, "expect": p.describe(), "doc": p.doc} for k, p in spec.items()]


def format_params(spec: dict[str, Param], indent: str = "  ") -> str:
    """The table as text, one parameter a line."""
    rows = describe_params(spec)
    width = max((len(r["name"]) for r in rows), default=0)
    return "\n".join(f"{indent}{r['name']:<{width}}  default {r['default']!r}; {r['expect']}"
                     + (f". {r['doc']}" if r["doc"] else "") for r in rows)


def parse_assignments(items, flag: str = "--param") -> dict:
    """['steps=20', 'score=logit'] -> {'steps': '20', 'score': 'logit'}: raw strings, keys with '-' as '_'.

    The values stay strings; the declaring table converts them (`resolve`).
    """
    out = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"{flag} takes key=value, got '{item}'")
        key, value = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if not key:
            raise UserError(f"{flag} takes key=value, got '{item}'")
        out[key] = value.strip()
    return out


class Parameterized:
    """Mixin: a class with a declared `params` table; `configure(kwargs)` sets the values as attributes."""

    params: dict[str, Param] = {}
    registry_name = "base"

    @classmethod
    def param_spec(cls) -> dict[str, Param]:
        """The full table (subclasses may merge a common table in)."""
        return dict(cls.params)

    def configure(self, kwargs: dict) -> dict:
        values = resolve(self.param_spec(), kwargs, owner=self.registry_name)
        for k, v in values.items():
            setattr(self, k, v)
        self._param_values = values
        return values

    @property
    def config(self) -> dict:
        """The method's name and the parameter values in force (for JSON summaries)."""
        return {"method": self.registry_name, **{k: getattr(self, k) for k in self.param_spec()}}
