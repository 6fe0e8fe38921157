"""What each PlaybackService RPC decides, between the servicer (proto) and the ports (I/O).

- :mod:`.access_tokens`: who may get an HLS access token for which video, and for whom.
- :mod:`.playlists`: the token-checked master and variant playlists and segment locations,
  with the per-process playlist cache.
- :mod:`.progress`: each viewer's resume position.

Each use case is made once in ``serve()`` over its ports (:mod:`.ports`) and is called
by tests over fakes, without a server.
"""
