"""The lti service: owns LMS platform registrations, the tool's keys and the LTI 1.3 launch that turns an LMS
launch into a session.
"""
