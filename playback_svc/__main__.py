"""`python -m playback_svc`: run the playback service as its own process."""

from service_kit.process import run_service

from playback_svc.server import serve

if __name__ == "__main__":
    run_service("playback_svc", serve)
