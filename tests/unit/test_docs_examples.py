"""The code examples of the README and the docs that are settings or excerpts, checked against the
code (the runnable ones run elsewhere: the embedding recipes in test_embedding, the pytest example
in project/shop/tests/test_readme.py, the producer in test_producer)."""

import ast
from types import SimpleNamespace

import pytest
from django.utils.module_loading import import_string

from karafka_django.instrumentation import listeners
from karafka_django.routing.options import parse_route
from project.shop.tests.docs_blocks import ROOT, docs_block, python_blocks


def _is_dict(block: str) -> bool:
    return block.lstrip().startswith("{")


def test_every_python_block_of_the_readme_and_the_docs_is_valid_python():
    for page, block in python_blocks():
        compile(block, str(page), "eval" if _is_dict(block) else "exec")


def test_the_consumer_example_is_an_excerpt_of_the_example_projects_file():
    block = docs_block("# project/shop/consumers.py")
    code = block.split("\n", 1)[1]
    assert code in (ROOT / "project" / "shop" / "consumers.py").read_text()


@pytest.mark.parametrize("block", [b for _, b in python_blocks() if _is_dict(b)], ids=lambda b: b.split('"')[3])
def test_route_examples_parse_with_no_problem_but_their_made_up_import_paths(block):
    problems: list = []
    parse_route(ast.literal_eval(block), "example", "docs", problems)
    assert [p for p in problems if "cannot import" not in p.msg] == []


@pytest.mark.parametrize("first_line", ["KARAFKA[\"LISTENERS\"] = [\"karafka_django.instrumentation.vendors.otel",
                                        "KARAFKA[\"LISTENERS\"] = [{\"class\"", "sentry_sdk.init("])
def test_listener_examples_build_their_listeners(first_line):
    namespace = {"KARAFKA": {}, "sentry_sdk": SimpleNamespace(init=lambda **options: None)}
    exec(docs_block(first_line), namespace)
    built, problems = listeners.build(namespace["KARAFKA"]["LISTENERS"])
    assert problems == [] and len(built) == 1


def test_the_tasks_example_names_a_backend_that_exists():
    namespace: dict = {}
    exec(docs_block("TASKS = "), namespace)
    assert import_string(namespace["TASKS"]["default"]["BACKEND"]).__name__ == "KafkaBackend"
