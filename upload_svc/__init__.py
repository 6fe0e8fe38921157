"""The upload service: owns the video catalog and the uploads that fill it: browsers write bytes straight to
object storage through presigned requests; this service only signs, verifies and records.
"""
