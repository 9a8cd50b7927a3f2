"""A tiny authoritative DNS server on 127.0.0.1 for the SRV tests (UDP and TCP).

Built on dnspython's message API: each query is parsed with ``dns.message.from_wire``
and answered with ``dns.message.make_response`` plus the records of an in-memory
table (SRV, TXT, A) that tests may change while it runs. A UDP answer larger than the
client's buffer is sent truncated (TC bit), so the resolver retries over TCP on the
same port, as a real server makes it do. Names in ``silent`` get no answer at all,
to exercise timeouts. One thread serves both sockets through ``select``.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

UDP_LIMIT_WITHOUT_EDNS = 512


def _quoted(chunk: str) -> str:
    return '"' + chunk.replace("\\", "\\\\").replace('"', '\\"') + '"'


class StubDnsServer:
    """Serve ``records`` ({"SRV": {name: [{port, target}]}, "TXT": {name: [[str, ...]]},
    "A": {name: [ip]}}) until ``close()``."""

    def __init__(self, records: Mapping[str, Any] | None = None, ttl: int = 300) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._table: dict[tuple[str, str], list[str]] = {}
        self._ttls: dict[tuple[str, str], int] = {}
        self.silent: set[str] = set()
        self.queries: Counter[tuple[str, str, str]] = Counter()  # (name, type, transport)
        if records:
            self.load(records)
        self._udp, self._tcp = self._bind()
        self.port = self._udp.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopped = False
        self._thread = threading.Thread(target=self._serve, name="stub-dns", daemon=True)
        self._thread.start()

    # --- the record table ------------------------------------------------------------------

    def load(self, records: Mapping[str, Any]) -> None:
        for name, entries in records.get("SRV", {}).items():
            self.set_srv(name, [(e["target"], e["port"]) for e in entries])
        for name, txt_records in records.get("TXT", {}).items():
            self.set_txt(name, txt_records)
        for name, addresses in records.get("A", {}).items():
            with self._lock:
                self._table[(name.lower(), "A")] = list(addresses)

    def set_srv(
        self, name: str, targets: Iterable[tuple[str, int]], ttl: int | None = None
    ) -> None:
        rdatas = [f"0 5 {port} {target.rstrip('.')}." for target, port in targets]
        with self._lock:
            self._table[(name.lower(), "SRV")] = rdatas
            self._ttls[(name.lower(), "SRV")] = self.ttl if ttl is None else ttl

    def set_txt(self, name: str, txt_records: Iterable[Iterable[str]]) -> None:
        rdatas = [" ".join(_quoted(chunk) for chunk in record) for record in txt_records]
        with self._lock:
            self._table[(name.lower(), "TXT")] = rdatas

    def remove(self, name: str, rdtype: str) -> None:
        with self._lock:
            self._table.pop((name.lower(), rdtype), None)

    def resolver(self, lifetime: float = 2.0) -> dns.resolver.Resolver:
        """A dnspython resolver that asks only this server."""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.port
        resolver.timeout = lifetime
        resolver.lifetime = lifetime
        return resolver

    # --- answering -------------------------------------------------------------------------

    def _answer(self, query: dns.message.Message) -> dns.message.Message | None:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            if name in self.silent:
                return None
            rdatas = self._table.get((name, rdtype))
            ttl = self._ttls.get((name, rdtype), self.ttl)
            known = any(key[0] == name for key in self._table)
        if rdatas:
            response.answer.append(
                dns.rrset.from_text_list(question.name, ttl, dns.rdataclass.IN, rdtype, rdatas)
            )
        elif not known:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response

    def _handle(self, wire: bytes, transport: str, limit: int | None) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        question = query.question[0]
        self.queries[
            (
                question.name.to_text(omit_final_dot=True).lower(),
                dns.rdatatype.to_text(question.rdtype),
                transport,
            )
        ] += 1
        response = self._answer(query)
        if response is None:
            return None
        if limit is None:
            return response.to_wire()
        if query.edns >= 0:
            limit = max(query.payload, UDP_LIMIT_WITHOUT_EDNS)
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.TC
            return truncated.to_wire()

    # --- sockets ---------------------------------------------------------------------------

    @staticmethod
    def _bind() -> tuple[socket.socket, socket.socket]:
        for _ in range(50):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                tcp.bind(("127.0.0.1", udp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(8)
            return udp, tcp
        raise RuntimeError("no port free for both UDP and TCP")

    @staticmethod
    def _read_exact(conn: socket.socket, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _serve_tcp(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2.0)
            try:
                while True:
                    header = self._read_exact(conn, 2)
                    if header is None:
                        return
                    wire = self._read_exact(conn, struct.unpack("!H", header)[0])
                    if wire is None:
                        return
                    reply = self._handle(wire, "tcp", None)
                    if reply is None:
                        return
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
            except OSError:
                return

    def _serve(self) -> None:
        while not self._stopped:
            ready, _, _ = select.select([self._udp, self._tcp, self._wake_r], [], [])
            if self._wake_r in ready or self._stopped:
                return
            if self._udp in ready:
                wire, peer = self._udp.recvfrom(65535)
                reply = self._handle(wire, "udp", UDP_LIMIT_WITHOUT_EDNS)
                if reply is not None:
                    self._udp.sendto(reply, peer)
            if self._tcp in ready:
                conn, _ = self._tcp.accept()
                self._serve_tcp(conn)

    def close(self) -> None:
        self._stopped = True
        self._wake_w.send(b"x")
        self._thread.join(2.0)
        for sock in (self._udp, self._tcp, self._wake_r, self._wake_w):
            sock.close()

    def __enter__(self) -> StubDnsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
