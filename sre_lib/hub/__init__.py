"""The Community Hub in a box: a real platform on loopback (nginx with TLS, two app servers, PostgreSQL with a
replica and pgBackRest, Redis, exporters, Prometheus) that the workbench collects from, and faults to inject.

Start it with ``sre hub up`` or, from Python, ``with Hub.start(folder) as hub: ...`` (``hub_platform``).
"""

__all__: list[str] = [
    "community_schema",
    "hub_faults",
    "hub_monitoring",
    "hub_platform",
    "hub_postgres",
    "hub_settings",
    "hub_web",
    "load",
    "media_volume",
    "processes",
    "webapp",
]
