"""Domain operations shared by the API (and anything else that changes connections, schedules and
runs): each takes a database session and raises :mod:`app.services.errors`."""
