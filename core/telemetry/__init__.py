"""Operations telemetry of the kernel: request logging and metrics (ASGI middleware), DB and
pool instrumentation, Kafka log positions, projector batch logs and samplers, /metrics and
/ready routes. Metric families live in `kernel.metrics`."""
