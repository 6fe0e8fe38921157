"""The attendance service: Owns live sessions (Zoom meetings) and the attendance computed from Zoom's webhooks."""
