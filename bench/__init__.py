"""`make bench`: the services under gunicorn on PostgreSQL, driven by wrk on loopback."""
