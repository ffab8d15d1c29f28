"""Deliveries: each successful result (and each finished run's manifest) to each destination of its
schedule, tracked as a Delivery row and retried on its own (never re-invoking the script).

- hooks.py: plan the Delivery rows (idempotent), called by the invoke pipeline after a commit.
- pipeline.py: ``deliver(delivery_id)``: claim, one attempt, record the outcome or the next attempt.
- state.py: the conditional UPDATEs (claim, succeed, wait, fail); policy.py: what is retried, backoff.
- webhook.py + signing.py + payloads.py: signed webhook requests; transport.py: the SSRF-safe transport.
- s3.py: the S3 destination; manifest.py: the run manifest.
"""
