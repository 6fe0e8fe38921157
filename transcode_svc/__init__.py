"""The transcode service: owns transcode jobs: it queues FFmpeg work for the RQ workers and reports their progress."""
