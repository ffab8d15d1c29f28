"""Constants shared by the API, the worker and the CLI. Units are part of every name."""

from typing import Final

ENV_PREFIX: Final = "SCRIPTCRON_"

# InfluxDB invocable-scripts contract.
INFLUX_LIST_LIMIT_DEFAULT: Final = 100
INFLUX_LIST_LIMIT_MAX: Final = 500
INFLUX_CONNECT_TIMEOUT_S: Final = 10.0
INFLUX_READ_TIMEOUT_S: Final = 90.0  # a Cloud query may run at most 90 s
INFLUX_STREAM_CHUNK_BYTES: Final = 64 * 1024

# Scheduling.
BEAT_TICK_S: Final = 1.0
DEFAULT_MAX_PARAM_SETS: Final = 10_000
DEFAULT_MAX_ATTEMPTS: Final = 5
DEFAULT_BACKOFF_BASE_S: Final = 2.0
DEFAULT_BACKOFF_CAP_S: Final = 300.0
DEFAULT_INVOKE_TIMEOUT_S: Final = 90.0
DEFAULT_MISFIRE_WINDOW_S: Final = 3600

# Delivery.
DEFAULT_DELIVERY_RETRY_PERIOD_S: Final = 24 * 3600
DEFAULT_WEBHOOK_CSV_MAX_BYTES: Final = 10 * 1024 * 1024

# Celery task names (the API enqueues by name; it never imports worker at module level).
TASK_FIRE_RUN: Final = "scriptcron.fire_run"
TASK_INVOKE: Final = "scriptcron.invoke"
TASK_DELIVER: Final = "scriptcron.deliver"
QUEUE_DEFAULT: Final = "scriptcron"
QUEUE_INVOKE: Final = "scriptcron.invoke"
QUEUE_DELIVER: Final = "scriptcron.deliver"

# Leases and the sweep of work committed but never picked up.
INVOKE_LEASE_MARGIN_S: Final = 30.0  # a RUNNING invocation's lease = timeout_s + this margin
DEFAULT_SWEEP_REQUEUE_AFTER_S: Final = 300.0
