#!/usr/bin/env python3
"""A build master in Python that speaks rollcall's master protocol (docs/protocol.md).

It uses the standard library and the `msgpack` package only. As a library,
`RollcallMaster` is a session that registers, heartbeats, and re-sends what a lost
connection left unanswered. As a program, it runs one whole build cycle against a running
daemon and prints each step as a JSON line:

    python3 rollcall_master.py --connect 127.0.0.1:9989 --name m1:/srv \
        --token-file token --builder linux --worker w1

With --pause-after-claim, it stops after its claim is sent and reads a line from stdin
before going on, without reading the claim's reply. Restart the daemon meanwhile: the
master reconnects and re-sends the claim with the same request id, and the claim is not
made twice.
"""

import argparse
import json
import random
import socket
import ssl
import struct
import sys
import time

import msgpack

PROTOCOL_VERSION = 3
MESSAGEPACK = 2  # The format byte of a MessagePack frame.
MAX_FRAME_BYTES = 16 * 1024 * 1024  # The most this client reads in one frame.
# A request whose connection is lost this many times in a row is given up: the daemon is
# refusing it (a bad frame), not restarting.
MAX_LOSSES_PER_REQUEST = 8


class ProtocolError(Exception):
    """The daemon sent something this client cannot read."""


class Refused(Exception):
    """The daemon closed the session and said why (a Goodbye)."""


class NotLeader(Exception):
    """A cluster node that does not lead; `leader` is the leader's address, if known."""

    def __init__(self, leader):
        super().__init__(f"not the leader; the leader is {leader}")
        self.leader = leader


class RequestError(Exception):
    """The daemon refused a command; `error` is the RequestError, as decoded."""

    def __init__(self, error):
        super().__init__(json.dumps(error))
        self.error = error


def variant(value):
    """(name, fields) of an enum value: a one-entry map, or a bare string."""
    if isinstance(value, str):
        return value, None
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value.items()))
    raise ProtocolError(f"not an enum value: {value!r}")


class Connection:
    """One connection: frames of a 4-byte big-endian length, the format byte, MessagePack."""

    def __init__(self, address, tls_ca=None, server_name=None, timeout_s=10.0):
        host, port = address.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls_ca is not None:
            context = ssl.create_default_context(cafile=tls_ca)
            sock = context.wrap_socket(sock, server_hostname=server_name or host)
        self.sock = sock

    def send(self, message):
        body = bytes([MESSAGEPACK]) + msgpack.packb(message, use_bin_type=True)
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def _read_exactly(self, count):
        chunks = []
        while count > 0:
            chunk = self.sock.recv(min(count, 65536))
            if not chunk:
                raise ConnectionError("the daemon closed the connection")
            chunks.append(chunk)
            count -= len(chunk)
        return b"".join(chunks)

    def receive(self):
        """The next message; a Goodbye or a NotLeader is raised."""
        (length,) = struct.unpack(">I", self._read_exactly(4))
        if length == 0 or length > MAX_FRAME_BYTES:
            raise ProtocolError(f"a frame of {length} bytes")
        body = self._read_exactly(length)
        if body[0] != MESSAGEPACK:
            # A daemon that could not read the Hello at all answers in bincode.
            raise ProtocolError(f"a frame in format {body[0]}, not MessagePack")
        name, fields = variant(msgpack.unpackb(body[1:], raw=False))
        if name == "goodbye":
            raise Refused(fields["reason"])
        if name == "not_leader":
            raise NotLeader(fields["leader"])
        return name, fields

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class RollcallMaster:
    """A master session that survives the loss of its connection.

    Each request keeps its id until it is answered: after a reconnect, the session says
    master_active first, then sends every unanswered request again with its old id, so
    the daemon can tell a retry from a new request (docs/protocol.md, "Reconnecting and
    re-sending").
    """

    def __init__(self, address, name, token, tls_ca=None, server_name=None,
                 reconnect_for_s=60.0, log=None):
        self.address = address
        self.name = name
        self.token = token
        self.tls_ca = tls_ca
        self.server_name = server_name
        self.reconnect_for_s = reconnect_for_s
        self.log = log or (lambda **fields: None)
        # Unique across this process's life: a random start, counting up.
        self.next_request_id = random.getrandbits(63)
        self.master_id = None
        self.connection = None

    def _new_request_id(self):
        request_id = self.next_request_id
        self.next_request_id = (self.next_request_id + 1) % (1 << 64)
        return request_id

    def _connect_once(self):
        connection = Connection(self.address, self.tls_ca, self.server_name)
        try:
            connection.send({"hello": {
                "protocol_version": PROTOCOL_VERSION,
                "min_protocol_version": PROTOCOL_VERSION,
                "role": {"master": {"name": self.name, "token": self.token}},
            }})
            name, fields = connection.receive()
            if name != "welcome":
                raise ProtocolError(f"expected a welcome, got {name}")
            self.log(step="welcome", protocol_version=fields["protocol_version"])
            # Register (or heartbeat) before anything else, on every new connection.
            result = self._exchange(connection, self._new_request_id(),
                                    {"master_active": {"name": self.name}})
            self.master_id = result["master"]
        except BaseException:
            connection.close()
            raise
        self.connection = connection

    def connect(self):
        """Connects, retrying with a growing delay while the daemon cannot be reached, and
        following a cluster node's redirect to its leader (at most 4 in a row)."""
        delay_s, deadline = 0.1, time.monotonic() + self.reconnect_for_s
        redirects = 0
        while True:
            try:
                self._connect_once()
                return self.master_id
            except NotLeader as redirect:
                redirects += 1
                if redirect.leader is not None and redirects <= 4:
                    self.log(step="redirected", leader=redirect.leader)
                    self.address = redirect.leader
                    continue
                error = redirect
            except (OSError, ConnectionError) as lost:
                error = lost
            if time.monotonic() + delay_s > deadline:
                raise error
            self.log(step="reconnecting", error=str(error), in_s=delay_s)
            time.sleep(delay_s)
            delay_s = min(delay_s * 2, 5.0)
            redirects = 0

    @staticmethod
    def _exchange(connection, request_id, command):
        connection.send({"request": {"request_id": request_id, "command": command}})
        name, fields = connection.receive()
        if name != "reply" or fields["request_id"] != request_id:
            raise ProtocolError(f"expected the reply to {request_id}, got {name} {fields}")
        tag, value = variant(fields["result"])
        if tag == "Err":
            raise RequestError(value)
        return value

    def request(self, command, request_id=None):
        """Sends a command (a {"name": {fields}} map) and returns its reply.

        On a lost connection it reconnects and sends the same command under the same id.
        """
        if request_id is None:
            request_id = self._new_request_id()
        losses = 0
        while True:
            if self.connection is None:
                self.connect()
            try:
                return self._exchange(self.connection, request_id, command)
            except (OSError, ConnectionError, Refused, NotLeader) as error:
                # A Goodbye here is the daemon shutting down, this master expired, or a
                # leader deposed: all end this connection, not the session. A refusal of
                # the credentials shows when reconnecting, and is raised from there.
                self.log(step="connection_lost", error=str(error), request_id=request_id)
                self.drop_connection()
                losses += 1
                if losses >= MAX_LOSSES_PER_REQUEST:
                    raise

    def drop_connection(self):
        """Forgets the connection, as if it were lost: the next request reconnects."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def heartbeat(self):
        return self.request({"master_active": {"name": self.name}})["master"]

    def command(self, command_name, **fields):
        """A command of this master: `master` is filled in."""
        return self.request({command_name: dict(master=self.master_id, **fields)})

    def claim(self, requests, request_id=None):
        """Claims build requests. A retry that reaches a restarted single daemon finds
        them claimed by this master already: that is the claim succeeding once."""
        command = {"claim_build_requests": {"master": self.master_id, "requests": requests}}
        try:
            self.request(command, request_id)
            return "claimed"
        except RequestError as refused:
            name, error = variant(refused.error)
            if name == "refused":
                reason, detail = variant(error)
                if (reason == "build_request_already_claimed"
                        and detail["by"] == self.master_id):
                    return "already claimed by this master"
            raise

    def close(self):
        self.drop_connection()


def run_cycle(arguments):
    def log(**fields):
        print(json.dumps(fields), flush=True)

    with open(arguments.token_file, encoding="utf-8") as token_file:
        token = token_file.read().strip()
    master = RollcallMaster(arguments.connect, arguments.name, token,
                            tls_ca=arguments.ca, server_name=arguments.server_name, log=log)
    master_id = master.connect()
    log(step="registered", master=master_id)
    builders = master.command("set_builder_list", builder_names=[arguments.builder])
    log(step="builders", builders=builders["builders"])
    log(step="heartbeat", master=master.heartbeat())
    service = master.command("claim_service", kind="scheduler", name=arguments.scheduler)
    log(step="scheduler", service=service["service"])
    request = master.command("submit_build_request",
                             builder_name=arguments.builder)["build_request"]
    log(step="submitted", build_request=request)

    if arguments.pause_after_claim:
        claim_id = master._new_request_id()
        command = {"claim_build_requests": {"master": master_id, "requests": [request]}}
        master.connection.send({"request": {"request_id": claim_id, "command": command}})
        log(step="paused", request_id=claim_id)
        sys.stdin.readline()
        # The reply to the claim is never read: its connection is taken as lost.
        master.drop_connection()
        log(step="reply_lost", request_id=claim_id)
        outcome = master.claim([request], request_id=claim_id)
        log(step="claimed", build_request=request, retried=True, outcome=outcome)
    else:
        outcome = master.claim([request])
        log(step="claimed", build_request=request, retried=False, outcome=outcome)

    build = master.command("start_build", request=request,
                           worker_name=arguments.worker)["build"]
    log(step="started", build=build, worker=arguments.worker)
    master.command("finish_build", build=build, results=0)
    log(step="finished", build=build, results=0)
    master.command("complete_build_requests", requests=[request], results=0)
    log(step="completed", build_request=request)
    master.command("release_service", service=service["service"])
    log(step="released", service=service["service"])
    master.command("master_stopped")
    log(step="stopped", master=master_id)
    master.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connect", default="127.0.0.1:9989",
                        help="the daemon's workers port, HOST:PORT")
    parser.add_argument("--name", required=True, help="this master's name in [[masters]]")
    parser.add_argument("--token-file", required=True,
                        help="a file holding one of the master's tokens")
    parser.add_argument("--ca", help="PEM CA to verify the daemon with: connect over TLS")
    parser.add_argument("--server-name", help="the name in the daemon's certificate")
    parser.add_argument("--builder", default="linux", help="the builder to build on")
    parser.add_argument("--worker", default="w1", help="the worker the build runs on")
    parser.add_argument("--scheduler", default="nightly", help="the scheduler to own")
    parser.add_argument("--pause-after-claim", action="store_true",
                        help="send the claim, then wait for a line on stdin before "
                             "reading on (restart the daemon meanwhile)")
    arguments = parser.parse_args()
    try:
        run_cycle(arguments)
    except (Refused, NotLeader, RequestError, ProtocolError, OSError) as error:
        print(json.dumps({"step": "failed", "error": f"{type(error).__name__}: {error}"}),
              flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
