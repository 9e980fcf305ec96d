"""Swarm mode: a supervisor process forks N full server nodes (for CPU-bound consumers)."""
