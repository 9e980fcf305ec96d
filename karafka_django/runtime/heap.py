"""The process's heap at start-up, handed to the garbage collector once."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Take what start-up built (Django's app registry, modules, the routing) out of the garbage
    collector's sight, as a process that owns its heap may (``gc.freeze``). Those objects live
    as long as the process, while consuming allocates millions of short-lived messages whose
    collections would otherwise traverse them again and again; forked swarm nodes also keep
    sharing those pages, since collections no longer write to them."""
    gc.collect()
    gc.freeze()
