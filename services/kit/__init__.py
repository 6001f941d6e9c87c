"""The shared service kit: config, database, errors, logs, events, auth, HTTP client, app factory."""
