"""The attendance service: owns live sessions (Zoom meetings) and the attendance computed from Zoom's webhooks."""
