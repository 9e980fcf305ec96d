"""The admin pages (Karafka's Web UI in Django admin) against a running server and the broker."""

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.urls import reverse

from karafka_django.instrumentation.reporter import process_id
from tests.integration.harness import unique, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"
REPORTING = {"REPORTING": True, "REPORT_INTERVAL_MS": 1000, "KAFKA": {"auto.commit.interval.ms": 200}}



def server_id(server) -> str:
    return f"{process_id().rsplit(':', 1)[0]}:{server.pid}"


def page(client, name, *args, **query) -> str:
    response = client.get(reverse(f"admin:{name}", args=args), query)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_processes_lag_and_errors_pages_show_a_running_server(kafka, make_server, admin_client, producing_to, settings):
    topic = kafka.create_topic(unique("web"), 1)
    kafka.produce(topic, [(0, b"k", json.dumps({"poison": n == 50}).encode()) for n in range(100)])
    route = {"topic": topic, "consumer": CONSUMER, "consumer_group": make_server.group}
    settings.KARAFKA = {**settings.KARAFKA, "ROUTES": [route]}  # the web process shares the project's routing
    server = make_server([route], CONCURRENCY=3, **REPORTING).start()
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == {0: 50}, 40, "commits up to the poison")
    me = server_id(server)

    def listed() -> str | None:
        html = page(admin_client, "karafka_processes")
        row = re.search(rf"<tr[^>]*>\s*<td><a[^>]*>{re.escape(me)}</a>.*?</tr>", html, re.S)
        return row.group(0) if row and re.search(r'class="lag">50<', row.group(0)) else None

    row = wait_until(listed, 20, "the process listed with lag 50 (= high watermark 100 - committed 50)")
    assert re.search(r'class="concurrency">3<', row)
    threads, estimate = map(int, re.search(r'class="threads">(\d+) \((\d+)\)', row).groups())
    rss = float(re.search(r'class="rss">([0-9.]+)', row).group(1))
    assert threads > 3 + 4 and rss > 10
    assert abs(threads - estimate) <= 1, f"reported threads {threads}, estimate {estimate}"
    detail = page(admin_client, "karafka_process", me)
    assert topic in detail and 'class="lag">50<' in detail
    assert re.search(r'id="producer">Producer: brokers <b>up</b>, \d+ messages in flight', detail), "the producer's state"

    wait_until(lambda: "poison at 50" in page(admin_client, "karafka_errors"), 20, "the error on the errors page")
    errors = page(admin_client, "karafka_errors")
    assert "builtins.ValueError" in errors and "Traceback" in errors
    routing = page(admin_client, "karafka_routing")
    assert topic in routing and "tests.testapp.consumers.RecordingConsumer" in routing
    assert re.search(r"<td>1</td><td>50</td>", routing), "partitions and total lag of the route"
    assert topic in page(admin_client, "karafka_consumers")
    assert server.stop() == 0


def test_pause_and_resume_from_the_admin_and_only_with_the_permission(kafka, make_server, client, admin_client, producing_to):
    topic = kafka.create_topic(unique("commanded"), 2)
    server = make_server([{"topic": topic, "consumer": CONSUMER}], **REPORTING).start()
    me = server_id(server)
    wait_until(lambda: me in page(admin_client, "karafka_processes"), 30, "the process reporting")
    kafka.produce(topic, [(0, b"k", b"{}") for _ in range(10)])
    wait_until(lambda: Record.objects.count() == 10, 20, "the first messages")
    in_partition = lambda p: Record.objects.filter(partition=p).count()  # noqa: E731

    staff = User.objects.create_user("operator", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    client.force_login(staff)
    denied = client.post(reverse("admin:karafka_command"), {"command": "pause", "process": me, "topic": topic, "partition": 0})
    assert denied.status_code == 403
    assert not LogEntry.objects.exists()

    command = {"command": "pause", "process": me, "topic": topic, "partition": 0}
    assert admin_client.post(reverse("admin:karafka_command"), command).status_code == 302
    paused_row = rf"{re.escape(topic)}</a></td><td>0</td>(?:(?!</tr>).)*<td>True</td>"
    wait_until(lambda: re.search(paused_row, page(admin_client, "karafka_process", me), re.S), 20, "partition 0 reported paused")
    kafka.produce(topic, [(partition, b"k", b"{}") for partition in (0, 1) for _ in range(10)])
    # The same listener fetches both partitions: once partition 1's arrived, partition 0's would have too.
    wait_until(lambda: in_partition(1) == 10, 20, "the messages of the partition that is not paused")
    assert in_partition(0) == 10, "the paused partition was consumed"
    assert "Sent command" in LogEntry.objects.get().change_message

    staff.user_permissions.add(Permission.objects.get(codename="send_commands"))
    client.force_login(User.objects.get(pk=staff.pk))
    assert client.post(reverse("admin:karafka_command"), {**command, "command": "resume"}).status_code == 302
    wait_until(lambda: in_partition(0) == 20, 10, "consumption after resume")
    assert server.stop() == 0


def test_payloads_are_escaped_in_the_topic_explorer(kafka, admin_client, producing_to):
    topic = kafka.create_topic(unique("explored"), 1)
    kafka.produce(topic, [(0, b"<b>key</b>", b"<script>alert(1)</script>")])
    html = page(admin_client, "karafka_explorer", topic, 0)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "&lt;b&gt;key&lt;/b&gt;" in html


def test_a_browser_logs_in_opens_every_page_and_non_staff_is_sent_to_login(kafka, browser, producing_to, django_user_model):
    topic = kafka.create_topic(unique("browsed"), 1)
    kafka.produce(topic, [(0, b"k", b'{"hello": "world"}')])
    django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    django_user_model.objects.create_user("visitor", password="pw")
    browser.log_in("boss")
    pages = {"processes": reverse("admin:karafka_processes"), "routing": reverse("admin:karafka_routing"),
             "consumers": reverse("admin:karafka_consumers"), "errors": reverse("admin:karafka_errors"),
             "dead-letters": reverse("admin:karafka_dead_letter_topics"),
             "explorer": reverse("admin:karafka_explorer", args=[topic, 0])}
    for name, url in pages.items():
        browser.open(url)
        assert "Karafka" in browser.title or topic in browser.title or "Dead letter" in browser.title, (name, browser.title)
        browser.screenshot(f"page-{name}")
    assert "world" in browser.page_source

    browser.log_in("visitor")
    browser.open(pages["processes"], wait_for_nav=False)
    browser.wait_for_url("/admin/login/")


def test_karafka_pages_need_view_dashboard_and_payloads_need_view_messages(kafka, client, django_user_model, producing_to,
                                                                          admin_client):
    topic = kafka.create_topic(unique("secret"), 1)
    kafka.produce(topic, [(0, b"secret-key", b'{"card": "4111-secret"}')])
    dashboard = [reverse(f"admin:{name}") for name in ("karafka_processes", "karafka_routing", "karafka_consumers",
                                                        "karafka_errors", "karafka_dead_letter_topics")]
    messages = [reverse("admin:karafka_explorer", args=[topic, 0]), reverse("admin:karafka_message", args=[topic, 0, 0]),
                reverse("admin:karafka_search", args=[topic]), reverse("admin:karafka_dead_letters", args=[topic])]
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)

    def as_staff(*codenames: str):
        staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
        client.force_login(django_user_model.objects.get(pk=staff.pk))  # a fresh permission cache
        return {url: client.get(url) for url in dashboard + messages}

    answers = as_staff()
    assert {url: r.status_code for url, r in answers.items()} == {url: 403 for url in dashboard + messages}
    assert reverse("admin:karafka_processes") not in client.get(reverse("admin:index")).content.decode()

    answers = as_staff("view_dashboard")
    assert [answers[url].status_code for url in dashboard] == [200] * len(dashboard)
    assert [answers[url].status_code for url in messages] == [403] * len(messages)
    assert not any(b"4111-secret" in r.content or b"secret-key" in r.content for r in answers.values())
    assert reverse("admin:karafka_processes") in client.get(reverse("admin:index")).content.decode()

    answers = as_staff("view_dashboard", "view_messages")
    explorer = answers[messages[0]]
    assert explorer.status_code == 200 and b"4111-secret" in explorer.content and b"secret-key" in explorer.content


def test_the_tasks_changelist_and_its_search_answer(admin_client):
    """The app's templates never shadow the admin's own: the Tasks changelist keeps Django's search form."""
    changelist = admin_client.get(reverse("admin:karafka_django_taskrecord_changelist"), {"q": "anything"})
    assert changelist.status_code == 200
    assert b'id="changelist-search"' in changelist.content


def test_malformed_reports_and_error_records_are_skipped_and_counted_never_a_500(kafka, admin_client, producing_to, settings):
    reports, errors = kafka.create_topic(unique("reports"), 1), kafka.create_topic(unique("errors"), 1)
    settings.KARAFKA = {**settings.KARAFKA, "REPORTS_TOPIC": reports, "ERRORS_TOPIC": errors}
    now = "2026-12-05T10:00:00+00:00"
    hostile = [b"not json", b"\xff\xfe\x00", json.dumps({"id": "h:1", "reported_at": now}).encode(),
               json.dumps({"id": "x/y", "reported_at": "yesterday", "partitions": "all"}).encode(), b"[]"]
    kafka.produce(reports, [(0, b"k", value) for value in hostile])
    kafka.produce(errors, [(0, b"k", value) for value in hostile] +
                  [(0, b"k", json.dumps({"at": now, "type": "consumer.consume.error", "error": "<b>shown</b>"}).encode())])
    pages = {name: admin_client.get(reverse(f"admin:{name}")) for name in
             ("karafka_processes", "karafka_routing", "karafka_consumers", "karafka_errors")}
    assert {name: r.status_code for name, r in pages.items()} == {name: 200 for name in pages}
    assert b"5 unreadable records skipped" in pages["karafka_processes"].content
    assert b"5 unreadable records skipped" in pages["karafka_errors"].content
    assert b"&lt;b&gt;shown&lt;/b&gt;" in pages["karafka_errors"].content
    assert admin_client.get(reverse("admin:karafka_process", args=["h:1"])).status_code == 404
    assert admin_client.get(reverse("admin:karafka_group", args=["team/orders"])).status_code == 200


def test_cluster_and_topic_pages_show_what_the_brokers_say_and_flag_a_lost_replica(three_nodes, admin_client, settings):
    from confluent_kafka import Consumer

    cluster, kafka = three_nodes
    settings.KARAFKA = {**settings.KARAFKA, "KAFKA": {**settings.KARAFKA["KAFKA"], "bootstrap.servers": cluster.bootstrap_servers}}
    topic, group = kafka.create_topic(unique("replicated"), 3, replicas=3), unique("listed")
    member = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": group, "client.id": "member-one"})
    member.subscribe([topic])

    def cluster_page() -> str:
        response = admin_client.get(reverse("admin:karafka_cluster"))
        assert response.status_code == 200, response.content[:300]
        return response.content.decode()
    try:
        page = wait_until(lambda: member.poll(0.2) is None and "member-one" in (p := cluster_page()) and p, 30,
                          "the live group and its member")
    finally:  # before the node is killed: a consumer whose coordinator was on it can hang in close()
        member.close()
    assert page.count("<td>127.0.0.1:") == 3 and topic in page and group in page
    assert re.search(rf"{re.escape(topic)}</a></td><td>3</td><td>3</td><td>2</td><td>0</td><td>0</td><td>0</td>", page)

    cluster.kill(cluster.leader(topic, 0))
    row = rf'<tr class="flagged"><td><a href="[^"]+">{re.escape(topic)}</a></td><td>3</td><td>3</td><td>2</td><td>3</td>'
    wait_until(lambda: re.search(row, cluster_page()), 30, "every partition flagged under-replicated")
    detail = wait_until(lambda: (r := admin_client.get(reverse("admin:karafka_topic", args=[topic]))).status_code == 200
                        and r.content.decode(), 30, "the topic page (503 while the cluster does not answer)")
    assert "3 under-replicated" in detail and "<td>min.insync.replicas</td><td>2</td>" in detail
    assert admin_client.get(reverse("admin:karafka_topic", args=["no-such-topic"])).status_code == 404
    assert admin_client.get(reverse("admin:karafka_topic", args=["bad\x00name"])).status_code == 404


def test_the_explorer_switches_partitions_jumps_truncates_and_shows_binary_as_hex(kafka, admin_client, producing_to, settings):
    settings.KARAFKA = {**settings.KARAFKA, "EXPLORER_PREVIEW_BYTES": 1000}
    topic = kafka.create_topic(unique("explored"), 2)
    now_ms = int(time.time() * 1000)
    kafka.produce(topic, [(0, b"k", json.dumps({"n": n}).encode(), now_ms - 3_600_000 + n) for n in range(60)]
                  + [(0, b"big", b"x" * 5000, now_ms), (0, b"bin", b"\xff\x00\xfe", now_ms + 1), (1, b"k", b"{}", now_ms)])
    url = reverse("admin:karafka_explorer", args=[topic, 0])
    latest = admin_client.get(url).content.decode()
    assert f'href="{reverse("admin:karafka_explorer", args=[topic, 1])}"' in latest, "the partition switcher"
    assert "ff 00 fe" in latest and "binary (hex)" in latest
    assert "x" * 1000 in latest and "x" * 1001 not in latest, "a value is shown up to EXPLORER_PREVIEW_BYTES"
    raw = reverse("admin:karafka_message_raw", args=[topic, 0, 60])
    assert f'href="{raw}"' in latest and admin_client.get(raw).content == b"x" * 5000
    assert len(latest) < 50_000

    jumped = admin_client.get(url, {"offset": 30}).content.decode()
    assert ">0@30<" in jumped and ">0@31<" not in jumped and ">0@6<" in jumped and 'id="newer"' in jumped
    by_time = admin_client.get(url, {"time": datetime.fromtimestamp((now_ms - 3_600_000 + 40) / 1000, UTC).isoformat()})
    assert ">0@40<" in by_time.content.decode() and ">0@39<" not in by_time.content.decode(), "from the time on"
    for bad in ({"time": "yesterday"}, {"offset": "-1"}, {"offset": str(2**64)}, {"before": "²"}):
        assert admin_client.get(url, bad).status_code == 400, bad


SECRETS = ("PAYLOAD-SECRET", "KEY-SECRET", "HDR-SECRET")


def test_every_karafka_page_as_four_roles_with_hostile_data_never_500_never_leaks_never_huge(
        kafka, client, django_user_model, producing_to, settings):
    """Crawl every karafka page reachable from the admin index, and bad-input variants of each."""
    topic, dlq = kafka.create_topic(unique("hostile"), 2), kafka.create_topic(unique("hostile.dlq"), 1)
    reports, errors = kafka.create_topic(unique("reports"), 1), kafka.create_topic(unique("errors"), 1)
    group = f"team/{unique('orders')}"
    settings.KARAFKA = {**settings.KARAFKA, "REPORTS_TOPIC": reports, "ERRORS_TOPIC": errors, "CLIENT_ID": group,
                        "ROUTES": [{"topic": topic, "consumer": CONSUMER, "dead_letter_queue": {"topic": dlq}}]}
    secret_headers = [("HDR-SECRET", b"<img src=x onerror=alert(1)>"), ("bin", b"\xff\xfe")]
    hostile_values = [b"<script>alert('PAYLOAD-SECRET')</script>", b"\xffPAYLOAD-SECRET\xfe\x00", None,
                      b'{"PAYLOAD-SECRET": "' + b"y" * 900_000 + b'"}']
    kafka.produce(topic, [(n % 2, b"<b>KEY-SECRET</b>", value, 0, secret_headers) for n, value in enumerate(hostile_values)])
    kafka.produce(dlq, [(0, b"KEY-SECRET", b"PAYLOAD-SECRET", 0, secret_headers + [("original_topic", topic.encode()),
                                                                                      ("original_partition", b"0"),
                                                                                      ("original_offset", b"0")])])
    now = "2026-12-05T10:00:00+00:00"
    kafka.produce(reports, [(0, b"k", v) for v in (b"\xff", b"{}", json.dumps({"id": "x", "reported_at": now}).encode())])
    kafka.produce(errors, [(0, b"k", v) for v in (b"<html>", json.dumps(
        {"at": now, "type": "consumer.consume.error", "error": "ValueError: bad", "payload_excerpt": "PAYLOAD-SECRET",
         "traceback": "Traceback: PAYLOAD-SECRET", "topic": topic, "partition": 0, "first_offset": 0}).encode())])
    call_command("karafka_groups", "seek", group, topic, "--to", "earliest")  # the group exists, named with a '/'

    pages = [reverse(f"admin:{name}") for name in ("karafka_processes", "karafka_routing", "karafka_cluster", "karafka_jobs",
                                                     "karafka_consumers", "karafka_errors", "karafka_dead_letter_topics",
                                                     "karafka_charts")]
    pages += [reverse("admin:karafka_dead_letters", args=[dlq]), reverse("admin:karafka_explorer", args=[topic, 0]),
              reverse("admin:karafka_explorer", args=[topic, 1]), reverse("admin:karafka_message", args=[topic, 0, 0]),
              reverse("admin:karafka_message", args=[topic, 1, 1]), reverse("admin:karafka_search", args=[topic]),
              reverse("admin:karafka_group", args=[group]), reverse("admin:karafka_topic", args=[topic]),
              reverse("admin:karafka_django_taskrecord_changelist"), f"{reverse('admin:karafka_charts')}?range=7d"]
    explorer, search = reverse("admin:karafka_explorer", args=[topic, 0]), reverse("admin:karafka_search", args=[topic])
    bad = [f"{explorer}?before={2**64}", f"{explorer}?before=%C2%B2", f"{explorer}?time=1969-01-01T00:00:00%2B00:00",
           f"{explorer}?offset=abc", f"{search}?since=1960-01-01T00:00", f"{search}?limit=0", f"{search}?key=%00",
           reverse("admin:karafka_message", args=[topic, 0, 2**63 + 5]), reverse("admin:karafka_explorer", args=[topic, 9]),
           reverse("admin:karafka_explorer", args=["a" * 1200, 0]), reverse("admin:karafka_search", args=["bad\x00topic"]),
           reverse("admin:karafka_topic", args=["x" * 300]), reverse("admin:karafka_dead_letters", args=["no-such-dlq"]),
           f"{reverse('admin:karafka_dead_letters', args=[dlq])}?page=99", f"{reverse('admin:karafka_errors')}?page=%C2%B2",
           reverse("admin:karafka_process", args=["nobody:1"]), f"{reverse('admin:karafka_charts')}?range=1y"]

    users = {"superuser": django_user_model.objects.create_superuser("root", "root@example.com", "pw")}
    for name, codenames in (("staff", []), ("dashboard", ["view_dashboard"]), ("messages", ["view_dashboard", "view_messages"])):
        users[name] = django_user_model.objects.create_user(name, password="pw", is_staff=True)
        users[name].user_permissions.set(Permission.objects.filter(codename__in=codenames))
    for role, user in users.items():
        client.force_login(django_user_model.objects.get(pk=user.pk))
        for url in pages + bad:
            response = client.get(url)
            where = f"{role} {url[:120]}"
            assert response.status_code != 500, where
            if response.get("Content-Type", "").startswith("text/html"):
                assert len(response.content) < 500_000, f"{where}: {len(response.content)} bytes"
            if role in ("staff", "dashboard"):
                body = response.content.decode("utf-8", "replace")
                assert not any(secret in body for secret in SECRETS), f"{where} shows message data"
            if role == "staff" and "taskrecord" not in url:
                assert response.status_code == 403, where
        if role in ("superuser", "messages"):
            assert "PAYLOAD-SECRET" in client.get(reverse("admin:karafka_explorer", args=[topic, 1])).content.decode()


def synthetic_report(pid: str, at: datetime, started: datetime, rate: int, lag: int, group: str, topic: str) -> bytes:
    """A process report as the reporter writes it, for a process that processed ``rate`` messages a second."""
    processed = int((at - started).total_seconds()) * rate
    return json.dumps({
        "id": pid, "reported_at": at.isoformat(), "started_at": started.isoformat(), "report_interval_ms": 5000,
        "state": "running", "processed": processed, "rss_mb": 50.0 + rate, "listeners": [{"consumer_group": group}],
        "partitions": [{"consumer_group": group, "topic": topic, "partition": rate, "lag": lag}],
        "topics": [{"consumer_group": group, "topic": topic, "processed": processed}],
    }).encode()


def test_charts_sample_a_week_of_reports_by_time_and_draw_throughput_lag_and_rss(kafka, admin_client, producing_to, settings):
    """Two processes reported for six days (every 10 min, then every 20 s in the last hour): every
    chart of every range shows each process's true rate, lag and RSS, sampled by time (the
    broker's time index finds each point)."""
    from karafka_django.web.charts import RANGES, charts
    from karafka_django.web.reports import AdminReader

    reports = kafka.create_topic(unique("reports"), 1)
    settings.KARAFKA = {**settings.KARAFKA, "REPORTS_TOPIC": reports}
    now = datetime.now(UTC)
    started = now - timedelta(days=6)
    times = [started + timedelta(minutes=10 * n) for n in range(1, 6 * 144 - 6)]
    times += [now - timedelta(seconds=20 * n) for n in reversed(range(180))]
    records = []
    for at in times:
        for pid, rate, lag in (("web-1", 10, 7), ("web-2", 2, 5)):
            records.append((0, pid.encode(), synthetic_report(pid, at, started, rate, lag, "shop", "orders"), int(at.timestamp() * 1000)))
    kafka.produce(reports, records)

    reader = AdminReader.shared()
    for name, span in RANGES.items():
        drawn = {title: series for title, _, series in charts(reader.chart_points(span))}
        for pid, rate, lag in (("web-1", 10, 7), ("web-2", 2, 5)):
            rates = [v for v in drawn["Throughput per process"][pid] if v is not None]
            assert len(rates) >= 40 and all(abs(v - rate) < 0.01 for v in rates), (name, pid, rates)
            assert {v for v in drawn["Lag per process"][pid] if v is not None} == {lag}, name
            assert {v for v in drawn["RSS per process"][pid] if v is not None} == {50.0 + rate}, name
        assert all(abs(v - 12) < 0.01 for v in drawn["Throughput per topic"]["orders (shop)"] if v is not None), name
        assert {v for v in drawn["Lag per topic"]["orders (shop)"] if v is not None} == {12}, name

    page = admin_client.get(reverse("admin:karafka_charts"), {"range": "7d"}).content.decode()
    assert page.count("<figure") == 5 and page.count("<title>web-1</title>") == 3 and "orders (shop)" in page
    assert admin_client.get(reverse("admin:karafka_charts"), {"range": "1y"}).status_code == 400


def test_stop_and_quiet_ask_for_confirmation_before_anything_is_sent(admin_client, producing_to, settings, kafka):
    commands = kafka.create_topic(unique("commands"), 1)
    settings.KARAFKA = {**settings.KARAFKA, "COMMANDS_TOPIC": commands}
    url = reverse("admin:karafka_command")
    asked = admin_client.post(url, {"command": "stop", "process": "h:1", "next": "/admin/"})
    assert asked.status_code == 200 and b'name="confirmed" value="yes"' in asked.content and b"Stop <b>h:1</b>" in asked.content
    assert kafka.read_all(commands, timeout=5) == [] and not LogEntry.objects.exists(), "nothing sent before the confirmation"
    done = admin_client.post(url, {"command": "stop", "process": "h:1", "confirmed": "yes", "next": "/admin/"})
    assert done.status_code == 302
    [sent] = kafka.read_all(commands)
    assert json.loads(sent.value())["command"] == "stop" and LogEntry.objects.count() == 1


def test_topics_are_created_grown_configured_and_deleted_from_the_admin_only_with_the_permission(
        kafka, admin_client, client, django_user_model, producing_to):
    name = unique("made-here")
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_dashboard"))
    client.force_login(viewer)
    cluster_url, topic_url = reverse("admin:karafka_cluster"), reverse("admin:karafka_topic", args=[name])
    assert client.post(cluster_url, {"topic": name, "partitions": "2"}).status_code == 403
    assert b'id="create-topic"' not in client.get(cluster_url).content
    assert name not in kafka.admin.list_topics(timeout=10).topics

    assert admin_client.post(cluster_url, {"topic": name, "partitions": "2"}).status_code == 302
    assert len(kafka.admin.list_topics(timeout=10).topics[name].partitions) == 2
    assert admin_client.post(topic_url, {"action": "add_partitions", "partitions": "3"}).status_code == 302
    assert admin_client.post(topic_url, {"action": "set_config", "key": "retention.ms", "value": "3600000"}).status_code == 302
    page = admin_client.get(topic_url).content.decode()
    assert "<td>retention.ms</td><td>3600000</td><td><b>set</b></td>" in page and page.count("<tr><td><a href") == 3
    assert admin_client.post(cluster_url, {"topic": "bad name!", "partitions": "1"}).status_code == 400
    assert admin_client.post(topic_url, {"action": "add_partitions", "partitions": "²"}).status_code == 400
    refused = admin_client.post(topic_url, {"action": "add_partitions", "partitions": "1"}, follow=True).content.decode()
    assert "Kafka refused" in refused, "fewer partitions: the broker's reason is shown"

    admin_client.post(topic_url, {"action": "delete", "confirm": "not-it"})
    assert name in kafka.admin.list_topics(timeout=10).topics, "deleting needs the topic's name typed"
    assert admin_client.post(topic_url, {"action": "delete", "confirm": name}).status_code == 302
    wait_until(lambda: name not in kafka.admin.list_topics(timeout=10).topics, 20, "the topic deleted")
    logged = list(LogEntry.objects.order_by("id").values_list("change_message", flat=True))
    assert logged == [f"Created topic {name}", f"Partitions of {name}: 2 -> 3", f"Config of {name}: retention.ms=3600000",
                      f"Deleted topic {name}"]


def test_errors_are_grouped_by_class_and_consumer_and_filtered(kafka, admin_client, producing_to, settings):
    errors = kafka.create_topic(unique("errors"), 1)
    settings.KARAFKA = {**settings.KARAFKA, "ERRORS_TOPIC": errors}

    def record(n, error_class, consumer):
        return json.dumps({"at": f"2026-12-05T10:00:{n:02d}+00:00", "type": "consumer.consume.error", "error": f"e{n}",
                           "error_class": error_class, "consumer": consumer}).encode()
    kafka.produce(errors, [(0, b"k", record(n, *pair)) for n, pair in enumerate(
        [("builtins.ValueError", "a.Orders")] * 3 + [("builtins.KeyError", "a.Orders")] + [("builtins.ValueError", "a.Payments")] * 2)])
    page = admin_client.get(reverse("admin:karafka_errors")).content.decode()
    groups = re.findall(r">(builtins\.\w+)</a></td>\s*<td><a [^>]+>(a\.\w+)</a></td><td>(\d+)</td>", page)
    assert groups == [("builtins.ValueError", "a.Orders", "3"), ("builtins.ValueError", "a.Payments", "2"),
                      ("builtins.KeyError", "a.Orders", "1")]
    payments = admin_client.get(reverse("admin:karafka_errors"), {"consumer": "a.Payments"}).content.decode()
    assert payments.count('class="error-entry"') == 2 and ": e4 (" in payments and ": e0 (" not in payments
    key_errors = admin_client.get(reverse("admin:karafka_errors"), {"error_class": "builtins.KeyError"}).content.decode()
    assert key_errors.count('class="error-entry"') == 1 and ": e3 (" in key_errors


def test_a_browser_opens_the_cluster_page_follows_a_topic_and_creates_one(kafka, browser, producing_to, django_user_model):
    from selenium.webdriver.common.by import By

    topic, created = kafka.create_topic(unique("browsed-topic"), 2), unique("browser-made")
    django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    browser.log_in("boss")
    browser.open(reverse("admin:karafka_cluster"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#brokers tbody tr")) == 1
    browser.screenshot("cluster")
    browser.submit(browser.find(By.LINK_TEXT, topic))
    browser.wait_for_text("#partitions", "0")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#partitions tbody tr")) == 2
    assert "retention.ms" in browser.find(By.ID, "configs").text
    browser.screenshot("topic")

    browser.open(reverse("admin:karafka_cluster"))
    form = browser.find(By.ID, "create-topic")
    form.find_element(By.NAME, "topic").send_keys(created)
    browser.submit(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    browser.wait_for_text("#partitions", "0")
    assert created in browser.title and created in kafka.admin.list_topics(timeout=10).topics


def test_a_browser_draws_the_charts_of_each_range(kafka, browser, producing_to, django_user_model, settings):
    from selenium.webdriver.common.by import By

    reports = kafka.create_topic(unique("reports"), 1)
    settings.KARAFKA = {**settings.KARAFKA, "REPORTS_TOPIC": reports}
    now = datetime.now(UTC)
    started = now - timedelta(hours=30)
    kafka.produce(reports, [(0, b"web-1", synthetic_report("web-1", at, started, 4, 3, "shop", "orders"), int(at.timestamp() * 1000))
                            for at in (now - timedelta(seconds=30 * n) for n in reversed(range(3600)))])
    django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    browser.log_in("boss")
    browser.open(reverse("admin:karafka_processes"))
    browser.submit(browser.find(By.LINK_TEXT, "Charts"))
    for chosen in ("1h", "24h", "7d"):
        if chosen != "1h":
            browser.submit(browser.find(By.LINK_TEXT, chosen))
        browser.wait_for_text("#ranges b", chosen)
        figures = browser.find_elements(By.CSS_SELECTOR, "figure.chart")
        assert len(figures) == 5
        for figure in figures:
            assert figure.find_element(By.CSS_SELECTOR, "svg").size["width"] == 760
            assert len(figure.find_elements(By.CSS_SELECTOR, "svg polyline")) == 1, figure.text
            assert "web-1" in figure.text or "orders (shop)" in figure.text
        browser.screenshot(f"charts-{chosen}")
