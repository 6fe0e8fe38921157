"""``make resilience``: a whole stack under supervisord, traffic through it, faults injected.

Each scenario injects one fault while uploads and Zoom webhooks keep flowing, waits for
the stack to serve again, and the run ends by checking that nothing acknowledged was
lost: every upload whose ``complete`` answered 200 reaches ready, every webhook
answered 2xx is a row in ``attendance.zoom_events``. Modules: :mod:`resilience.stack`
(infrastructure and supervisord), :mod:`resilience.traffic`, :mod:`resilience.faults`,
:mod:`resilience.report`; :mod:`resilience.__main__` runs them in order.
"""
