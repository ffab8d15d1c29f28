"""Deliveries: each successful result (and each finished run's manifest) to each destination of its
schedule, tracked as a Delivery row and retried on its own (never re-invoking the script).

- hooks.py: plan the Delivery rows (idempotent), called by the invoke pipeline after a commit.
- pipeline.py: ``deliver(delivery_id)``: claim, send, record the outcome or the next attempt.
- policy.py: which failures are retried, the backoff, the retry period.
- webhook.py / s3.py / manifest.py: the destinations; transport.py: the SSRF-safe HTTP transport.
"""
