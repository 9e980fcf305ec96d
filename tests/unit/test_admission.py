"""The admission gate: every worker while jobs wait on I/O, fewer while they compute (pure logic)."""

import threading

import pytest

from karafka_django.processing import admission
from karafka_django.processing.admission import AdmissionGate


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(admission.time, "monotonic", lambda: now[0])
    return now


def one_window(gate: AdmissionGate, clock, cpu_per_s: float, jobs: int = 4) -> None:
    """``jobs`` jobs that end within one window, using ``cpu_per_s`` of CPU per wall second together."""
    for _ in range(jobs):
        gate.enter()
    for _ in range(jobs):
        clock[0] += admission.WINDOW_S / jobs
        gate.leave(cpu_per_s * admission.WINDOW_S / jobs)


def test_jobs_that_saturate_the_interpreter_lower_the_limit_one_window_at_a_time_down_to_one(clock):
    gate = AdmissionGate(5)
    limits = []
    for _ in range(6):
        one_window(gate, clock, cpu_per_s=0.95, jobs=1)
        limits.append(gate.limit)
    assert limits == [4, 3, 2, 1, 1, 1]


def test_jobs_that_mostly_wait_keep_every_worker(clock):
    gate = AdmissionGate(5)
    for _ in range(5):
        one_window(gate, clock, cpu_per_s=0.1)
    assert gate.limit == 5


def test_the_limit_rises_again_only_while_workers_wait_at_the_gate_and_never_past_concurrency(clock):
    gate = AdmissionGate(2)
    one_window(gate, clock, cpu_per_s=0.95, jobs=1)
    assert gate.limit == 1
    one_window(gate, clock, cpu_per_s=0.2, jobs=1)
    assert gate.limit == 1, "nobody waited: no reason to admit more"

    admitted = threading.Event()
    gate.enter()  # the one job the limit admits
    waiter = threading.Thread(target=lambda: (gate.enter(), admitted.set()))
    waiter.start()
    assert not admitted.wait(0.2), "a second job waits while the limit is 1"
    clock[0] += admission.WINDOW_S
    gate.leave(0.2 * admission.WINDOW_S)  # a window of little CPU ended while a worker waited
    assert gate.limit == 2 and admitted.wait(5)
    waiter.join(5)
    for _ in range(3):  # still waiting workers, still little CPU: the cap holds
        clock[0] += admission.WINDOW_S
        gate.leave(0.1 * admission.WINDOW_S)
        gate.enter()
    assert gate.limit == 2, "never past CONCURRENCY"
