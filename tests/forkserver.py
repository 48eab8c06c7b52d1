"""Run real `nudge ...` commands in their own processes, fast enough to kill them many times.

Starting Python and importing Nudge (SciPy, pandas, SQLAlchemy) takes seconds on a busy
machine; a crash test that kills an import at random points needs many runs. So one server
process imports `nudge.cli` once and forks a fresh child per command: each child is a separate
process running the real command line entry point with its own database connections, and is
killed with a real SIGKILL. Run as `python -m tests.forkserver`; drive it with `ForkServer`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Child:
    """One forked command: its pid, and where its output goes."""

    pid: int
    stdout: Path
    stderr: Path
    started: float

    def output(self) -> str:
        return self.stdout.read_text(errors="replace")

    def errors(self) -> str:
        return self.stderr.read_text(errors="replace")


class ForkServer:
    """The test's side: start the server once, then run and kill commands through it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.count = 0
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.forkserver"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._read()["ready"]

    def start(self, argv: Sequence[str], env: Mapping[str, str]) -> Child:
        """Fork a child running `nudge ARGV` with these environment variables set."""
        self.count += 1
        out = self.workdir / f"run{self.count}.out"
        err = self.workdir / f"run{self.count}.err"
        self._send({"argv": list(argv), "env": dict(env), "stdout": str(out), "stderr": str(err)})
        return Child(self._read()["pid"], out, err, time.monotonic())

    def wait(self, child: Child) -> int:
        """The child's exit status: its exit code, or minus the signal that ended it."""
        self._send({"wait": child.pid})
        return int(self._read()["status"])

    def kill(self, child: Child) -> int:
        os.kill(child.pid, signal.SIGKILL)
        return self.wait(child)

    def run(self, argv: Sequence[str], env: Mapping[str, str]) -> tuple[int, Child]:
        child = self.start(argv, env)
        return self.wait(child), child

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the fork server died"
        return dict(json.loads(line))


def _child(request: dict[str, Any]) -> None:
    """In the forked child: point stdout/stderr at files, run the command, exit with its code."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    os.environ.update(request["env"])
    code = 0
    try:
        from nudge.cli import main

        main(request["argv"], prog_name="nudge", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # a traceback is a finding: show it and fail the run
        import traceback

        traceback.print_exc()
        code = 70
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _serve(requests: IO[str], replies: IO[str]) -> None:
    import click

    import nudge.db  # noqa: F401  (Alembic, which every command's runtime loads on first use)
    from nudge.cli import main

    # Every command's module is imported once here and inherited by every child (`nudge`
    # itself imports a command's module only when that command runs).
    context = click.Context(main)
    for name in main.list_commands(context):
        main.get_command(context, name)

    def reply(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    reply({"ready": True})
    for line in requests:
        request = json.loads(line)
        if "wait" in request:
            _, status = os.waitpid(request["wait"], 0)
            reply({"status": os.waitstatus_to_exitcode(status)})
            continue
        pid = os.fork()
        if pid == 0:
            _child(request)
        reply({"pid": pid})


if __name__ == "__main__":
    _serve(sys.stdin, sys.stdout)
