"""Routing: the Redis-backed queue, offers, matching policy, escalation and the worker's timers."""
