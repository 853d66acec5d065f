"""The application: the sre command, scheduled jobs and the papermill report runner."""
