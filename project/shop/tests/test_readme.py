"""The README's testing example, defined here by running the block as the README shows it."""

from project.shop.tests.readme import readme_block

exec(compile(readme_block("# project/shop/tests/test_readme.py"), "README.md", "exec"))
