"""What the tests run beside them on 127.0.0.1: a free port to start a server on, an SMTP inbox
(aiosmtpd), and processes started at once to race each other."""

from __future__ import annotations

import email
import socket
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.message import Message
from email.policy import default as default_policy

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """An SMTP handler that keeps what it accepts and can refuse the next messages."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.refuse_next = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refuse_next:
            self.refuse_next -= 1
            return "554 5.7.1 Message refused"
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [message for recipients, message in self.messages if address in recipients]


@contextmanager
def smtp_inbox() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on a free loopback port, and what it received."""
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def race(commands: Sequence[Sequence[str]], timeout: float = 120) -> list[tuple[str, str, int]]:
    """Start the commands at once and wait for them all: the (stdout, stderr, status) of each."""
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for command in commands
    ]
    return [(*process.communicate(timeout=timeout), process.returncode) for process in processes]
