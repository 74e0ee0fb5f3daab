"""A group's default sub-command (`tfinterp visualize MODEL` = `tfinterp visualize channels MODEL`)."""

from tfinterp.cli import app as app_module
from tfinterp.cli.main import default_subcommand


def test_default_inserted_only_where_omitted(monkeypatch):
    # `analyze` has real sub-commands; pretend `ratios` is its default
    monkeypatch.setitem(app_module.DEFAULT_SUBCOMMANDS, "analyze", "ratios")
    assert default_subcommand(["analyze", "m.keras", "--x", "1"]) == ["analyze", "ratios", "m.keras", "--x", "1"]
    assert default_subcommand(["--debug", "analyze", "m.keras"]) == ["--debug", "analyze", "ratios", "m.keras"]
    # a named sub-command, the group's help, a bare group and other commands are left alone
    assert default_subcommand(["analyze", "ratios", "m.keras"]) == ["analyze", "ratios", "m.keras"]
    assert default_subcommand(["analyze", "detect", "m"]) == ["analyze", "detect", "m"]
    assert default_subcommand(["analyze", "--help"]) == ["analyze", "--help"]
    assert default_subcommand(["analyze"]) == ["analyze"]
    assert default_subcommand(["explain", "a.png"]) == ["explain", "a.png"]


def test_unregistered_default_is_a_no_op(monkeypatch):
    monkeypatch.setitem(app_module.DEFAULT_SUBCOMMANDS, "analyze", "no-such-command")
    assert default_subcommand(["analyze", "m.keras"]) == ["analyze", "m.keras"]
