"""Karafka's Web UI inside the Django admin: the pages (views, parameters, templates), what they
read of the processes (reports, history, chart samples) and how they draw it. Imports cluster/,
never the reverse."""
