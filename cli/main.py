"""The `tfinterp` command line: thin wrappers that parse, call `tfinterp.runs`, print.

Each command group lives in its own module of this package and registers itself on the
Typer app of `tfinterp.cli.app`. TensorFlow is imported inside the commands, never at
import time, so `tfinterp --help` answers fast. Bad input ends with one line on stderr and
exit status 2 (`--debug` shows the traceback).
"""

from __future__ import annotations

import sys
import traceback

from tfinterp.cli import commands  # noqa: F401  (registers the foundation commands)
from tfinterp.cli import protonet  # noqa: F401  (registers `train protonet`)
from tfinterp.cli import attack  # noqa: F401  (registers attack, detect)
from tfinterp.cli import analyze  # noqa: F401  (registers analyze adversarial-set, ratios, detect, trace)
from tfinterp.cli import analyze_lc  # noqa: F401  (registers analyze dataset-examples|lc|consistency|lc-agreement, setup-wordnet)
from tfinterp.cli import encoder_decoder  # noqa: F401  (registers train encoder-decoder, figure encoder-decoder)
from tfinterp.cli import stylize  # noqa: F401  (registers `train style-decoder`)
from tfinterp.cli import visualize  # noqa: F401  (registers `visualize channels`, the default of `visualize MODEL`)
from tfinterp.cli import visualize_seq  # noqa: F401  (registers `visualize filters`, `visualize class-optimize`)
from tfinterp.cli import visualize_invert  # noqa: F401  (registers `visualize invert IMAGE --model M --layer L`)
from tfinterp.cli import report  # noqa: F401  (registers `report neurons`)
from tfinterp.cli import imetric  # noqa: F401  (registers `imetric build|participant|score`)
from tfinterp.cli import sequence  # noqa: F401  (registers `train sequence`)
from tfinterp.cli.app import app
from tfinterp.errors import UserError


def _click_exceptions() -> dict:
    """Exit / Abort / ClickException classes of click and of Typer's vendored copy (Typer >= 0.25)."""
    import click

    mods = [click.exceptions]
    try:
        from typer._click import exceptions as vendored

        mods.append(vendored)
    except ImportError:
        pass
    return {name: tuple(getattr(m, name) for m in mods if hasattr(m, name))
            for name in ("Exit", "Abort", "ClickException")}


def _runs_a_command(args) -> bool:
    """True when `args` run a command (they all import TensorFlow), not a --help or a bad name."""
    if any(a in ("--help", "-h") for a in args):
        return False
    words = _command_words(args)
    level = app
    for w in words[:-1]:
        level = {g.name: g.typer_instance for g in level.registered_groups}[w]
    return bool(words) and words[-1] in {c.name for c in level.registered_commands}


def _command_words(args) -> list[str]:
    """The command (and subcommand) names at the head of `args` ([] for none)."""
    words = [a for a in args if not a.startswith("-")]
    out, level = [], app
    for w in words[:2]:
        if w in {c.name for c in level.registered_commands}:
            return [*out, w]
        groups = {g.name: g.typer_instance for g in level.registered_groups}
        if w not in groups:
            break
        out, level = [*out, w], groups[w]
    return out


def default_subcommand(args: list[str]) -> list[str]:
    """`args` with a group's default sub-command inserted where the user omitted it
    (`visualize MODEL --layer L` -> `visualize channels MODEL --layer L`). `--help` on the
    group itself, and a word that names a sub-command, are left alone."""
    from tfinterp.cli.app import DEFAULT_SUBCOMMANDS

    for i, a in enumerate(args):
        if a.startswith("-"):
            continue
        default = DEFAULT_SUBCOMMANDS.get(a)
        if default is None:
            return args
        group = {g.name: g.typer_instance for g in app.registered_groups}.get(a)
        names = {c.name for c in group.registered_commands} if group is not None else set()
        rest = args[i + 1:]
        if default not in names or not rest or rest[0] in names or rest[0] in ("--help", "-h"):
            return args
        return [*args[:i + 1], default, *rest]
    return args


def _help_hint(e, args) -> str:
    """`see 'tfinterp <command> --help'` for the (sub)command whose options were wrong (click's
    context when the error carries one, else the command words of `args`)."""
    ctx = getattr(e, "ctx", None)
    path = getattr(ctx, "command_path", None) or " ".join(["tfinterp", *_command_words(args)])
    return f"see '{path} --help'"


def main(argv=None) -> int:
    """Console entry point: run the app; bad input -> one line on stderr, exit 2.

    TensorFlow's C++ start-up lines are kept off stderr here, once, for every command
    (`tfinterp.cli.common.quiet_tensorflow`); `--help` never imports TensorFlow.
    """
    exc = _click_exceptions()
    args = default_subcommand(list(sys.argv[1:] if argv is None else argv))
    debug = "--debug" in args
    if _runs_a_command(args):
        from tfinterp.cli.common import quiet_tensorflow

        quiet_tensorflow()
    try:
        result = app(args=args, prog_name="tfinterp", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except exc["Exit"] as e:
        return e.exit_code
    except exc["Abort"]:
        print("tfinterp: aborted", file=sys.stderr)
        return 130
    except exc["ClickException"] as e:
        if debug:
            traceback.print_exc()
        print(f"error: {e.format_message()} ({_help_hint(e, args)})", file=sys.stderr)
        return 2
    except UserError as e:
        if debug:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfinterp: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, or bad input we failed to recognise: still one line
        if debug:
            traceback.print_exc()
        msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
        print(f"error: {type(e).__name__}: {msg} (run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())


def run():
    """setuptools console-script target."""
    sys.exit(main())
