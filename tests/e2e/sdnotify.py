"""sdnotify.py - the systemd side of sd_notify for the tests: a unix
datagram socket the test binds itself and hands to magpie as NOTIFY_SOCKET,
and bounded waits for the messages it sends ("READY=1\\nSTATUS=...")."""

import os
import socket
import tempfile
import time


def fields(msg):
    """{"READY": "1", "STATUS": "..."} from one datagram."""
    out = {}
    for line in msg.split("\n"):
        k, sep, v = line.partition("=")
        if sep:
            out[k] = v
    return out


class NotifySocket:
    def __init__(self):
        # a short directory of its own: sun_path holds 108 bytes at most
        self.dir = tempfile.mkdtemp(prefix="mpn", dir="/tmp")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.seen = []  # every message received, in order

    @property
    def env(self):
        return {"NOTIFY_SOCKET": self.path}

    def _recv(self, timeout):
        self.sock.settimeout(max(timeout, 0.001))
        try:
            msg = self.sock.recv(4096).decode()
        except socket.timeout:
            return None
        self.seen.append(msg)
        return msg

    def wait(self, pred, timeout=5.0):
        """The fields of the first message from now on for which pred holds;
        AssertionError naming what came instead."""
        deadline = time.monotonic() + timeout
        start = len(self.seen)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching notification in %.1f s; got %r"
                                     % (timeout, self.seen[start:]))
            msg = self._recv(left)
            if msg is not None and pred(fields(msg)):
                return fields(msg)

    def collect(self, seconds):
        """Every message that arrives within seconds, as fields."""
        deadline = time.monotonic() + seconds
        got = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            msg = self._recv(left)
            if msg is not None:
                got.append(fields(msg))

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass
