"""SRE workbench: capacity, slow queries and DR readiness for a small web platform.

The package reads as the flow of data; each folder is a layer and imports only the layers below it:

    collect, demo -> warehouse -> analysis -> reviews -> app
    config, errors, locations, durations, units, secrets, progress: the foundation every layer may use

Import a module by its path (``from sre_lib.analysis import thresholds``); ``__all__`` names the layers and
foundation modules.
"""

__all__ = [
    "alert_config",
    "analysis",
    "app",
    "collect",
    "config",
    "demo",
    "durations",
    "errors",
    "hub",
    "locations",
    "progress",
    "reviews",
    "secrets",
    "units",
    "warehouse",
]
