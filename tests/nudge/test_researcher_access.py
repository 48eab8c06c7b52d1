"""What the navigation offers each role: the researcher pages' links for researchers only.

Who may open each page is tested for every route and role in test_route_roles.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlmodel import Session

from nudge.clock import FixedClock
from tests.conftest import EXAMPLE
from tests.factories import launch
from tests.web_helpers import logged_in, make_app


@pytest.fixture
def app(db_url: str, session: Session, clock: FixedClock, staff: None) -> Iterator[Flask]:
    app = make_app(db_url)
    launch(session, clock, EXAMPLE)
    session.commit()
    yield app
    app.extensions["nudge"]["engine"].dispose()


def test_only_researchers_see_the_researcher_links(app: Flask) -> None:
    assert 'href="/replies"' in logged_in(app, "researcher").get("/").get_data(as_text=True)
    for role in ("lead", "admin"):
        assert 'href="/replies"' not in logged_in(app, role).get("/").get_data(as_text=True)
