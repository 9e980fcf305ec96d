"""The admin on a bad day: a consumer group's lag and seek, dead letters republished, explorer
search, health flags and sparklines; bad parameters answer 400, never 500."""

import json
import re
import time
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.urls import reverse
from selenium.webdriver.common.by import By

from karafka_django.cluster.groups import LIVE_STATES, Groups
from tests.integration.harness import unique, wait_until

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"
REPORTING = {"REPORTING": True, "REPORT_INTERVAL_MS": 1000, "KAFKA": {"auto.commit.interval.ms": 200}}



@pytest.fixture
def viewer(client, django_user_model):
    """A staff user who may read everything (view_dashboard, view_messages) but not send_commands."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_dashboard", "view_messages"]))
    client.force_login(user)
    return client


def get(client, name, *args, status: int | None = 200, **query) -> str:
    """The page's text; ``status=None`` accepts any status (a page not there yet answers 404)."""
    response = client.get(reverse(f"admin:{name}", args=args), query)
    assert status is None or response.status_code == status, (response.status_code, response.content[:300])
    return response.content.decode()


def dead_letters(kafka, source: str, dlq: str, offsets: list[int]) -> None:
    """Messages in ``dlq`` as a dispatch from ``source`` leaves them."""
    kafka.produce(dlq, [(0, f"key-{o}".encode(), json.dumps({"n": o}).encode(), 0, [
        ("tenant", b"acme"), ("original_topic", source.encode()), ("original_partition", b"0"),
        ("original_offset", str(o).encode()), ("original_consumer_group", b"app"),
        ("error_class", b"builtins.ValueError"), ("error_message", f"poison at {o}".encode())]) for o in offsets])


def test_group_page_shows_offsets_and_seeks_only_a_stopped_group_under_the_permission(kafka, admin_client, viewer, producing_to):
    topic, group = kafka.create_topic(unique("grouped"), 2), unique("group")
    kafka.produce_json(topic, 2, 40)
    call_command("karafka_groups", "seek", group, topic, "--to-offset", "0:5", "1:7")
    page = get(admin_client, "karafka_group", group)
    assert '<td class="committed">5</td>' in page and '<td class="committed">7</td>' in page and 'id="seek"' in page
    assert 'id="seek"' not in get(viewer, "karafka_group", group), "no form without the permission"

    url = reverse("admin:karafka_group", args=[group])
    assert viewer.post(url, {"topic": topic, "to": "earliest"}).status_code == 403
    assert kafka.committed(group, topic, 2) == {0: 5, 1: 7}

    moved = admin_client.post(url, {"topic": topic, "to": "earliest"}, follow=True).content.decode()
    assert kafka.committed(group, topic, 2) == {0: 0, 1: 0}
    assert f"Moved {group} on {topic}" in moved
    assert f"Seek {group} on {topic} to earliest" in LogEntry.objects.get().change_message

    member = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": group, "session.timeout.ms": 6000,
                       "enable.auto.commit": False})
    member.subscribe([topic])
    groups = Groups({"bootstrap.servers": kafka.bootstrap_servers})
    try:
        wait_until(lambda: member.poll(0.2) is None and groups.state(group)[0] in LIVE_STATES, 30, "a live member")
        refused = admin_client.post(url, {"topic": topic, "to": "latest"}, follow=True).content.decode()
    finally:
        member.close()
    assert "stop its servers first" in refused
    assert kafka.committed(group, topic, 2) == {0: 0, 1: 0}, "a live group is not moved"
    assert LogEntry.objects.count() == 1
    assert "Cannot seek" in admin_client.post(url, {"topic": topic, "to": "tomorrow"}, follow=True).content.decode()
    wait_until(lambda: groups.state(group)[0].name.lower() == "empty", 30, "the member gone")
    admin_client.post(url, {"topic": topic, "to": "3"}, follow=True)
    assert kafka.committed(group, topic, 2) == {0: 3, 1: 3}, "an offset for every partition"
    unknown = unique("nobody")
    refused = admin_client.post(reverse("admin:karafka_group", args=[unknown]), {"topic": topic, "to": "earliest"},
                                follow=True).content.decode()
    assert "there is no consumer group" in refused and not groups.exists(unknown), "a seek never creates a group"


def test_dead_letters_are_republished_one_or_a_selection_under_the_permission(kafka, admin_client, viewer, producing_to,
                                                                             settings):
    source, dlq = kafka.create_topic(unique("orders"), 1), kafka.create_topic(unique("orders_dlq"), 1)
    dead_letters(kafka, source, dlq, [3, 8, 13])
    missing = unique("never_created")
    settings.KARAFKA = {**settings.KARAFKA, "ROUTES": [{"topic": source, "consumer": CONSUMER, "dead_letter_queue": {"topic": dlq}},
                                                      {"topic": missing, "consumer": CONSUMER}]}
    assert reverse("admin:karafka_dead_letters", args=[dlq]) in get(admin_client, "karafka_dead_letter_topics")
    routing = get(admin_client, "karafka_routing")
    assert "1 route consumes a topic that does not exist." in routing
    assert re.search(rf'<tr class="flagged"><td>{missing}</td>', routing), "the route of the missing topic is flagged"
    page = get(admin_client, "karafka_dead_letters", dlq)
    assert "3 dead letters" in page and f"{source}/0@8" in page and "builtins.ValueError: poison at 8" in page
    get(admin_client, "karafka_dead_letters", dlq, status=400, page="x")
    get(admin_client, "karafka_dead_letters", dlq, status=400, page="7")

    url = reverse("admin:karafka_dead_letters", args=[dlq])
    assert viewer.post(url, {"one": "0:1"}).status_code == 403
    response = admin_client.post(url, {"one": "0:1", "message": ["0:0"], "next": "https://elsewhere.example/"})
    assert response.status_code == 302 and response.url == url, "a foreign next is ignored"
    republished = kafka.read_all(source)
    assert [(m.key(), dict(m.headers())["replayed_from"]) for m in republished] == [(b"key-8", f"{dlq}/0/1".encode())]
    assert dict(republished[0].headers())["tenant"] == b"acme" and "error_class" not in dict(republished[0].headers())

    admin_client.post(url, {"message": ["0:0", "0:2", "0:9"]})
    assert sorted(m.key() for m in kafka.read_all(source)) == [b"key-13", b"key-3", b"key-8"]
    assert [e.change_message for e in LogEntry.objects.order_by("pk")] == [
        f"Republished {dlq}/0/1", f"Republished {dlq}/0/0, {dlq}/0/2"]


def test_explorer_search_by_key_payload_header_and_time_newest_first(kafka, admin_client, producing_to):
    topic = kafka.create_topic(unique("searched"), 3)
    now_ms = int(time.time() * 1000)
    boundary = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    kafka.produce(topic, [(n % 3, f"order-{n}".encode(), json.dumps({"order": f"A-{n}"}).encode(),
                           now_ms + (n - 15) * 60_000 if n < 15 else now_ms + n, [("tenant", b"acme" if n % 2 else b"other")])
                          for n in range(30)])
    hits = get(admin_client, "karafka_search", topic, key="order-7")
    assert "Scanned 30 messages in" in hits and "1 match." in hits
    assert reverse("admin:karafka_message", args=[topic, 1, 2]) in hits, "a permalink to partition 1 offset 2"
    found = get(admin_client, "karafka_search", topic, contains="A-2")
    assert "11 matches" in found
    assert found.index("order-29") < found.index("order-20") < found.index("order-2<"), "newest first"
    assert "15 matches" in get(admin_client, "karafka_search", topic, header="tenant=acme")
    assert "15 matches" in get(admin_client, "karafka_search", topic, since=boundary.isoformat())
    assert "8 matches" in get(admin_client, "karafka_search", topic, since=boundary.isoformat(), header="tenant=acme")
    none = get(admin_client, "karafka_search", topic, contains="no such order")
    assert "0 matches" in none and "No message matches." in none
    assert "Scanned 3 messages" in get(admin_client, "karafka_search", topic, limit="3")
    message = get(admin_client, "karafka_message", topic, 1, 2)
    assert "A-7" in message and "order-7" in message

    for query in ({"limit": "abc"}, {"limit": "0"}, {"limit": "1000000"}, {"since": "yesterday"},
                  {"since": "2026-01-02T00:00", "until": "2026-01-01T00:00"}):
        get(admin_client, "karafka_search", topic, status=400, **query)
    get(admin_client, "karafka_explorer", topic, 0, status=400, before="x")
    get(admin_client, "karafka_explorer", topic, 9, status=400)
    get(admin_client, "karafka_message", topic, 0, 999, status=404)
    get(admin_client, "karafka_search", unique("missing"), status=404)


def test_processes_page_flags_a_long_batch_and_draws_sparklines(kafka, make_server, admin_client, producing_to):
    topic = kafka.create_topic(unique("slow"), 1)
    # The batch runs 10 s and is flagged from 3 s: the flag is looked for first, while it can still be seen.
    kafka.produce(topic, [(0, b"k", b"{}") for _ in range(30)] + [(0, b"slow", json.dumps({"sleep": 10}).encode())])
    slow_poll = {**REPORTING, "KAFKA": {**REPORTING["KAFKA"], "max.poll.interval.ms": 6000}}  # flagged after 3 s
    server = make_server([{"topic": topic, "consumer": CONSUMER}], MAX_MESSAGES=10, **slow_poll).start()
    me = f"{server_host()}:{server.pid}"

    detail = wait_until(lambda: (p := get(admin_client, "karafka_process", me, status=None)) and "batch running" in p and p,
                        30, "the long batch flagged")
    assert "max.poll.interval 6 s" in detail and 'class="flagged"' in detail
    jobs = get(admin_client, "karafka_jobs")
    assert re.search(rf"{re.escape(topic)}</td><td>0</td><td>\d+\.\d</td>", jobs), "the long batch among the running jobs"

    def process_page() -> str | None:  # the reports history keeps what it drew: no race with the batch
        page = get(admin_client, "karafka_processes")
        return page if me in page and page.count("<polyline") >= 2 else None

    processes = wait_until(process_page, 30, "lag and throughput sparklines of the process")
    assert 'class="lag-sparkline"><svg' in processes
    assert server.stop() == 0


def server_host() -> str:
    from karafka_django.instrumentation.reporter import process_id

    return process_id().rsplit(":", 1)[0]


def test_a_browser_republishes_a_dead_letter_opens_a_group_and_searches(kafka, make_server, browser, producing_to, settings,
                                                                       django_user_model):
    source, dlq = kafka.create_topic(unique("orders"), 1), kafka.create_topic(unique("orders_dlq"), 1)
    dead_letters(kafka, source, dlq, [4, 9])
    kafka.produce(source, [(0, f"order-{n}".encode(), json.dumps({"order": f"A-{n}"}).encode()) for n in range(20)])
    route = {"topic": source, "consumer": CONSUMER, "dead_letter_queue": {"topic": dlq}}
    settings.KARAFKA = {**settings.KARAFKA, "ROUTES": [route]}
    server = make_server([route], **REPORTING).start()
    django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    browser.log_in("boss")

    def sparklines_drawn() -> bool:
        browser.open(reverse("admin:karafka_processes"))
        return len(browser.find_elements(By.CSS_SELECTOR, "td.lag-sparkline svg polyline")) > 0
    wait_until(sparklines_drawn, 30, "the lag sparkline drawn")
    browser.screenshot("processes-sparklines")

    browser.open(reverse("admin:karafka_dead_letters", args=[dlq]))
    browser.submit(browser.find_elements(By.CSS_SELECTOR, "button.republish-one")[0])
    browser.wait_for_text(".messagelist", "Republished 1 messages")
    browser.screenshot("dead-letters-republished")
    wait_until(lambda: [m.key() for m in kafka.read_all(source)][20:] == [b"key-9"], 20, "the newest dead letter back in its topic")

    browser.open(reverse("admin:karafka_group", args=[make_server.group]))
    wait_until(lambda: browser.open(reverse("admin:karafka_group", args=[make_server.group])) or
               source in browser.find(By.ID, "group-lag").text, 30, "the group's committed offsets")
    browser.screenshot("group")

    browser.open(reverse("admin:karafka_explorer", args=[source, 0]))
    browser.find(By.NAME, "contains").send_keys("A-17")
    browser.submit(browser.find(By.CSS_SELECTOR, "#search button"))
    assert "1 match." in browser.find(By.ID, "search-summary").text
    browser.screenshot("search-hit")
    permalink = browser.find(By.CSS_SELECTOR, "a.permalink")
    browser.submit(permalink)
    assert "order-17" in browser.page_source
    browser.open(reverse("admin:karafka_search", args=[source]) + "?contains=no-such-order")
    assert "0 matches" in browser.find(By.ID, "search-summary").text and "No message matches." in browser.page_source
    browser.screenshot("search-no-hit")
    assert server.stop() == 0
