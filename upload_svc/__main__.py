"""`python -m upload_svc`: run the upload service as its own process."""

from service_kit.process import run_service
from upload_svc.server import serve

if __name__ == "__main__":
    run_service("upload_svc", serve)
