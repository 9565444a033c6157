"""Files only their owner may read: a student's record, a roster's invite codes."""

from __future__ import annotations

import os
from pathlib import Path

from bot.errors import CommandError


def write_private(path: Path, text: str, *, overwrite: bool) -> None:
    """Write `text` to `path`, readable by its owner only, or raise CommandError; an existing
    file is refused unless `overwrite`."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        descriptor = os.open(path, flags, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except FileExistsError:
        raise CommandError(f"{path} exists; it is never written over") from None
    except OSError as err:
        raise CommandError(f"cannot write {path} ({err.strerror or err})") from None
