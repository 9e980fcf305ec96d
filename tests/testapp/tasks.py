from karafka_django.tasks import task


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def explode() -> None:
    raise ValueError("a task that fails")
