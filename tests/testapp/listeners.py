"""Monitor listeners with bugs, as a project's own could have (routed through KARAFKA['LISTENERS'])."""


class BrokenOnEveryEvent:
    """Raises on every event the monitor tells it of."""

    def __getattr__(self, name: str):
        if not name.startswith("on_"):
            raise AttributeError(name)

        def broken(event, payload):
            raise RuntimeError(f"a listener bug on {event}")
        return broken


class BrokenOnErrors:
    """Raises only on ``error.occurred``: the one event a failing message sends."""

    def on_error_occurred(self, event, payload):
        raise KeyError(payload["no such field"])
