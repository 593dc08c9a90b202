"""The errors a user can cause: each is one line naming what is wrong and where, printed by the ``treelstm``
command after ``treelstm: error:`` with exit status 2. Anything else that escapes is a bug and shows its
traceback."""

from __future__ import annotations

__all__ = ["UserError", "ConfigError"]


class UserError(ValueError):
    """Input the user gave (a file, a config, a command-line value) cannot be used; the message says why."""


class ConfigError(UserError):
    """A config that cannot be used; the message names the file and the key."""
