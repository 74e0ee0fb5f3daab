"""`tfinterp methods`: the registered explainers and attacks with their declared parameters.

The listing is read from the same `Param` tables that validate `--param` and fill the JSON
summaries (`tfinterp.params`), so it cannot drift from what the methods accept.
"""

from __future__ import annotations

from tfinterp.errors import UserError

FAMILIES = ("explainers", "attacks")


def describe_methods(family: str = "explainers", name: str | None = None) -> str:
    """Text listing of one family (`explainers` or `attacks`), or of one of its methods."""
    from tfinterp.params import format_params

    if family == "explainers":
        from tfinterp.explain.base import EXPLAINERS as registry
    elif family == "attacks":
        from tfinterp.attacks.base import ATTACKS as registry
    else:
        raise UserError(f"unknown family '{family}'; use {' or '.join(FAMILIES)}")
    names = [name] if name is not None else registry.names()
    blocks = []
    for n in names:
        cls = registry.get(n)
        doc = (cls.__doc__ or "").strip().splitlines()
        head = f"{n}: {doc[0]}" if doc else n
        note = cls.params_note() if hasattr(cls, "params_note") else ""
        blocks.append(head + "\n" + format_params(cls.param_spec(), indent="    ")
                      + (f"\n    {note}" if note else ""))
    return "\n".join(blocks)
