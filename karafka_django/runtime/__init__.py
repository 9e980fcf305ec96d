"""The process around the engine: the server, embedding it in another process, autoreload."""
