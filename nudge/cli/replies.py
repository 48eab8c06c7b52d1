"""`nudge replies`: replies no organisation can be told, for the platform operator to route."""

from __future__ import annotations

from datetime import UTC

import click

from nudge.cli.runtime import TEXT, NudgeGroup, Runtime, echo_json, pass_runtime
from nudge.errors import printable
from nudge.unplaced import place, read_unplaced, unplaced_replies


@click.group(cls=NudgeGroup)
def replies() -> None:
    """Replies sent to a number no trial sends from: list, read and place them.

    They match no participant and no organisation can be told, so no member of staff sees them
    until the platform operator places them with an organisation.
    """


@replies.command("unplaced")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
@pass_runtime
def replies_unplaced(runtime: Runtime, as_json: bool) -> None:
    """List the unplaced replies, oldest first: id, received (UTC), the number it was sent to,
    the sender's last 3 digits and the text's length (not the text)."""
    with runtime.session() as session:
        found = unplaced_replies(session)
    if as_json:
        echo_json([reply.as_dict() for reply in found])
        return
    if not found:
        click.echo("no unplaced replies")
        return
    table = [("ID", "RECEIVED (UTC)", "SENT TO", "FROM", "LENGTH")]
    for reply in found:
        received = str(reply.as_dict()["received_at"])
        row = (str(reply.id), received, reply.to_number, reply.from_masked, str(reply.length))
        table.append(row)
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    for line in table:
        padded = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        click.echo("  ".join([*padded, line[4]]))
    hint = "read one with: nudge replies show ID; route it with: nudge replies place ID --org SLUG"
    click.echo(hint, err=True)


@replies.command("show")
@click.argument("reply_id", metavar="ID", type=int)
@pass_runtime
def replies_show(runtime: Runtime, reply_id: int) -> None:
    """Print one unplaced reply's text, to route it; the look goes on the audit log."""
    with runtime.session() as session:
        reply = read_unplaced(session, runtime.clock, reply_id, runtime.actor)
        received = reply.received_at.astimezone(UTC).isoformat()
        header = f"reply {reply_id}, received {received}, sent to {reply.to_number}:"
        body = reply.body
    click.echo(header)
    click.echo(printable(body))


@replies.command("place")
@click.argument("reply_id", metavar="ID", type=int)
@click.option("--org", required=True, type=TEXT, help="The organisation (its short name).")
@pass_runtime
def replies_place(runtime: Runtime, reply_id: int, org: str) -> None:
    """Give an unplaced reply to an organisation: its researchers see it in their queue."""
    with runtime.session() as session:
        _, organisation = place(session, runtime.clock, reply_id, org, runtime.actor)
        slug = organisation.slug
    click.echo(f"reply {reply_id} placed with {slug}: its researchers see it at /replies")
