"""Files only their owner may read, written whole: a student's record, a roster's invite codes."""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path

from bot.errors import CommandError


def write_private(path: Path, text: str | bytes, *, overwrite: bool) -> None:
    """Write `text` (or bytes: a chart, a PDF) to `path`, readable by its owner only (0600),
    or raise CommandError.

    The text goes to a new file in the same folder, which then takes the path's place in one
    rename: a reader never sees half a file, and an existing file's looser mode is not kept.
    A symbolic link is refused, since it could point anywhere; so is an existing file, unless
    `overwrite`.
    """
    if path.is_symlink():
        raise CommandError(f"{path} is a symbolic link: give the path of a plain file instead")
    try:
        # mkstemp makes the file 0600, whatever the umask.
        descriptor, temporary = tempfile.mkstemp(
            dir=path.absolute().parent, prefix=f".{path.name}.", suffix=".part"
        )
    except OSError as err:
        raise CommandError(f"cannot write {path} ({err.strerror or err})") from None
    try:
        data = text.encode("utf-8") if isinstance(text, str) else text
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            # Unlike a rename, a link never replaces a file that appeared in the meantime.
            os.link(temporary, path)
    except FileExistsError:
        raise CommandError(f"{path} exists; it is never written over") from None
    except OSError as err:
        raise CommandError(f"cannot write {path} ({err.strerror or err})") from None
    finally:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
