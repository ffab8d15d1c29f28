"""Everything that runs in Celery: the Celery app, the beat, the tasks, the pipeline, the rate limiter."""
