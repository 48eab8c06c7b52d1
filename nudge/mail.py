"""Mail to people responsible for a trial: guardrail breaches. Standard library SMTP only.

`NUDGE_SMTP_URL` says where: `smtp://host:port` (plain, or STARTTLS when the server offers
it and `?starttls=required` insists), `smtps://host:port` (TLS from the start), with
`user:password@` when the server asks for a login; `NUDGE_MAIL_FROM` is the sender. A message
carries rates and counts, never a name, number, address or reply.
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from nudge.errors import ConfigError

TIMEOUT = 30.0


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: bool  # TLS from the start (smtps)
    starttls: str  # "auto" or "required"
    user: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpServer:
    """The server NUDGE_SMTP_URL names, or a ConfigError saying what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ConfigError(
            f"NUDGE_SMTP_URL: the scheme must be smtp:// or smtps://, not '{parts.scheme}://'"
        )
    if not parts.hostname:
        raise ConfigError("NUDGE_SMTP_URL: give the mail server's host, e.g. smtp://mail:587")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise ConfigError("NUDGE_SMTP_URL: the port must be a number from 1 to 65535") from None
    starttls = parse_qs(parts.query).get("starttls", ["auto"])[0]
    if starttls not in ("auto", "required"):
        raise ConfigError("NUDGE_SMTP_URL: starttls may be auto or required")
    return SmtpServer(
        parts.hostname,
        port,
        parts.scheme == "smtps",
        starttls,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


def send_mail(url: str, sender: str, to: Sequence[str], subject: str, body: str) -> None:
    """Send one plain-text message; raises OSError or smtplib.SMTPException on failure."""
    server = parse_smtp_url(url)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)
    smtp: smtplib.SMTP
    if server.tls:
        smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT)
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
    with smtp:
        smtp.ehlo()
        if not server.tls and (smtp.has_extn("starttls") or server.starttls == "required"):
            smtp.starttls()
            smtp.ehlo()
        if server.user is not None:
            smtp.login(server.user, server.password or "")
        smtp.send_message(message)
