"""`python -m transcode_svc`: run the transcode service as its own process."""

from service_kit.process import run_service
from transcode_svc.server import serve

if __name__ == "__main__":
    run_service("transcode_svc", serve)
