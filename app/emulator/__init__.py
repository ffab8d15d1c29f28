"""A local server of the InfluxDB invocable-scripts contract, with a columnar Flux engine.

``scriptcron emulator`` runs it (see docs/emulator.md); :func:`app.emulator.server.create_app` builds the
ASGI application.
"""
