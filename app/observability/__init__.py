"""What the service tells its operators: metrics, one log line per request, readiness.

- ``metrics``: the Prometheus metrics and the exposition ``GET /metrics`` serves;
- ``metrics_dir``: where ``incentives serve`` keeps the workers' shared metric files;
- ``logs``: JSON or text log lines, the request id they carry, ``log_event``;
- ``requests``: the middleware that gives each request its id, times, counts and logs it;
- ``readiness``: the named checks behind ``GET /health/ready``.
"""
