"""The playback service: Owns playback access: short-lived HLS access tokens and the rewritten playlists that carry them."""
