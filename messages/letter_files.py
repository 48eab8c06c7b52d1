"""Print files that appear whole or not at all, and only as long as the run they belong to.

Each file is written under a temporary name in its own directory and flushed to disk, then
linked to its final name (which refuses to replace an existing file) and the directory
flushed, so after a power cut a print file is either complete or absent. If the block they
guard (the database commit) fails, the final names are removed again.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from messages.letter_layout import LetterProblem


def check_out_dir(out_dir: Path) -> None:
    """Make sure print files can be written to `out_dir` (made if missing), before any work."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        raise LetterProblem(
            f"cannot write the print files to {out_dir}: {exc.strerror or exc}; give --out a "
            "directory you can write to (nothing was printed or marked)"
        ) from None


@contextmanager
def published(files: Mapping[Path, bytes]) -> Iterator[None]:
    """The files under their final names while the block runs; removed if it fails."""
    temporaries: list[Path] = []
    finals: list[Path] = []
    try:
        try:
            for path, content in files.items():
                temporaries.append(_write_synced(path, content))
            for temporary, path in zip(temporaries, files, strict=True):
                os.link(temporary, path)  # unlike rename, never replaces a file already there
                finals.append(path)
            for temporary in temporaries:
                temporary.unlink()
            temporaries.clear()
            for directory in {path.parent for path in files}:
                _sync_directory(directory)
        except OSError as exc:
            raise LetterProblem(
                f"could not write the print files in {next(iter(files)).parent}: "
                f"{exc.strerror or exc}; nothing was marked posted"
            ) from None
        yield
    except BaseException:
        for path in finals:
            path.unlink(missing_ok=True)
        raise
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)


def _write_synced(path: Path, content: bytes) -> Path:
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _sync_directory(directory: Path) -> None:
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
