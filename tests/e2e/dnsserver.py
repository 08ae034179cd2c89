"""
dnsserver.py - a tiny authoritative DNS server on 127.0.0.1 UDP for the tests,
so magpie never needs the machine's resolver.

It answers A (and AAAA) queries for the names it was given, with NOERROR and
no answer for a known name of the other family, and NXDOMAIN for anything
else. Every query is recorded in DNSServer.queries as (name, qtype).

    python3 dnsserver.py [PORT] origin.test=127.0.0.1 ...   # standalone
"""

import ipaddress
import socket
import struct
import threading

QTYPE_A = 1
QTYPE_AAAA = 28
QTYPE_NAMES = {1: "A", 28: "AAAA", 5: "CNAME", 15: "MX", 16: "TXT", 33: "SRV", 65: "HTTPS"}


def _parse_name(msg, off):
    labels = []
    jumps = 0
    end = None
    while True:
        if off >= len(msg):
            raise ValueError("name runs past the message")
        n = msg[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0 == 0xC0:  # compression pointer
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumps += 1
            if jumps > 16:
                raise ValueError("pointer loop")
            continue
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    return ".".join(labels), (end if end is not None else off)


class DNSServer:
    def __init__(self, records=None, ttl=300, host="127.0.0.1", port=0):
        self.records = {}
        self.ttl = ttl
        self.queries = []
        self.lock = threading.Lock()
        for name, addrs in (records or {}).items():
            self.add(name, *([addrs] if isinstance(addrs, str) else addrs))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.address = "%s:%d" % (host, self.port)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def add(self, name, *addrs):
        with self.lock:
            self.records[name.lower().rstrip(".")] = [ipaddress.ip_address(a) for a in addrs]

    def queries_for(self, name, qtype="A"):
        with self.lock:
            return [q for q in self.queries if q[0] == name.lower() and q[1] == qtype]

    def stop(self):
        self._stopping.set()
        self._thread.join(5)
        self.sock.close()

    def _loop(self):
        while not self._stopping.is_set():
            try:
                msg, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                reply = self.answer(msg)
            except (ValueError, IndexError, struct.error):
                continue
            if reply:
                try:
                    self.sock.sendto(reply, peer)
                except OSError:
                    pass

    def answer(self, msg):
        qid, flags, qdcount = struct.unpack("!HHH", msg[:6])
        if flags & 0x8000 or qdcount != 1:
            return None
        name, off = _parse_name(msg, 12)
        qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
        question = msg[12:off + 4]
        name = name.lower().rstrip(".")
        with self.lock:
            self.queries.append((name, QTYPE_NAMES.get(qtype, str(qtype))))
            addrs = self.records.get(name)
        answers = []
        if addrs is not None:
            for a in addrs:
                if qtype == QTYPE_A and a.version == 4:
                    answers.append(struct.pack("!HHHIH", 0xC00C, QTYPE_A, 1, self.ttl, 4) + a.packed)
                elif qtype == QTYPE_AAAA and a.version == 6:
                    answers.append(struct.pack("!HHHIH", 0xC00C, QTYPE_AAAA, 1, self.ttl, 16) + a.packed)
        rcode = 0 if addrs is not None else 3  # NXDOMAIN
        # QR, opcode copied, AA, RD copied, RA
        rflags = 0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
        head = struct.pack("!HHHHHH", qid, rflags, 1, len(answers), 0, 0)
        return head + question + b"".join(answers)


if __name__ == "__main__":
    import sys
    import time

    args = sys.argv[1:]
    port = int(args.pop(0)) if args and args[0].isdigit() else 0
    recs = dict(a.split("=", 1) for a in args)
    srv = DNSServer(recs, port=port)
    print("dns listening on", srv.address, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        srv.stop()
