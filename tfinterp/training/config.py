"""Run configurations through the one validation mechanism (`tfinterp.params`).

A config class declares its keys as `Param`s (type, range, choices, default); building one
(from keyword arguments or a TOML table, `from_dict`) validates every key by
`tfinterp.params.resolve`, so a wrong value names its key and what was expected
(``train: epochs must be an integer >= 1, got 'three'``) and an unknown key lists the known
ones. `validate` re-checks the values in force (after attributes were changed) and runs the
config's cross-key checks.
"""

from __future__ import annotations

import copy
import dataclasses

from tfinterp.errors import UserError
from tfinterp.params import Param, resolve

STRATEGIES = ("default", "mirrored", "multiworker")


def common_params(epochs=10, batch_size=128, learning_rate=1e-3) -> dict[str, Param]:
    """The keys every training run shares, with the run's own defaults where they differ."""
    return {
        "epochs": Param(epochs, int, min=1, doc="training epochs"),
        "batch_size": Param(batch_size, int, min=1, doc="global batch size"),
        "learning_rate": Param(learning_rate, float, min=0, max=10, min_open=True, max_open=True,
                               doc="Adam learning rate"),
        "seed": Param(0, int, min=0, max=2**32 - 1, doc="seeds the split, the shuffle and the weights"),
        "limit": Param(None, int, min=1, none_ok=True, doc="use only N training examples (seeded subset)"),
        "val_fraction": Param(0.1, float, min=0, max=1, max_open=True,
                              doc="validation share for data sets without a tune split (0: none)"),
        "strategy": Param("default", str, choices=STRATEGIES, doc="tf.distribute strategy"),
        "cpu_devices": Param(2, int, min=1, doc="logical CPU devices for 'mirrored' without a GPU"),
        "mixed_precision": Param(False, bool, doc="mixed_float16 policy (for GPUs)"),
        "jit": Param(False, bool, doc="XLA-compile the train step"),
    }


def with_default(p: Param, default) -> Param:
    """`p` with another default."""
    return dataclasses.replace(p, default=default)


class RunConfig:
    """Base of the training configs: keys declared by `param_spec()`, validated on construction.

    `table` is the TOML table the config maps onto; it prefixes error messages.
    """

    table = "run"

    @classmethod
    def param_spec(cls) -> dict[str, Param]:
        raise NotImplementedError

    def __init__(self, **values):
        spec = self.param_spec()
        unknown = sorted(set(values) - set(spec))
        if unknown:
            raise UserError(f"{self.table}: unknown config key{'s' if len(unknown) > 1 else ''} "
                            f"{', '.join(unknown)}; known: {', '.join(sorted(spec))}")
        for k, v in resolve(spec, values, owner=self.table).items():
            object.__setattr__(self, k, copy.deepcopy(v))
        self.check()

    @classmethod
    def from_dict(cls, d: dict):
        """The config from a TOML table (or any mapping of key -> value)."""
        if not isinstance(d, dict):
            raise UserError(f"{cls.table}: the config must be a table of key = value, got {type(d).__name__}")
        return cls(**d)

    def validate(self):
        """Re-check every key's value in force and the cross-key rules; returns self."""
        values = resolve(self.param_spec(), self.asdict(), owner=self.table)
        for k, v in values.items():
            object.__setattr__(self, k, v)
        self.check()
        return self

    def check(self):
        """Cross-key checks of a subclass (raise `UserError`)."""

    def asdict(self) -> dict:
        """The values in force, in declaration order (for JSON)."""
        return {k: copy.deepcopy(getattr(self, k)) for k in self.param_spec()}

    def __eq__(self, other):
        return type(self) is type(other) and self.asdict() == other.asdict()

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.asdict().items())})"
