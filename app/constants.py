"""Constants shared by the API, the worker and the CLI. Units are part of every name."""

from typing import Final

ENV_PREFIX: Final = "SCRIPTCRON_"

# InfluxDB invocable-scripts contract.
INFLUX_LIST_LIMIT_DEFAULT: Final = 100
INFLUX_LIST_LIMIT_MAX: Final = 500
INFLUX_CONNECT_TIMEOUT_S: Final = 10.0
INFLUX_READ_TIMEOUT_S: Final = 90.0  # a Cloud query may run at most 90 s
INFLUX_STREAM_CHUNK_BYTES: Final = 64 * 1024
INFLUX_ERROR_BODY_MAX_BYTES: Final = 64 * 1024  # read at most this much of an error response
INFLUX_ERROR_TAIL_MAX_BYTES: Final = 64 * 1024  # keep at most this much of a `,error,reference` tail

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
DEFAULT_RESULT_KEY_TEMPLATE: Final = "{schedule}/{scheduled_for}/{index}-{params_hash}.csv"
RESULT_GZIP_LEVEL: Final = 6
RESULT_COPY_CHUNK_BYTES: Final = 1024 * 1024  # read size when copying a stored result
S3_PART_BYTES: Final = 8 * 1024 * 1024  # one multipart part in memory at a time (S3 minimum 5 MiB)
S3_MAX_PARTS: Final = 10_000
S3_UPLOAD_CONCURRENCY: Final = 3  # parts in flight (and in memory) per upload
S3_CONNECT_TIMEOUT_S: Final = 10.0
S3_READ_TIMEOUT_S: Final = 120.0  # CompleteMultipartUpload of a large object can take a while
S3_PRESIGNED_URL_EXPIRES_S: Final = 24 * 3600
DELIVERY_BACKOFF_BASE_S: Final = 30.0
DELIVERY_BACKOFF_CAP_S: Final = 3600.0
DELIVERY_RETRY_AFTER_MAX_S: Final = 6 * 3600  # a Retry-After longer than this is capped
DELIVERY_LEASE_S: Final = 900.0  # a RUNNING delivery's lease (the longest upload or POST we expect)
WEBHOOK_CONNECT_TIMEOUT_S: Final = 10.0
WEBHOOK_READ_TIMEOUT_S: Final = 30.0
WEBHOOK_RESPONSE_EXCERPT_CHARS: Final = 200

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

# Celery and the worker (PIPELINE).
CELERY_VISIBILITY_TIMEOUT_S: Final = 2 * 3600  # above the longest task (an invoke is at most ~90 s)
WORKER_SOFT_SHUTDOWN_TIMEOUT_S: Final = 20.0  # on SIGTERM, let tasks finish this long, then requeue
REDIS_SOCKET_TIMEOUT_S: Final = 5.0
ENQUEUE_BATCH_SIZE: Final = 500  # invocations marked QUEUED and sent per batch by fire_run
INSERT_CHUNK_ROWS: Final = 1000  # invocation rows per bulk INSERT (SQLite)
INSERT_CHUNK_ROWS_PG: Final = 10_000  # invocation rows per INSERT ... SELECT FROM unnest (PostgreSQL)
DEFAULT_INVOKE_BATCH_SIZE: Final = 64  # invocations one invoke message carries at most (1: one each)
INVOKE_BATCH_SPREAD: Final = 8  # a send of fewer ids than this x batch size spreads over this many messages
INVOKE_BATCH_BUDGET_S: Final = 5.0  # a batch starts no new invocation after this; the rest go back queued
INVOKE_BATCH_FLUSH_S: Final = 1.0  # a batch records its ended invocations at least this often
RATELIMIT_SLEEP_MAX_S: Final = 1.0  # a rate-limit wait shorter than this sleeps in the task
RATELIMIT_SHORT_DELAY_S: Final = 1.0  # a wait when Redis (the limiter) is unreachable

# Triggers and the API (API).
MIN_INTERVAL_S: Final = 1
MAX_INTERVAL_S: Final = 366 * 24 * 3600
DEFAULT_MAX_BACKFILL_RUNS: Final = 1000
API_LIST_LIMIT_DEFAULT: Final = 50
API_LIST_LIMIT_MAX: Final = 500
API_NEXT_COUNT_MAX: Final = 100
READYZ_TIMEOUT_S: Final = 2.0

# The beat (BEAT).
MISFIRE_GRACE_S: Final = 60.0  # a fire at most this late is on time, whatever the misfire policy
BEAT_CLAIM_BATCH: Final = 1000  # due schedules claimed per transaction (a full batch ticks again at once)
BEAT_CATCHUP_MAX_FIRES: Final = 100  # runs one schedule may create in one tick under misfire "all"
BEAT_SCAN_MAX_FIRES: Final = 100_000  # fire times scanned for one schedule in one tick (long downtimes)
SWEEP_BATCH: Final = 5000  # rows re-sent per table per tick
SWEEP_UNSENT_GRACE_S: Final = 5.0  # a row never sent (enqueued_at NULL) is swept once this old

# Operations: metrics endpoints and `scriptcron up` (OPS).
DEFAULT_METRICS_PORT: Final = 9808  # worker/beat /metrics HTTP port (0 turns it off)
UP_STOP_GRACE_S: Final = 10.0  # SIGTERM -> SIGKILL grace per child when `up` stops
UP_READY_TIMEOUT_S: Final = 120.0  # a child must be ready (port open, /healthz 200) within this
UP_MIGRATE_TIMEOUT_S: Final = 300.0
BEAT_SWEEP_EVERY_S: Final = 5.0  # the lost-work sweep runs this often (and whenever retries come due)
