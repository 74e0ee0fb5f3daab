"""Errors a user can act on.

`UserError` marks bad input (missing or corrupt files, unknown names, wrong shapes,
out-of-range classes, NaNs). The CLI turns it into one line on stderr and exit status 2.
"""


class UserError(Exception):
    """Bad input: the message says what was wrong and what to do about it."""


def require(condition, message):
    """Raise `UserError(message)` unless `condition` holds."""
    if not condition:
        raise UserError(message)
