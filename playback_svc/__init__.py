"""The playback service: owns playback access, that is short-lived HLS access tokens and the
rewritten playlists that carry them.
"""
