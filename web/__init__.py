"""The tool's pages: Jinja2 templates, message catalogues, and the built static assets.

The edge process serves them (``edge/lti_pages.py`` renders the LTI pages,
``edge/pages.py`` serves ``/static/``), but nothing here imports the edge or a service:
a page is data (a template, a catalogue, a hashed bundle) plus the public REST API its
script calls with the session token it was handed. See docs/ARCHITECTURE.md, "Pages".
"""
