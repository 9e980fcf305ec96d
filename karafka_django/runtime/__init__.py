"""The process around the engine: the server, autoreload. (``karafka_django.embedded``, the
public API that runs the server inside another process, stays at the top level.)"""
