"""`nudge demo`: a whole trial on a simulated clock, then its results in the browser."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from nudge.demo.server import BackgroundServer
    from nudge.demo.sites import Login

log = logging.getLogger("nudge.demo")
# How many fictional organisations --sites may make: nudge.demo.sites.MIN_SITES and MAX_SITES
# (not imported here, so that `nudge --help` does not load the demo).
MIN_SITES, MAX_SITES = 2, 5


@click.command("demo")
@click.option(
    "--size",
    default=3000,
    show_default=True,
    type=click.IntRange(30, 20000),
    help="People in the synthetic court export.",
)
@click.option("--seed", default=1, show_default=True, type=int, help="Seeds every random draw.")
@click.option("--no-serve", is_flag=True, help="Stop after the summary; do not start the web app.")
@click.option(
    "--provider",
    type=click.Choice(["console", "notify"]),
    default="console",
    show_default=True,
    help="console: texts to the outbox, letters printed. notify: texts and letters through "
    "GOV.UK Notify's official client, to a local Notify-compatible fake.",
)
@click.option(
    "--port",
    default=5000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port for the web app on 127.0.0.1.",
)
@click.option(
    "--sites",
    type=click.IntRange(MIN_SITES, MAX_SITES),
    default=None,
    help=f"Run the trial as a multi-site trial in this many ({MIN_SITES} to {MAX_SITES}) "
    "fictional organisations, each with its own courts, people and staff logins. "
    "Left out: one area, as without it.",
)
@click.option(
    "--dir",
    "folder",
    default="nudge-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the demo's database, outbox, letters and files (remade on each run).",
)
def demo(
    size: int,
    seed: int,
    no_serve: bool,
    provider: str,
    port: int,
    sites: int | None,
    folder: Path,
) -> None:
    """Run the example trial end to end on a simulated clock, with fictional people.

    Uses its own SQLite database in --dir (never NUDGE_DATABASE_URL), the console SMS
    provider with fake delivery reports, and PDF letters; each run starts afresh. With
    --provider notify, texts and letters go through GOV.UK Notify's client to a local fake
    Notify (nudge/fakes), whose receipts and replies reach the app with a bearer token.
    With --sites N, N fictional organisations run the trial together, each importing its own
    people and seeing only them; the summary adds each site's estimate and the test of
    heterogeneity between sites.
    """
    # Imported here: nudge.demo uses the CLI's runtime and dispatcher, so not at import time.
    # The web server too: other commands should not pay for importing it.
    from nudge.demo.run import run_demo
    from nudge.demo.server import BackgroundServer
    from nudge.demo.summary import summary_text
    from nudge.demo.workspace import fresh_workspace

    started = time.perf_counter()
    with _progress() as shown:
        server = BackgroundServer(0 if no_serve else port)
        server.bind()
        try:
            result = run_demo(
                fresh_workspace(folder),
                server,
                size=size,
                seed=seed,
                provider=provider,
                sites=sites or 0,
            )
            click.echo(summary_text(result))
            log.info("demo finished in %.1f s", time.perf_counter() - started)
            if not no_serve:
                _serve(server, shown, result.logins)
        finally:
            server.stop()


def _serve(server: BackgroundServer, shown: _Progress, logins: tuple[Login, ...]) -> None:
    click.echo(login_text(server.url, logins))
    shown.serving = True
    try:
        server.wait()
    except KeyboardInterrupt:
        click.echo("stopped")


def login_text(url: str, logins: tuple[Login, ...]) -> str:
    """Where the results are and whom to log in as: the one demo account, or each site's."""
    if len(logins) == 1:
        email, password = logins[0].email, logins[0].password
        return (
            f"\nResults: {url}/  log in as {email} with password {password}\n"
            "(an account in the demo's own database only). Stop with Ctrl-C."
        )
    lines = [f"\nResults: {url}/  log in as a site's researcher or programme lead, who sees"]
    lines.append("that site's people only (accounts in the demo's own database only):")
    lines += [
        f"  {login.organisation}, {login.role}: {login.email} with password {login.password}"
        for login in logins
    ]
    return "\n".join([*lines, "Stop with Ctrl-C."])


class _Progress(logging.Filter):
    """What reaches the terminal: the demo's own lines, others' warnings, and once the web
    app is serving, its request lines too."""

    serving = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or record.name.startswith("nudge.demo"):
            return True
        return self.serving and record.name == "werkzeug"


@contextmanager
def _progress() -> Iterator[_Progress]:
    """Log to stderr for the length of the command (every line goes through `logging`)."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    shown = _Progress()
    handler.addFilter(shown)
    level = root.level
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        yield shown
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
