"""The Community Hub in a box: a real platform on loopback (nginx with TLS, two app servers, PostgreSQL with a
replica and pgBackRest, Redis, exporters, Prometheus) that the workbench collects from, and faults to inject."""

__all__: list[str] = ["community_schema", "webapp"]
