"""CI's PostgreSQL pass leaves out `engine_independent` tests: only those that cannot reach it."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

TESTS = """
import pytest

def test_pure():
    assert 1 + 1 == 2

def test_on_the_database(db_url):
    pass

def test_through_the_app(app):
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest("from tests.conftest import *  # noqa: F403\n")
    pytester.makeini(
        "[pytest]\nmarkers =\n    engine_independent: never reaches the database under test\n"
    )
    return pytester


def test_only_tests_that_never_reach_the_database_under_test_are_engine_independent(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(test_sample=TESTS)
    result = suite.runpytest("--collect-only", "-q", "-m", "engine_independent")
    result.stdout.fnmatch_lines(["test_sample.py::test_pure", "1/3 tests collected*"])


def test_a_hand_mark_on_a_test_that_uses_the_database_is_refused(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(
        test_sample=TESTS.replace(
            "def test_on_the_database", "@pytest.mark.engine_independent\ndef test_on_the_database"
        )
    )
    result = suite.runpytest("--collect-only", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*marked engine_independent but they use the database under test*test_on_the_database"]
    )
