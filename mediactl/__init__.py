"""mediactl: the command-line client of the media service's public REST API.

It talks only to the edge, with ``Authorization: Bearer <token>`` (a personal API token,
or any session token the edge accepts), exactly as the pages do. Modules: ``config``
(where the URL and token live), ``client`` (HTTP and error mapping), ``plan`` and
``resume`` (pure upload planning and the resume records), ``upload`` (the engine),
``output`` (tables, JSON, bars) and ``commands`` (the Typer commands).
"""
