"""The package's structure: its import graph (no module imports, even inside a function, one that
imports it back; arrows between rooms point down) and the size of its modules.

Read from the source (``ast``), so a cycle hidden in a function-level import counts; imports
under ``if TYPE_CHECKING:`` are annotations only and do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import karafka_django

PACKAGE = Path(karafka_django.__file__).parent


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["karafka_django", *path.relative_to(PACKAGE).with_suffix("").parts]
        if "migrations" in parts:
            continue
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING"


def imports(name: str, path: Path, known: set[str], type_only: bool = False) -> set[str]:
    """The package's modules that ``name`` imports, anywhere in its body (with ``type_only``,
    under ``if TYPE_CHECKING:`` too)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    pending: list[ast.AST] = [ast.parse(path.read_text())]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if _type_checking_only(child) and not type_only:
                continue
            if isinstance(child, ast.Import):
                found |= {alias.name for alias in child.names if alias.name in known}
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(anchor + ([child.module] if child.module else []))
                for alias in child.names:
                    target = f"{base}.{alias.name}"
                    found.add(target if target in known else base)
            pending.append(child)
    return {target for target in found if target in known and target != name}


def graph(type_only: bool = False) -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, set(known), type_only) for name, path in known.items()}


def package_of(module: str) -> str:
    """``karafka_django.processing`` for ``karafka_django.processing.coordinator``; a top-level
    module is a package of its own."""
    return ".".join(module.split(".")[:2])


def cycles_across_packages(edges: dict[str, set[str]]) -> list[list[str]]:
    return [cycle for cycle in cycles(edges) if len({package_of(m) for m in cycle}) > 1]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read_from_the_source():
    edges = graph()
    assert "karafka_django.routing.options" in edges["karafka_django.routing.builder"]
    assert "karafka_django.routing" in edges["karafka_django.cluster.topics"], "topics.py depends on routing"


def test_no_import_cycle_between_modules_of_the_package():
    assert cycles(graph()) == []


def test_no_cycle_across_packages_even_through_type_only_imports():
    """A cycle inside one package may stay when one of its arrows is only an annotation."""
    assert cycles_across_packages(graph(type_only=True)) == []
    assert cycles_across_packages({"karafka_django.consumer": {"karafka_django.processing.jobs"},
                                   "karafka_django.processing.jobs": {"karafka_django.consumer"}}) != []


def test_a_cycle_would_be_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_routing_does_not_depend_on_cluster_admin_and_instrumentation_not_on_the_server():
    edges = graph()
    assert all("karafka_django.cluster.topics" not in edges[m] for m in edges if m.startswith("karafka_django.routing"))
    assert all("karafka_django.runtime.server" not in edges[m] for m in edges if m.startswith("karafka_django.instrumentation"))


#: Rooms that must not import the rooms named beside them: the Admin API (cluster/) serves the
#: commands, the admin UI and the server, so it never imports the UI; the engine never imports the
#: process around it, the Admin API or the UI.
FORBIDDEN = {
    "karafka_django.cluster": ("karafka_django.web", "karafka_django.runtime"),
    "karafka_django.producing": ("karafka_django.web", "karafka_django.runtime", "karafka_django.cluster"),
    "karafka_django.processing": ("karafka_django.web", "karafka_django.runtime"),
    "karafka_django.connection": ("karafka_django.web", "karafka_django.runtime", "karafka_django.cluster"),
    "karafka_django.routing": ("karafka_django.web", "karafka_django.runtime", "karafka_django.cluster"),
    "karafka_django.instrumentation": ("karafka_django.web", "karafka_django.runtime", "karafka_django.cluster"),
}
MAX_LINES = 300


def _within(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


def upward_imports(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((module, target) for module, targets in edges.items() for target in targets
                  for room, above in FORBIDDEN.items() if _within(module, room)
                  and any(_within(target, higher) for higher in above))


def test_arrows_between_rooms_point_down():
    assert upward_imports(graph()) == []


def test_an_upward_import_would_be_found():
    edges = {"karafka_django.cluster.reader": {"karafka_django.web.charts"},
             "karafka_django.web.reports": {"karafka_django.cluster.reader"}}
    assert upward_imports(edges) == [("karafka_django.cluster.reader", "karafka_django.web.charts")]


def oversized(sizes: dict[str, int]) -> list[str]:
    return sorted(m for m, lines in sizes.items() if lines > MAX_LINES)


def test_no_module_grows_past_the_size_limit():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert oversized(sizes) == []
    assert oversized({"karafka_django.web.charts": 301, "karafka_django.connection.listener": 300}) == ["karafka_django.web.charts"]


CLIENT_CLASSES = {"Consumer", "Producer", "AdminClient"}
#: The one client factory, and the development brokers (they talk to their own nodes, not to KAFKA).
MAY_BUILD_CLIENTS = ("karafka_django.connection.clients", "karafka_django.brokers")


def client_builders(sources: dict[str, str]) -> list[str]:
    """Modules that call a librdkafka client class themselves (by whatever name they imported it)."""
    found = []
    for name, source in sources.items():
        tree = ast.parse(source)
        local = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and (node.module or "").startswith("confluent_kafka") for alias in node.names if alias.name in CLIENT_CLASSES}
        if any(isinstance(node, ast.Call) and getattr(node.func, "id", None) in local for node in ast.walk(tree)):
            found.append(name)
    return sorted(found)


def test_every_kafka_client_is_built_by_the_one_factory():
    sources = {name: path.read_text() for name, path in modules().items() if not name.startswith(MAY_BUILD_CLIENTS)}
    assert client_builders(sources) == []
    made_here = "from confluent_kafka.admin import AdminClient as A\nA({'bootstrap.servers': 'x'})\n"
    assert client_builders({"karafka_django.cli": made_here, "karafka_django.ok": "Producer()\n"}) == ["karafka_django.cli"]
