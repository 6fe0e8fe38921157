"""`make run` checks the stack's ports before starting it: a busy port is named, a briefly held one waited for."""

from __future__ import annotations

import socket
import threading

import pytest

from devstack import free_port
from devstack._process import DevstackError
from devstack.supervisor import stack_ports, wait_for_free_ports
from tests.support.settings import MINIMAL_ENV


def listening_on(port: int) -> socket.socket:
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen()
    return holder


def test_every_listening_port_of_the_procfile_is_known_with_the_setting_that_moves_it() -> None:
    ports = stack_ports({**MINIMAL_ENV, "TRANSCODE_SVC_PORT": "51052", "EDGE_PORT": "8080"})
    assert ports[51052] == "TRANSCODE_SVC_PORT"
    assert ports[8080] == "EDGE_PORT"
    assert ports[50051] == "UPLOAD_SVC_PORT"
    assert ports[9102] == "TRANSCODE_SVC_METRICS_PORT"
    assert ports[9106] == "TRANSCODE_WORKER_METRICS_PORT"
    assert ports[9107] == "UPLOAD_WORKER_METRICS_PORT"
    assert 9190 in ports
    assert len(ports) == 14


def test_a_worker_metrics_port_of_0_is_left_to_the_os_and_not_checked() -> None:
    ports = stack_ports({**MINIMAL_ENV, "TRANSCODE_WORKER_METRICS_PORT": "0"})
    assert "TRANSCODE_WORKER_METRICS_PORT" not in ports.values()
    assert 0 not in ports


def test_a_port_held_by_another_server_is_named_with_its_setting() -> None:
    port = free_port()
    with listening_on(port), pytest.raises(DevstackError) as caught:
        wait_for_free_ports({port: "TRANSCODE_SVC_PORT"}, deadline_seconds=1)
    assert f"port {port} (TRANSCODE_SVC_PORT) is in use by another program" in str(caught.value)


def test_a_port_held_only_for_a_moment_is_waited_for() -> None:
    port = free_port()
    holder = listening_on(port)
    threading.Timer(1.0, holder.close).start()
    wait_for_free_ports({port: "UPLOAD_SVC_PORT"}, deadline_seconds=10)
    assert holder.fileno() == -1  # the wait ended only once the timer had closed it
