"""The embedded stack: real PostgreSQL, Redis and a Kafka-protocol broker as child processes."""

from frolic.stack.launcher import Endpoints, Stack

__all__ = ["Endpoints", "Stack"]
