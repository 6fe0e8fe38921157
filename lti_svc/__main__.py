"""`python -m lti_svc`: run the lti service as its own process."""

from lti_svc.server import serve
from service_kit.process import run_service

if __name__ == "__main__":
    run_service("lti_svc", serve)
