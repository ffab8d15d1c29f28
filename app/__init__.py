"""scriptcron: run InfluxDB invocable scripts on schedules and deliver their CSV results."""

__version__ = "0.1.0"
