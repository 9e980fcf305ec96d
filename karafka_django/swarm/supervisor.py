"""The swarm supervisor: forks nodes, watches their heartbeats, restarts them, forwards signals.

Fork safety: the supervisor creates no librdkafka client, holds no database connection and
runs no thread but its own main loop, so a fork copies nothing that breaks in the child. It
restarts a node that exits or stops reporting within ``SWARM_NODE_REPORT_TIMEOUT_MS``; a node
that keeps dying soon after start is restarted with a growing backoff, not in a tight loop.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..instrumentation import Monitor

#: A node that lived shorter than this counts as crash-looping.
STABLE_AFTER_S = 10.0
MAX_RESTART_BACKOFF_S = 30.0


@dataclass
class Node:
    index: int
    pid: int = 0
    fd: int = -1
    started_at: float = 0.0
    last_seen: float = 0.0
    quick_failures: int = 0
    restart_at: float | None = None
    exit_code: int | None = None
    alive: bool = field(default=False)


class Supervisor:
    def __init__(
        self,
        nodes: int,
        node_main: Callable[[int, int], int],
        report_timeout_s: float,
        shutdown_timeout_s: float,
        monitor: Monitor,
    ):
        self.nodes = [Node(i) for i in range(nodes)]
        self.node_main = node_main
        self.report_timeout_s = report_timeout_s
        self.shutdown_timeout_s = shutdown_timeout_s
        self.monitor = monitor
        self._stopping_since: float | None = None
        self._forced = False

    # -- lifecycle -------------------------------------------------------------------------------

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGTSTP, lambda signum, _frame: self._forward(signal.SIGTSTP))
        for node in self.nodes:
            self._spawn(node)
        self.monitor.instrument("swarm.running", pid=os.getpid(), nodes=len(self.nodes))
        while True:
            self._read_heartbeats(0.5)
            self._reap()
            now = time.monotonic()
            if self._stopping_since is None:
                self._watch(now)
            elif not any(node.alive for node in self.nodes):
                break
            elif now - self._stopping_since > self.shutdown_timeout_s + 5:
                self._kill_all()
        code = 0 if all(node.exit_code == 0 for node in self.nodes) and not self._forced else 1
        self.monitor.instrument("swarm.stopped", pid=os.getpid(), exit_code=code)
        return code

    def _spawn(self, node: Node) -> None:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: it keeps only its own pipe end, not its siblings'
            os.close(read_fd)
            for sibling in self.nodes:
                if sibling.fd >= 0:
                    os.close(sibling.fd)
            code = 1
            try:
                code = self.node_main(node.index, write_fd)
            finally:
                os._exit(code)
        os.close(write_fd)
        now = time.monotonic()
        node.pid, node.fd, node.started_at, node.last_seen = pid, read_fd, now, now
        node.alive, node.restart_at, node.exit_code = True, None, None
        self.monitor.instrument("swarm.node_started", node=node.index, pid=pid)

    def _read_heartbeats(self, timeout: float) -> None:
        fds = {node.fd: node for node in self.nodes if node.alive and node.fd >= 0}
        try:
            readable, _, _ = select.select(list(fds), [], [], timeout)
        except InterruptedError:
            return
        for fd in readable:
            node = fds[fd]
            if os.read(fd, 4096):
                node.last_seen = time.monotonic()
            else:  # the node closed its end: it is exiting
                os.close(fd)
                node.fd = -1

    def _reap(self) -> None:
        for node in self.nodes:
            if not node.alive:
                continue
            pid, status = os.waitpid(node.pid, os.WNOHANG)
            if pid == 0:
                continue
            node.alive = False
            node.exit_code = os.waitstatus_to_exitcode(status)
            if node.fd >= 0:
                os.close(node.fd)
                node.fd = -1
            lived = time.monotonic() - node.started_at
            if self._stopping_since is not None:
                self.monitor.instrument("swarm.node_exited", node=node.index, pid=node.pid, exit_code=node.exit_code)
                continue
            node.quick_failures = node.quick_failures + 1 if lived < STABLE_AFTER_S else 0
            delay = 0.0 if not node.quick_failures else min(MAX_RESTART_BACKOFF_S, 2.0 ** (node.quick_failures - 1))
            node.restart_at = time.monotonic() + delay
            self.monitor.instrument("swarm.node_exited", node=node.index, pid=node.pid, exit_code=node.exit_code,
                                    restart_in_s=delay)

    def _watch(self, now: float) -> None:
        for node in self.nodes:
            if node.alive and now - node.last_seen > self.report_timeout_s:
                self.monitor.instrument("swarm.node_silent", node=node.index, pid=node.pid,
                                        silent_s=round(now - node.last_seen, 1))
                os.kill(node.pid, signal.SIGKILL)
                node.last_seen = now  # reaped (and restarted) on a next turn
            elif not node.alive and node.restart_at is not None and now >= node.restart_at:
                self._spawn(node)

    # -- signals ---------------------------------------------------------------------------------

    def _forward(self, signum: int) -> None:
        for node in self.nodes:
            if node.alive:
                os.kill(node.pid, signum)

    def _on_stop_signal(self, signum: int, _frame: Any) -> None:
        self.monitor.instrument("process.notice_signal", signal=signal.Signals(signum).name)
        now = time.monotonic()
        if self._stopping_since is not None and now - self._stopping_since > 1.0:
            self._kill_all()
            return
        if self._stopping_since is None:
            self._stopping_since = now
            self._forward(signal.SIGTERM)

    def _kill_all(self) -> None:
        self._forced = True
        for node in self.nodes:
            if node.alive:
                os.kill(node.pid, signal.SIGKILL)
