"""Files a command reads or writes, checked before any work: a clear message, never a hang.

Reading a FIFO waits for a writer that may never come, and a device such as /dev/zero never
ends, so every file Nudge reads (imports, definitions, letter files) must be a regular file.
A file Nudge writes (an export, a rejects file) is checked by creating the temporary file the
atomic write will use, beside the target, before anything is imported or committed: a folder,
a missing or read-only folder, a path below a regular file, or a name too long all show up
then, while nothing has changed.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def input_problem(path: Path) -> str | None:
    """Why `path` cannot be read as an input file, or None when it is a regular file."""
    try:
        mode = path.stat().st_mode  # follows a symbolic link to what it names
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    except ValueError:  # a NUL in the path
        return "the file name holds a NUL character"
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(mode):
        return (
            "is not a regular file (a pipe, device or socket could wait forever or never "
            "end); save the data to a file and give that"
        )
    return None


def output_problem(path: Path) -> str | None:
    """Why a file cannot be written atomically at `path`, or None (nothing is left behind)."""
    try:
        if path.is_dir():
            return "is a folder; give a file name"
        if path.exists() and not path.is_file():
            return "is not a regular file; give the name of a file to write"
        folder = path.parent
        for above in (folder, *folder.parents):
            if above.exists():
                if not above.is_dir():
                    return f"{above} is a file, not a folder"
                break
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        return f"cannot be written: {exc.strerror or exc}"
    except ValueError:
        return "the file name holds a NUL character"
    os.close(handle)
    os.unlink(temporary)
    return None
