"""The pipeline the tasks call: plain functions over the database, the limiter and the clients."""
