"""`tfinterp methods`: the listing comes from the declared parameter tables, for every registered method."""

import pytest

from tfinterp.errors import UserError


@pytest.mark.parametrize("family", ["explainers", "attacks"])
def test_every_registered_method_and_parameter_is_listed(family):
    from tfinterp.runs.catalog import describe_methods

    if family == "explainers":
        from tfinterp.explain.base import EXPLAINERS as registry
    else:
        from tfinterp.attacks.base import ATTACKS as registry
    text = describe_methods(family)
    heads = [line.split(":")[0] for line in text.splitlines() if not line.startswith(" ")]
    assert heads == registry.names()
    for name in registry.names():
        block = describe_methods(family, name)
        listed = [line.split()[0] for line in block.splitlines()[1:] if line.startswith("    ") and
                  not line.startswith("     ")]
        spec = registry.get(name).param_spec()
        assert set(spec) <= set(listed), (name, set(spec) - set(listed))
        for k, p in spec.items():  # each row names the default and what is accepted, from the table
            row = next(line for line in block.splitlines() if line.split() and line.split()[0] == k)
            assert f"default {p.default!r}" in row and p.describe() in row


def test_pgd_row_by_hand_and_unknown_names():
    from tfinterp.runs.catalog import describe_methods

    rows = {line.split()[0]: line for line in describe_methods("attacks", "pgd").splitlines()[1:]}
    assert "default 40; an integer >= 1" in rows["steps"]
    assert "one of 'inf' or 'l2'" in rows["norm"]
    with pytest.raises(UserError, match="unknown attack 'nope'"):
        describe_methods("attacks", "nope")
    with pytest.raises(UserError, match="unknown family"):
        describe_methods("stylizers")
