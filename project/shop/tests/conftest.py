# The example app is tested with its own settings (project.settings, on PostgreSQL here);
# the broker fixture is the test suite's own.
from tests.conftest import broker  # noqa: F401
