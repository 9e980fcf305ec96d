"""The testing example of the docs (guides/testing.md), defined here by running the block as shown."""

from project.shop.tests.docs_blocks import docs_block

exec(compile(docs_block("# project/shop/tests/test_readme.py"), "docs/guides/testing.md", "exec"))
