"""The holding area for chosen files: per person, short-lived, bounded, and swept."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from experiments.holding import (
    MAX_BYTES,
    MAX_USER_BYTES,
    HoldingArea,
    HoldingRefused,
    database_folder,
    sweep_all,
)
from experiments.upload import UploadedFile
from nudge.clock import FixedClock
from tests.conftest import PINNED

DEFINITION = UploadedFile("trial.yaml", b"id: t1\n")
LETTER = UploadedFile("letter.md", b"Dear {{ first_name }},\n")
RITA, RIA = "2", "5"


def area(
    folder: Path, max_bytes: int = MAX_BYTES, max_user_bytes: int = MAX_USER_BYTES
) -> HoldingArea:
    return HoldingArea(folder / "held", max_bytes=max_bytes, max_user_bytes=max_user_bytes)


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "held").iterdir())


def test_held_files_come_back_for_their_owner_only(tmp_path: Path) -> None:
    held = area(tmp_path).hold(None, RITA, PINNED, DEFINITION, [LETTER])
    back = area(tmp_path).held(held.token, RITA, PINNED)
    assert back is not None and back.definition == DEFINITION and back.letters == [LETTER]
    assert back.held_at == PINNED
    assert area(tmp_path).held(held.token, RIA, PINNED) is None
    assert area(tmp_path).held("../../etc/passwd", RITA, PINNED) is None


def test_holding_again_under_a_token_replaces_its_files_and_restarts_the_hour(
    tmp_path: Path,
) -> None:
    clock = FixedClock(PINNED)
    held = area(tmp_path).hold(None, RITA, clock.now(), DEFINITION, [LETTER])
    clock.advance(timedelta(minutes=50))
    again = area(tmp_path).hold(held.token, RITA, clock.now(), DEFINITION, [])
    assert again.token == held.token and len(files(tmp_path)) == 1
    clock.advance(timedelta(minutes=50))
    back = area(tmp_path).held(held.token, RITA, clock.now())
    assert back is not None and back.letters == []


def test_files_are_gone_an_hour_after_they_were_last_held(tmp_path: Path) -> None:
    clock = FixedClock(PINNED)
    held = area(tmp_path).hold(None, RITA, clock.now(), DEFINITION, [])
    clock.advance(timedelta(hours=1))
    assert area(tmp_path).held(held.token, RITA, clock.now()) is not None
    clock.advance(timedelta(seconds=1))
    assert area(tmp_path).held(held.token, RITA, clock.now()) is None
    assert files(tmp_path) == []


def test_a_persons_oldest_upload_makes_room_for_their_newest(tmp_path: Path) -> None:
    clock = FixedClock(PINNED)
    big = UploadedFile("letter.md", b"x" * 3000)
    limited = area(tmp_path, max_user_bytes=9000)
    first = limited.hold(None, RITA, clock.now(), DEFINITION, [big])
    clock.advance(timedelta(minutes=1))
    second = limited.hold(None, RITA, clock.now(), DEFINITION, [big])
    others = limited.hold(None, RIA, clock.now(), DEFINITION, [big])
    clock.advance(timedelta(minutes=1))
    third = limited.hold(None, RITA, clock.now(), DEFINITION, [big])
    assert limited.held(first.token, RITA, clock.now()) is None
    assert limited.held(second.token, RITA, clock.now()) is not None
    assert limited.held(third.token, RITA, clock.now()) is not None
    assert limited.held(others.token, RIA, clock.now()) is not None  # never someone else's


def test_a_full_area_refuses_with_a_clear_message_and_keeps_what_it_holds(
    tmp_path: Path,
) -> None:
    small = area(tmp_path, max_bytes=6 * 1024)
    kept = small.hold(None, RIA, PINNED, UploadedFile("trial.yaml", b"x" * 3000), [])
    with pytest.raises(HoldingRefused) as refused:
        small.hold(None, RITA, PINNED, UploadedFile("trial.yaml", b"y" * 3000), [])
    assert refused.value.message == (
        "the files were checked but could not be kept on the server for the next step (the "
        "space for chosen files, 6 KB, is full): choose them again when you send the form"
    )
    assert small.held(kept.token, RIA, PINNED) is not None and len(files(tmp_path)) == 1


def test_discarding_removes_the_file(tmp_path: Path) -> None:
    held = area(tmp_path).hold(None, RITA, PINNED, DEFINITION, [])
    area(tmp_path).discard(held.token, RIA)  # not theirs: nothing happens
    assert len(files(tmp_path)) == 1
    area(tmp_path).discard(held.token, RITA)
    assert files(tmp_path) == []


def test_a_damaged_holding_is_treated_as_gone(tmp_path: Path) -> None:
    held = area(tmp_path).hold(None, RITA, PINNED, DEFINITION, [])
    (path,) = (tmp_path / "held").iterdir()
    path.write_text("{not json")
    os.utime(path, (PINNED.timestamp(), PINNED.timestamp()))
    assert area(tmp_path).held(held.token, RITA, PINNED) is None
    assert files(tmp_path) == []


def aged(area: HoldingArea, token: str, by: timedelta) -> None:
    """Make a holding look as if it was held `by` earlier (later, when negative)."""
    (path,) = area.folder.glob(f"*.{token}.held.json")
    stamp = (PINNED - by).timestamp()
    os.utime(path, (stamp, stamp))


def test_start_up_sweeps_every_databases_expired_and_moved_clock_holdings(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    live = HoldingArea(database_folder(root, "sqlite:///live.db"))
    demo = HoldingArea(database_folder(root, "sqlite:///demo.db"))
    fresh = live.hold(None, RITA, PINNED, DEFINITION, [])
    stale = live.hold(None, RIA, PINNED, DEFINITION, [])
    aged(live, stale.token, timedelta(hours=2))
    moved = demo.hold(None, RITA, PINNED, DEFINITION, [])
    aged(demo, moved.token, -timedelta(days=400))  # stamped by a clock set far ahead
    leftover = live.folder / ".crashed.tmp"
    leftover.write_bytes(b"half")
    os.utime(leftover, (0, 0))
    sweep_all(root, PINNED)
    assert [p.name.split(".")[1] for p in live.folder.iterdir()] == [fresh.token]
    assert live.folder != demo.folder and not demo.folder.exists()  # emptied, so removed


def test_a_folder_that_cannot_be_written_refuses_with_the_reason(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    with pytest.raises(
        HoldingRefused, match=r"could not be kept on the server .*\(Not a directory\)"
    ):
        HoldingArea(blocked / "db").hold(None, RITA, PINNED, DEFINITION, [])
    sweep_all(blocked, PINNED)  # and start-up goes on
