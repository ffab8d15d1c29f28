"""The ``scriptcron`` command line."""
