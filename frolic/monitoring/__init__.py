"""Prometheus metrics, consumer lag, budget drift and structured logs."""
