"""The fake GOV.UK Notify server, kept in the product (nudge/fakes/notify_server.py) since the
demo runs against it too; re-exported here so tests import their fakes from one place.

    python -m tests.fakes.notify_server --port 0 [--now ISO]

still starts it as a process (bench/dispatch.py does), as `python -m nudge.fakes.notify_server`.
"""

from __future__ import annotations

from nudge.fakes.notify_server import (
    CallbackSender,
    FakeNotifyServer,
    check_token,
    main,
    nudge_env,
)

__all__ = ["CallbackSender", "FakeNotifyServer", "check_token", "main", "nudge_env"]

if __name__ == "__main__":
    main()
