"""The Typer commands, one module per area; :data:`app` is the ``mediactl`` command."""
