"""Files a researcher chose, kept on the server between "Check only" and "Create".

A browser cannot put a chosen file back into a file input, so without this every check meant
choosing the definition and each letter file again. The files of one upload are kept together
in one file, named by a random token that the form carries and by a key for the person who
chose them: someone else's token opens nothing. Only trial definitions and letter templates
are kept, never anything about a participant.

The area is short-lived and bounded. A holding lasts an hour from its last use, measured on
the app's clock (a holding stamped more than an hour in the future is from a clock that was
moved, and goes too); expired ones are swept at start-up and whenever files are held. It is
discarded once its trial is created or amended. One person holds at most `max_user_bytes`
(their oldest uploads make room for a new one) and everyone together `max_bytes`, beyond which
files are checked but not kept, and the page says so.

Each database has its own folder: the person keys are its user ids, which mean someone else
in another database (the demo's, a test's).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from experiments.upload import UploadedFile
from nudge.errors import NudgeError

LIFETIME = timedelta(hours=1)
# A full upload is at most 5 MB (the app's request limit); in base64 about 6.7 MB.
MAX_USER_BYTES = 20 * 2**20
MAX_BYTES = 200 * 2**20
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
_SUFFIX = ".held.json"


class HoldingRefused(NudgeError):
    """The files could not be kept: the area is full."""


@dataclass(frozen=True)
class Held:
    """One upload's files as kept: the token the form carries, the files, and when kept."""

    token: str
    definition: UploadedFile | None
    letters: list[UploadedFile]
    held_at: datetime


class HoldingArea:
    """The held uploads of one database, in `folder` (made when first needed)."""

    def __init__(
        self,
        folder: Path,
        *,
        lifetime: timedelta = LIFETIME,
        max_bytes: int = MAX_BYTES,
        max_user_bytes: int = MAX_USER_BYTES,
    ) -> None:
        self.folder = folder
        self.lifetime = lifetime
        self.max_bytes = max_bytes
        self.max_user_bytes = max_user_bytes

    def held(self, token: str | None, owner: str, now: datetime) -> Held | None:
        """The files held under `token` for `owner`, or None (unknown, expired, not theirs)."""
        path = self._path(token, owner)
        if path is None or not path.is_file():
            return None
        if _expired(path, now, self.lifetime):
            _remove(path)
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            definition = _file(data["definition"]) if data["definition"] else None
            letters = [_file(letter) for letter in data["letters"]]
        except (OSError, ValueError, KeyError, TypeError, binascii.Error):
            _remove(path)  # damaged or from another release: as good as expired
            return None
        assert token is not None
        return Held(token, definition, letters, _stamp(path))

    def hold(
        self,
        token: str | None,
        owner: str,
        now: datetime,
        definition: UploadedFile | None,
        letters: list[UploadedFile],
    ) -> Held:
        """Keep these files under `token` (a new one when None), replacing what it held."""
        self.sweep(now)
        token = token if token and _TOKEN.fullmatch(token) else secrets.token_urlsafe(24)
        path = self._path(token, owner)
        assert path is not None
        payload = json.dumps(
            {
                "definition": _entry(definition) if definition else None,
                "letters": [_entry(letter) for letter in letters],
            }
        ).encode("utf-8")
        self._make_room(path, owner, len(payload))
        try:
            self._write(path, payload, now)
        except OSError as exc:
            raise HoldingRefused(
                "the files were checked but could not be kept on the server for the next step "
                f"({exc.strerror or exc}): choose them again when you send the form"
            ) from exc
        return Held(token, definition, list(letters), now.astimezone(UTC))

    def _write(self, path: Path, payload: bytes, now: datetime) -> None:
        """Write the whole file beside its place, then move it there: never half a file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(payload)
            stamp = now.timestamp()
            os.utime(temporary, (stamp, stamp))
            os.replace(temporary, path)
        except BaseException:
            _remove(Path(temporary))
            raise

    def discard(self, token: str | None, owner: str) -> None:
        path = self._path(token, owner)
        if path is not None:
            _remove(path)

    def sweep(self, now: datetime) -> None:
        """Remove every expired holding, and temporary files left by a crash."""
        sweep_folder(self.folder, now, self.lifetime)

    def _path(self, token: str | None, owner: str) -> Path | None:
        if not token or not _TOKEN.fullmatch(token):
            return None
        return self.folder / f"{_owner_key(owner)}.{token}{_SUFFIX}"

    def _make_room(self, path: Path, owner: str, size: int) -> None:
        """Drop the owner's oldest other holdings to stay under their share; refuse when the
        area as a whole is full."""
        held = [p for p in self._holdings() if p != path]
        mine = sorted(
            (p for p in held if p.name.startswith(_owner_key(owner) + ".")), key=_stamp_key
        )
        while mine and sum(_size(p) for p in mine) + size > self.max_user_bytes:
            _remove(mine.pop(0))
        everyone = sum(_size(p) for p in self._holdings() if p != path)
        if size > self.max_user_bytes or everyone + size > self.max_bytes:
            _remove(path)  # what it held before is not what was just checked
            raise HoldingRefused(
                f"the files were checked but could not be kept on the server for the next step "
                f"(the space for chosen files, {_megabytes(self.max_bytes)}, is full): choose "
                "them again when you send the form"
            )

    def _holdings(self) -> list[Path]:
        return [p for p in _listing(self.folder) if p.name.endswith(_SUFFIX)]


def database_folder(root: Path, database_url: str) -> Path:
    """The folder of one database's holdings under the area's `root`."""
    return root / hashlib.sha256(database_url.encode("utf-8")).hexdigest()[:16]


def sweep_all(root: Path, now: datetime, lifetime: timedelta = LIFETIME) -> None:
    """At start-up: every database's expired holdings, and folders left empty.

    A folder that cannot be read is left alone: the app starts all the same, and holding
    files then says why it cannot.
    """
    for folder in _listing(root):
        if folder.is_dir():
            sweep_folder(folder, now, lifetime)
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty


def sweep_folder(folder: Path, now: datetime, lifetime: timedelta) -> None:
    for path in _listing(folder):
        stale_temporary = path.name.endswith(".tmp") and _expired(path, now, lifetime)
        if stale_temporary or (path.name.endswith(_SUFFIX) and _expired(path, now, lifetime)):
            _remove(path)


def _listing(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:  # missing, or not readable
        return []


def _expired(path: Path, now: datetime, lifetime: timedelta) -> bool:
    try:
        age = now - _stamp(path)
    except OSError:
        return False  # gone already
    return abs(age) > lifetime


def _stamp(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _stamp_key(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):  # gone already, or for the next sweep to try again
        path.unlink()


def _owner_key(owner: str) -> str:
    return hashlib.sha256(owner.encode("utf-8")).hexdigest()[:16]


def _entry(upload: UploadedFile) -> dict[str, str]:
    return {"name": upload.name, "data": base64.b64encode(upload.data).decode("ascii")}


def _file(entry: dict[str, str]) -> UploadedFile:
    return UploadedFile(str(entry["name"]), base64.b64decode(entry["data"], validate=True))


def _megabytes(size: int) -> str:
    return f"{size / 2**20:g} MB" if size >= 2**20 else f"{size / 2**10:g} KB"
