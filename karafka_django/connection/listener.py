"""One thread per subscription group: the poll loop and the rebalance callbacks.

The listener is the single owner of its client. It never runs user code on the hot path: it
fetches, hands batches to coordinators (which hand jobs to the workers), and between polls
applies what coordinators recorded: seeks, fetch pauses/resumes and offsets to store.
librdkafka auto-commits the stored offsets; revocation and shutdown commit synchronously.
When a buffer is past its bound while its consumer keeps up, the listener waits for that
consumer (a hold, at most ``MAX_HOLD_S``) instead of fetching more or pausing the partition.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import TopicPartition

from ..conf import KarafkaConfig
from ..instrumentation import Monitor
from ..processing import db
from ..processing.assigned_offsets import AssignedOffsets
from ..processing.buffer import FETCH_BATCH, BufferBudget
from ..processing.coordinator import Coordinator
from ..processing.executor import Executor
from ..processing.jobs_queue import JobsQueue
from ..processing.pause import Backoff
from ..routing.route import SubscriptionGroup
from .client import Client
from .commits import Commits
from .distribution import Distributor
from .faults import ClientFaults, failure_of
from .statistics import PausedEnds, listener_snapshot

logger = logging.getLogger("karafka_django.listener")

#: Poll timeout while something time-based is pending (a backoff, a pause, a full buffer).
TICK_S = 0.05


class Listener(threading.Thread):
    def __init__(self, subscription_group: SubscriptionGroup, config: KarafkaConfig, jobs: JobsQueue, executor: Executor,
                 monitor: Monitor, budget: BufferBudget, prefetch_kbytes: int, node: int | None = None,
                 client_factory: Callable[..., Client] = Client):
        super().__init__(name=f"karafka.listener-{subscription_group.name}", daemon=True)
        self.subscription_group = subscription_group
        self.config = config
        self.jobs = jobs
        self.executor = executor
        self.monitor = monitor
        self.budget = budget
        self.kafka_config = {**subscription_group.kafka_config(config.kafka, node),
                             "queued.max.messages.kbytes": prefetch_kbytes}
        self.backoff = Backoff.from_config(config)
        self.max_poll_interval_s = int(self.kafka_config.get("max.poll.interval.ms", 300000)) / 1000
        # The rebalance waits for revoked partitions' running jobs at most this long: well
        # below the group's rebalance timeout (max.poll.interval.ms), so the member stays in.
        self.revocation_timeout_s = min(config.revocation_timeout_ms / 1000, self.max_poll_interval_s / 2)
        self.faults = ClientFaults(monitor, subscription_group=subscription_group.name)
        self.coordinators: dict[tuple[str, int], Coordinator] = {}
        # Revoked coordinators whose job outlived the revocation wait, until it ends.
        self._outlived: dict[tuple[str, int], Coordinator] = {}
        routes = subscription_group.routes  # one topic (not a pattern): runs are told apart by partition alone
        single_topic = routes[0].topic if len(routes) == 1 and not routes[0].is_pattern else None
        self.distributor = Distributor(single_topic, jobs, monitor, self.backoff, self._on_message_error)
        self.statistics: dict[str, Any] = {}
        self.last_poll_at = time.monotonic()
        self.unclean: str | None = None  # why its stop was not clean (a crash, jobs left running, a commit)
        self.quiet = False
        self._stopping = threading.Event()
        self._deadline = float("inf")
        self.client_factory = client_factory  # Client(settings, on_stats, on_error); a fake in unit tests
        self._client: Client | None = None
        self.group_metadata: Any = None  # the latest, for transactions (read on this thread, which owns the client)
        self._in_transactions = any(route.transactional for route in routes)  # else from a first transaction() block
        executor.group_metadata[subscription_group.name] = self._metadata_for_a_transaction
        self.assigned_offsets = AssignedOffsets(subscription_group.route_for, executor.dependencies, self.backoff.seconds(1))
        self.paused_ends = PausedEnds(int(self.kafka_config.get("statistics.interval.ms", 5000)) / 1000 or 5.0)

    # -- control, from the server thread ---------------------------------------------------------

    def stop(self, deadline: float) -> None:
        """Finish in-flight jobs until ``deadline`` (monotonic), commit, leave the group."""
        self._deadline = deadline
        self._stopping.set()

    def go_quiet(self) -> None:
        """Take no new work but stay in the group (Karafka's quiet mode)."""
        self.quiet = True

    @property
    def clean_exit(self) -> bool:
        return self.unclean is None

    @property
    def client(self) -> Client:
        """The client, made when the thread starts (on this thread, which alone calls it)."""
        if self._client is None:
            raise RuntimeError(f"listener {self.name} has not started")
        return self._client

    # -- the thread ------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._join()
            while not self._stopping.is_set() and self.faults.failure is None:
                self._poll_once()
                if self.faults.rejoin is not None:
                    self._rejoin()
            self._shutdown()
        except Exception as exc:  # a bug: the server stops (it sees this thread gone); commit what was processed
            self.unclean = "crashed"
            self.monitor.error("connection.listener.fetch_loop", exc, subscription_group=self.subscription_group.name)
            self._shutdown_after_a_crash()
        finally:
            db.close_thread_connections()

    def _join(self) -> None:
        self._client = self.client_factory(self.kafka_config, self._on_stats, self.faults.on_error)
        self.commits = Commits(self._client)
        self.client.subscribe(self.subscription_group.topics, on_assign=self._on_assign,
                              on_revoke=self._on_revoke, on_lost=self._on_lost)

    def _rejoin(self) -> None:
        """The client hit a fatal error that only a new client cures (KIP-848: the member's session
        lost, ``GROUP_ID_NOT_FOUND``, a fenced epoch): its partitions are lost (nothing committed
        for them, as the group gave them away), and a new client joins in its place."""
        self._on_lost(None, [TopicPartition(topic, partition) for topic, partition in self.coordinators])
        try:
            self.client.close()
        except Exception as exc:  # a client in a fatal state may refuse its close: it is dropped all the same
            logger.debug("closing the failed client: %s", exc)
        self._join()
        self.faults.rejoined()

    def _shutdown_after_a_crash(self) -> None:
        if self._client is None:
            return
        self._deadline = min(self._deadline, time.monotonic() + self.config.shutdown_timeout_ms / 1000)
        try:
            self._shutdown()
        except Exception:
            logger.critical("%s could not commit after its crash: what it processed since its last commit "
                            "is delivered again", self.name, exc_info=True)

    def _poll_once(self) -> None:
        held = next((c for c in self.coordinators.values() if c.holds_fetch()), None)
        if held is not None:  # a consumer is working through a full buffer: let it, fetch after
            held.execution.wait_for_an_end(TICK_S)
            self._maintain(time.monotonic())
            return
        now = time.monotonic()
        waiting = self.quiet or any(c.needs_ticks(now) for c in self.coordinators.values())
        timeout = TICK_S if waiting else self.config.max_wait_time_ms / 1000
        messages = self.client.fetch(FETCH_BATCH, timeout)
        self.last_poll_at = time.monotonic()
        if messages:
            self.faults.on_reachable()
            self.distributor.distribute(messages, self.coordinators)
        self._maintain(self.last_poll_at)
        if self.monitor.has_subscribers(event := "connection.listener.fetch_loop"):
            self.monitor.instrument(event, subscription_group=self.subscription_group.name, messages=len(messages))

    def _maintain(self, now: float) -> None:
        """Apply what coordinators recorded since the last poll."""
        client = self.client
        for (topic, partition), coordinator in self.coordinators.items():
            if self.quiet and not coordinator.closing:
                coordinator.close()
            if coordinator.offsets.seek_to is not None:
                client.seek(topic, partition, coordinator.offsets.seek_to)
                coordinator.seek_applied()
            for job in coordinator.due_jobs(now):
                self.jobs.put(job)
            wants_paused = coordinator.judge_fetch_pause(now)
            if wants_paused != coordinator.fetch_paused:
                (client.pause if wants_paused else client.resume)(topic, partition)
                coordinator.fetch_paused = wants_paused
                coordinator.offsets.paused_high_watermark = None
        self.commits.store(self.coordinators.values())
        if self._in_transactions:  # a generation can move on without a callback (KIP-848 epochs)
            self.group_metadata = client.group_metadata()
        self.paused_ends.refresh(client, self.coordinators, now)
        self.assigned_offsets.retry(self.coordinators, now)

    def _metadata_for_a_transaction(self) -> Any:
        """On a worker: the generation read last; polls keep it fresh from now on."""
        self._in_transactions = True
        return self.group_metadata

    # -- rebalance callbacks (run inside consume, on this thread) ---------------------------------

    def _on_assign(self, _consumer: Any, partitions: list) -> None:
        self._outlived = {key: c for key, c in self._outlived.items() if c.execution.count}  # those that ended: gone
        stored = self.assigned_offsets.stored([(tp.topic, tp.partition) for tp in partitions], time.monotonic())
        for tp in partitions:
            key = (tp.topic, tp.partition)
            route = self.subscription_group.route_for(tp.topic)
            coordinator = Coordinator(tp.topic, tp.partition, route, self.config.max_messages, self.backoff,
                                      self.budget, predecessor=self._outlived.get(key))
            if key in stored:  # offsets in the database: start where the last committed batch ended
                tp.offset = coordinator.offsets.db_offset = stored[key]
            coordinator.offsets.unknown = key in self.assigned_offsets.unknown
            if self.quiet or self._stopping.is_set():
                coordinator.close()
            self.coordinators[key] = coordinator
        # Every pause of an earlier assignment is dropped (as Karafka does): a partition starts
        # flowing from its committed offset; what should pause now pauses on the next turn.
        self.client.accept_assignment(partitions)
        self.group_metadata = self.client.group_metadata()  # the new generation, before a job of it starts
        self._partitions_event("connection.listener.partitions_assigned", partitions)

    def _on_revoke(self, _consumer: Any, partitions: list) -> None:
        self._give_up(partitions, commit=True, event="connection.listener.partitions_revoked")

    def _on_lost(self, _consumer: Any, partitions: list) -> None:
        """The group gave the partitions away already (session timeout): commit nothing."""
        self._give_up(partitions, commit=False, event="connection.listener.partitions_lost")

    def _give_up(self, partitions: list, commit: bool, event: str) -> None:
        revoked = [self.coordinators.pop((tp.topic, tp.partition)) for tp in partitions
                   if (tp.topic, tp.partition) in self.coordinators]
        for coordinator in revoked:
            coordinator.revoke()  # queued jobs of these partitions will not start
        self._finish(revoked, time.monotonic() + self.revocation_timeout_s, hook="revoked", commit=commit)
        for coordinator in revoked:
            if coordinator.execution.count:
                self._outlived[(coordinator.topic, coordinator.partition)] = coordinator
        self._partitions_event(event, partitions)

    def _finish(self, coordinators: list[Coordinator], deadline: float, hook: str, commit: bool = True) -> bool:
        """Wait for running jobs (until ``deadline``), commit their marks, run ``hook``.

        Returns True when every job finished in time. A job still running at the deadline
        keeps running, but its later marks are never committed: its messages are re-delivered;
        its worker runs ``hook`` when it ends, so a hook never runs beside ``consume``.
        """
        finished = True
        for coordinator in coordinators:
            finished &= coordinator.execution.wait_idle(deadline - time.monotonic())
        if commit:
            self.commits.commit(coordinators)
        for coordinator in coordinators:
            if not coordinator.execution.defer(hook):
                self.executor.run_hook(coordinator, hook)
        return finished

    # -- shutdown --------------------------------------------------------------------------------

    def _shutdown(self) -> None:
        for coordinator in self.coordinators.values():
            coordinator.close()
        # Keep polling (paused) so the member stays alive while jobs finish; a rebalance meanwhile
        # takes partitions out of ``self.coordinators`` and commits them itself.
        while any(c.busy for c in self.coordinators.values()) and time.monotonic() < self._deadline:
            self._maintain(time.monotonic())
            self.client.consume(FETCH_BATCH, TICK_S)
        if not self.commits.commit_before_leaving(lambda: list(self.coordinators.values()), self._deadline):
            self.unclean = self.unclean or "final commit did not hold"
        coordinators = list(self.coordinators.values())
        self.coordinators = {}
        if not self._finish(coordinators, self._deadline, hook="shutdown", commit=False):
            self.unclean = self.unclean or "left jobs running"
        self.client.close()

    # -- librdkafka callbacks --------------------------------------------------------------------

    def _on_stats(self, raw: str) -> None:
        stats = json.loads(raw)
        self.faults.on_statistics(stats)
        self.statistics = stats
        if self.monitor.has_subscribers("statistics.emitted"):
            # partitions: this listener's view, with the lag of paused ones from the broker (PausedEnds)
            self.monitor.instrument("statistics.emitted", subscription_group=self.subscription_group.name,
                                    consumer_group=self.subscription_group.consumer_group, statistics=stats,
                                    partitions=listener_snapshot(self, time.monotonic()).partitions)

    def _partitions_event(self, event: str, partitions: list) -> None:
        if not partitions:  # an incremental rebalance that changed nothing here (cooperative, KIP-848)
            return
        self.monitor.instrument(event, subscription_group=self.subscription_group.name,
                                partitions=",".join(f"{tp.topic}/{tp.partition}" for tp in partitions))

    def _on_message_error(self, message: Any) -> None:
        if failure_of(message.error()) is not None:  # fatal (a static member fenced, ...): the client cannot go on
            self.faults.on_error(message.error())
            return
        self.monitor.error("connection.listener.message_error", error=str(message.error()),
                           subscription_group=self.subscription_group.name, topic=message.topic(),
                           partition=message.partition())

