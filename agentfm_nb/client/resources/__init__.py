"""Thin resource namespaces (``client.workers``, ``client.tasks``, ...), sync and async twins."""
