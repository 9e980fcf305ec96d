"""A swarm node: a full server in a forked child, reporting liveness to the supervisor.

The node writes a heartbeat byte to its pipe every second while it is healthy (listeners
polling, workers progressing), in quiet mode too; the supervisor restarts a node that goes
silent. If the supervisor is gone (the node was re-parented, or the pipe is broken) the node
stops gracefully, committing, instead of running orphaned; it notices within a heartbeat.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..instrumentation.health import check_health

if TYPE_CHECKING:
    from ..runtime.server import Server

HEARTBEAT_INTERVAL_S = 1.0


def heartbeat(server: Server, fd: int, supervisor_pid: int, stopped: threading.Event) -> None:
    while not stopped.wait(HEARTBEAT_INTERVAL_S):
        if os.getppid() != supervisor_pid:  # the supervisor died: this node was re-parented
            server.stop()
            return
        if server.state not in ("running", "quiet") or not check_health(server.snapshot())[0]:
            continue
        try:
            os.write(fd, b".")
        except OSError:  # the supervisor is gone
            server.stop()
            return


def run_node(index: int, fd: int, build_server: Callable[[int], Server]) -> int:
    """The body of a forked child: nothing of the supervisor's survives here but its code."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGTSTP):
        signal.signal(signum, signal.SIG_DFL)
    supervisor_pid = os.getppid()
    server = build_server(index)
    stopped = threading.Event()
    beat = threading.Thread(target=heartbeat, args=(server, fd, supervisor_pid, stopped), name="karafka.heartbeat",
                            daemon=True)
    beat.start()
    try:
        return server.run()
    finally:
        stopped.set()
