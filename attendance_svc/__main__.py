"""`python -m attendance_svc`: run the attendance service as its own process."""

from attendance_svc.server import serve
from service_kit.process import run_service

if __name__ == "__main__":
    run_service("attendance_svc", serve)
