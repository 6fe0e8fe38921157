"""`python -m playback_svc`: run the playback service as its own process."""

from playback_svc.server import serve
from service_kit.process import run_service

if __name__ == "__main__":
    run_service("playback_svc", serve)
