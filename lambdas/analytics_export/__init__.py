"""The daily analytics export: shopper events from CloudWatch Logs to S3 date partitions.

`handler` is the Lambda entry point (Powertools). Everything else is a pure core that the handler,
the local `make analytics` command and the benchmark share:

    windows   the Vietnam-local day as 24 UTC hour windows
    sources   CloudWatch Logs FilterLogEvents, or the local event log
    dedupe    parse, validate and deduplicate one hour of lines into sorted rows
    sinks     S3 or a local directory, in the user-actions/year=/month=/day= layout
    manifest  the per-day manifest with counts, checksums and the run history
    lease     one run of a day at a time, through a conditional write in S3
    export    ties them together for one day
    payloads  which day an invocation asks for
"""
