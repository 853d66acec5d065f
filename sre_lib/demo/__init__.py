"""The demo platform: a deterministic synthetic Community Hub, written like the collectors write."""
