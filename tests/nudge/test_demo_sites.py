"""`nudge demo --sites N`: its parts, and the one-area demo left exactly as it was.

The fictional organisations and their staff, the export split into one file per site, the
demo's copy of the example with `sites:`, the site's share of the true effect, the option's
bounds, and the logins printed. The whole multi-site run is tests/nudge/test_demo.py's once
the site-aware import and results are in.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, col, select

from experiments.loader import LoadedTrial, load_trial_text
from experiments.synthetic import DEMO_COURTS, ExportShape, write_export
from nudge.accounts import authenticate
from nudge.cli import main
from nudge.cli.demo import MAX_SITES, MIN_SITES, login_text
from nudge.clock import FixedClock
from nudge.demo import sites
from nudge.demo.run import EXAMPLE, EXAMPLES, FIRST_HEARING, HEARING_DAYS, write_demo_definition
from nudge.demo.sites import Login, add_sites, demo_sites, site_factors, split_export
from nudge.models import AuditEvent, Membership, Organisation, User
from nudge.organisations import memberships

GOLDEN = Path(__file__).parent / "reference" / "demo-summary-seed1-size60.txt"


def test_the_sites_are_fictional_organisations_each_with_its_own_prefix() -> None:
    assert [s.slug for s in demo_sites(2)] == ["north-shire", "south-vale"]
    five = demo_sites(5)
    assert len({s.slug for s in five}) == len({s.prefix for s in five}) == 5
    assert all(s.name.endswith("Police (fictional)") for s in five)
    for count in (0, 1, 6):
        with pytest.raises(ValueError, match="2 to 5 sites"):
            demo_sites(count)
    # The command's bounds are the module's (kept apart so `nudge --help` loads no demo).
    assert (MIN_SITES, MAX_SITES) == (sites.MIN_SITES, sites.MAX_SITES)
    assert sites.MAX_SITES <= len(DEMO_COURTS), "every site needs a court of its own"


@pytest.mark.parametrize("count", [1, 7])
def test_a_number_of_sites_out_of_range_is_a_clear_error(tmp_path: Path, count: int) -> None:
    folder = tmp_path / "demo"
    result = CliRunner().invoke(
        main, ["demo", "--no-serve", "--sites", str(count), "--dir", str(folder)]
    )
    assert result.exit_code == 2
    assert f"Invalid value for '--sites': {count} is not in the range 2<=x<=5" in result.output
    assert "Traceback" not in result.output and not folder.exists()


def test_each_site_gets_its_organisation_and_a_researcher_and_a_lead(
    session: Session, clock: FixedClock
) -> None:
    logins = add_sites(session, clock, demo_sites(2), "demo")
    session.commit()
    organisations = {o.slug: o.name for o in session.exec(select(Organisation)).all()}
    assert organisations == {
        "north-shire": "North Shire Police (fictional)",
        "south-vale": "South Vale Police (fictional)",
    }
    assert [(x.email, x.role, x.organisation) for x in logins] == [
        ("researcher@north-shire.example.org", "researcher", "North Shire Police (fictional)"),
        ("lead@north-shire.example.org", "lead", "North Shire Police (fictional)"),
        ("researcher@south-vale.example.org", "researcher", "South Vale Police (fictional)"),
        ("lead@south-vale.example.org", "lead", "South Vale Police (fictional)"),
    ]
    assert len({x.password for x in logins}) == 4, "a password of its own for each"
    for login in logins:
        user = authenticate(session, clock, login.email, login.password, "test")
        assert user is not None and user.id is not None
        held = [(o.slug, role) for o, role in memberships(session, user.id)]
        assert held == [(login.email.split("@")[1].removesuffix(".example.org"), login.role)]
    assert len(session.exec(select(Membership)).all()) == 4  # each in its own site only
    actions = session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))).all()
    assert actions.count("organisation.created") == 2 and actions.count("user.created") == 4


def test_no_sites_make_no_organisation_and_no_account(session: Session, clock: FixedClock) -> None:
    assert add_sites(session, clock, (), "demo") == []
    assert session.exec(select(Organisation)).all() == []
    assert session.exec(select(User)).all() == []


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("count", [2, 5])
def test_the_export_is_split_by_court_with_each_sites_prefix(tmp_path: Path, count: int) -> None:
    export = write_export(
        tmp_path / "export.csv", 400, ExportShape(FIRST_HEARING, HEARING_DAYS), seed=3
    )
    places = demo_sites(count)
    files = split_export(export, places, tmp_path)
    assert list(files) == [s.slug for s in places]
    assert [p.name for p in files.values()] == [f"export-{s.slug}.csv" for s in places]
    original = _rows(export)
    unprefixed = []
    courts: dict[str, set[str]] = {}
    for place in places:
        rows = _rows(files[place.slug])
        assert rows, f"{place.slug} has people"
        header = files[place.slug].read_text(encoding="utf-8").splitlines()[0]
        assert header == export.read_text(encoding="utf-8").splitlines()[0]
        courts[place.slug] = {r["court"] for r in rows}
        for row in rows:
            for key in ("case_ref", "participant_ref"):
                assert row[key].startswith(f"{place.prefix}-"), row[key]
                row[key] = row[key].removeprefix(f"{place.prefix}-")
            unprefixed.append(row)

    # Every person once, unchanged but for the prefixes; no court shared; a case in one site.
    def ref(row: dict[str, str]) -> str:
        return row["participant_ref"]

    assert sorted(unprefixed, key=ref) == sorted(original, key=ref)
    assert sum(len(c) for c in courts.values()) == len(set().union(*courts.values()))
    assert set().union(*courts.values()) == {code for code, _ in DEMO_COURTS}
    case_site: dict[str, str] = {}
    for place in places:
        for row in _rows(files[place.slug]):
            assert case_site.setdefault(row["case_ref"], place.slug) == place.slug


def test_the_demos_copy_of_the_example_lists_the_sites_and_the_example_stays_as_it_is(
    tmp_path: Path,
) -> None:
    example = EXAMPLE.read_bytes()
    for places in ((), demo_sites(3)):
        path = write_demo_definition(tmp_path / f"trial-{len(places)}.yaml", places)
        loaded = load_trial_text(path.read_text(encoding="utf-8"), str(path), EXAMPLES)
        assert isinstance(loaded, LoadedTrial), loaded
        assert loaded.definition.site_slugs == tuple(s.slug for s in places)
        assert loaded.definition.id == "witness-reminders-2027"
    one_area = (tmp_path / "trial-0.yaml").read_text(encoding="utf-8")
    three = (tmp_path / "trial-3.yaml").read_text(encoding="utf-8")
    assert "sites:" not in one_area and three.startswith(one_area)
    assert EXAMPLE.read_bytes() == example and b"sites:" not in example


def test_the_true_effect_spreads_evenly_and_modestly_around_the_whole_trials() -> None:
    assert site_factors(demo_sites(2)) == {"north-shire": 0.7, "south-vale": 1.3}
    five = site_factors(demo_sites(5))
    assert list(five.values()) == [0.7, 0.85, 1.0, 1.15, 1.3]
    assert sum(five.values()) / 5 == pytest.approx(1.0)


def test_the_logins_are_printed_one_for_the_demo_or_each_sites() -> None:
    one = login_text("http://127.0.0.1:5000", (Login("demo@example.org", "pw", "researcher"),))
    assert one == (
        "\nResults: http://127.0.0.1:5000/  log in as demo@example.org with password pw\n"
        "(an account in the demo's own database only). Stop with Ctrl-C."
    )
    many = login_text(
        "http://127.0.0.1:5000",
        (
            Login("researcher@north-shire.example.org", "a1", "researcher", "North Shire"),
            Login("lead@north-shire.example.org", "b2", "lead", "North Shire"),
        ),
    )
    assert "that site's people only" in many
    assert "  North Shire, researcher: researcher@north-shire.example.org with password a1" in many
    assert "  North Shire, lead: lead@north-shire.example.org with password b2" in many


def test_without_sites_the_summary_is_byte_for_byte_the_one_area_demos(tmp_path: Path) -> None:
    """The summary of `nudge demo --size 60 --seed 1` as it was before --sites (recorded from
    the demo at commit fbad49d): leaving --sites out changes nothing, not even a draw."""
    folder = tmp_path / "demo"
    result = CliRunner().invoke(
        main, ["demo", "--no-serve", "--size", "60", "--seed", "1", "--dir", str(folder)]
    )
    assert result.exit_code == 0, result.output
    expected = GOLDEN.read_text(encoding="utf-8").replace("DEMO_FOLDER", str(folder.resolve()))
    assert result.stdout == expected
    assert not (folder / "files" / "export-north-shire.csv").exists()
