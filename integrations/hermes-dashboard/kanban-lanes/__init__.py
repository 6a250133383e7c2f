"""The agent side of the kanban-lanes plugin: nothing.

Hermes loads an enabled plugin's register(ctx) in every agent session. This plugin adds no tools or
hooks; it exists for its dashboard tab (dashboard/), which Hermes' web server serves only for user
plugins listed in plugins.enabled. So register() is a deliberate no-op.
"""


def register(ctx):  # noqa: ARG001 - Hermes' plugin entry point
    return None
