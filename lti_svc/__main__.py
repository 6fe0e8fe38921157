"""`python -m lti_svc`: run the lti service as its own process."""

from service_kit.process import run_service

from lti_svc.server import serve

if __name__ == "__main__":
    run_service("lti_svc", serve)
