"""A stub mongod that answers chosen commands with crafted replies, for the reply-shape
and wire-fuzz tests.

It is ``net_fake_server.FakeServer`` (frames packed with ``struct``, documents with
PyMongo's ``bson``: an oracle independent of the driver) plus two hooks:

* ``documents[name]``: the reply document to send for command ``name`` (a dict, or a
  function of the command returning one), encoded by PyMongo's ``bson`` as is, so any
  shape can be sent (a ``cursor`` that is a list, an ``id`` that is a string...);
* ``frames[name]``: a function ``(request_id, valid_frame) -> bytes`` whose bytes are sent
  instead of the valid OP_MSG frame the server would have sent: the fuzz tests truncate,
  flip or re-frame it there. The connection is closed after such a frame.

Commands without a hook get FakeServer's own answers (the handshake, ``ping``...), plus
``getMore`` and ``killCursors`` answered validly, so a cursor can run to its end.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from driver import MongoClient
from tests.driver.net_fake_server import FakeServer, _Conversation

ReplyDocument = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]
FrameMutator = Callable[[int, bytes], bytes]


@dataclass
class ReplyStub(FakeServer):
    """``FakeServer`` whose replies to chosen commands are crafted by the test."""

    documents: dict[str, ReplyDocument] = field(default_factory=dict)
    frames: dict[str, FrameMutator] = field(default_factory=dict)

    def __repr__(self) -> str:  # hypothesis prints fixtures: keep failure reports short
        return f"ReplyStub({self.address})"

    def _handle(self, command: dict[str, Any], state: _Conversation,
                sequences: dict[str, list[Any]] | None = None) -> dict[str, Any]:
        name = next(iter(command))
        crafted = self.documents.get(name)
        if crafted is not None:
            return crafted(command) if callable(crafted) else crafted
        if name == "getMore":
            return {"ok": 1, "cursor": {"id": 0, "ns": "db.c", "nextBatch": []}}
        if name == "killCursors":
            return {"ok": 1, "cursorsKilled": list(command.get("cursors", []))}
        if name in ("aggregate", "listIndexes", "listCollections"):
            return {"ok": 1, "cursor": {"id": 0, "ns": "db.c", "firstBatch": []}}
        if name in ("update", "delete"):
            return {"ok": 1, "n": 1, "nModified": 1}
        return super()._handle(command, state, sequences)

    def _dispatch(self, sock: socket.socket, request_id: int, flags: int,
                  command: dict[str, Any], sequences: dict[str, list[Any]],
                  state: _Conversation, compressed_with: int | None) -> bool:
        name = next(iter(command))
        mutate = self.frames.get(name)
        if mutate is None or flags & 2:
            return super()._dispatch(sock, request_id, flags, command, sequences, state,
                                     compressed_with)
        valid = self._op_msg(self._handle(command, state, sequences), request_id)
        sock.sendall(mutate(request_id, valid))
        # Close after a crafted frame: a client still waiting for bytes that will never
        # come sees the end of the stream at once instead of waiting for its timeout.
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return False


@contextmanager
def stub_client(stub: ReplyStub, **options: Any) -> Iterator[MongoClient]:
    """A started stub and a directly connected client whose timeouts end any hang."""
    with stub:
        host, port = stub.address
        settings: dict[str, Any] = {
            "directConnection": True, "serverSelectionTimeoutMS": 3000,
            "socketTimeoutMS": 3000, "connectTimeoutMS": 3000, "retryReads": False,
            "retryWrites": False,
        }
        settings.update(options)
        client = MongoClient(host, port, **settings)
        try:
            yield client
        finally:
            client.close()
