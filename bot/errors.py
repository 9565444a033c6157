"""What a request to the core fails with when its user can put it right."""

from __future__ import annotations


class CommandError(Exception):
    """A refused command, in one line that says why and how to go on.

    The CLI prints it as `tandem: MESSAGE` on standard error and exits with 2."""
