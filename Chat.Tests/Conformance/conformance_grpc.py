"""chat.ChatService through the gateway, by a client generated from the original project's chat.proto with Python's
grpcio (a second protobuf and gRPC implementation): every RPC of the original over native gRPC (HTTP/2), and the
unary RPCs over gRPC-Web (HTTP/1.1, framed by hand with urllib), checked for values, not only for decoding.

    /usr/bin/python3 conformance_grpc.py --http http://127.0.0.1:8000 --grpc 127.0.0.1:50051 --out /tmp/gen

Needs Debian's python3-grpcio and python3-grpc-tools. Exit code 0 when every check passed; the output lists the
failures otherwise. See docs/contracts.md.
"""

import datetime
import hashlib
import json
import os
import queue
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

from conformance_common import Report, arguments, check_timestamp, now_utc, run

try:
    import grpc
    import grpc_tools  # noqa: F401 - only its protoc is used, through `python3 -m grpc_tools.protoc`
except ImportError as missing:
    print(f"MISSING PREREQUISITE: {missing}. Install Debian's python3-grpcio and python3-grpc-tools "
          "(apt-get install python3-grpcio python3-grpc-tools; ./build.sh installs them) and run with /usr/bin/python3.")
    sys.exit(3)

HERE = os.path.dirname(os.path.abspath(__file__))
ORIGINAL_PROTO = os.path.join(HERE, "original", "chat.proto")

# SHA-256 of the original's compiled FileDescriptorProto (the serialized descriptor in its generated chat_pb2.py).
# The asset compiles to exactly these bytes, so the client below is the original's, whatever the comments say.
ORIGINAL_DESCRIPTOR_SHA256 = "14bc78f72f7abab3fe9faa4a63a1359698d59791c9b1b734b4bd436fa95042ac"

TIMEOUT = 30.0
GENERATING = "Generating response..."
END = object()


def generate_client(out):
    """protoc from python3-grpc-tools, into a scratch folder (generated code is never committed)."""
    os.makedirs(out, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{os.path.dirname(ORIGINAL_PROTO)}",
         f"--python_out={out}", f"--grpc_python_out={out}", "chat.proto"],
        check=True, timeout=120)
    sys.path.insert(0, out)
    import chat_pb2  # noqa: E402 - generated just above
    import chat_pb2_grpc  # noqa: E402
    return chat_pb2, chat_pb2_grpc


class ChatCall:
    """One Chat call: requests from a queue (sent as the test goes), responses read on a thread into a queue."""

    def __init__(self, pb, stub, metadata=None):
        self._pb = pb
        self._requests = queue.Queue()
        self._responses = queue.Queue()
        self.call = stub.Chat(self._outgoing(), timeout=120, metadata=metadata)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _outgoing(self):
        while True:
            request = self._requests.get()
            if request is None:
                return
            yield request

    def _read(self):
        try:
            for response in self.call:
                self._responses.put(response)
            self._responses.put(END)
        except grpc.RpcError as error:
            self._responses.put(error)

    def send(self, request_type, session_id="", message=""):
        # The original client stamps every request with datetime.now().isoformat().
        self._requests.put(self._pb.ChatRequest(
            type=request_type, session_id=session_id, message=message, timestamp=datetime.datetime.now().isoformat()))

    def half_close(self):
        self._requests.put(None)

    def next(self, timeout=TIMEOUT):
        item = self._responses.get(timeout=timeout)
        if isinstance(item, grpc.RpcError):
            raise AssertionError(f"the Chat call failed: {item.code()} {item.details()}")
        return item

    def until(self, response_type, timeout=TIMEOUT):
        """Responses up to and including the first of `response_type`; SESSION_UPDATEs are set apart."""
        taken, updates = [], []
        deadline = time.monotonic() + timeout
        while True:
            item = self.next(max(0.1, deadline - time.monotonic()))
            if item is END:
                raise AssertionError(f"the call ended before {response_type}: {[r.type for r in taken]}")
            if item.type == self._pb.ChatResponse.SESSION_UPDATE and response_type != self._pb.ChatResponse.SESSION_UPDATE:
                updates.append(item)
                continue
            taken.append(item)
            if item.type == response_type:
                return taken, updates

    def expect_end(self, timeout=TIMEOUT):
        """The server ends the call: no more responses, status OK."""
        rest = []
        while True:
            item = self.next(timeout)
            if item is END:
                return rest, self.call.code()
            rest.append(item)


def conformance(report, args):
    pb, pb_grpc = generate_client(args.out or tempfile.mkdtemp(prefix="chat-conformance-"))
    Response, Request = pb.ChatResponse, pb.ChatRequest

    report.begin("the client is the original's")
    report.equal(hashlib.sha256(pb.DESCRIPTOR.serialized_pb).hexdigest(), ORIGINAL_DESCRIPTOR_SHA256,
                 "SHA-256 of the compiled original chat.proto")

    channel = grpc.insecure_channel(args.grpc)
    grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
    stub = pb_grpc.ChatServiceStub(channel)

    report.begin("GetServerStats")
    stats0 = stub.GetServerStats(pb.ServerStatsRequest(), timeout=TIMEOUT)
    after_stats0 = now_utc()
    report.check(stats0.uptime_seconds >= 0, f"uptime_seconds >= 0, got {stats0.uptime_seconds}")
    report.check(stats0.model != "", "model is set")
    report.check(stats0.framework != "", "framework is set")
    report.check(stats0.average_response_time >= 0, f"average_response_time >= 0, got {stats0.average_response_time}")
    report.check(stats0.active_sessions >= 0 and stats0.total_sessions_created >= 0, "session counters are not negative")

    report.begin("CreateSession")
    first_message = f"My name is Ada {uuid.uuid4().hex[:8]}"
    before_create = now_utc()
    created = stub.CreateSession(pb.CreateSessionRequest(model_id=""), timeout=TIMEOUT)
    after_create = now_utc()
    session_id = created.session_id
    report.check(created.success, "success")
    report.equal(created.message, "Session created successfully", "message")
    report.check(len(session_id) == 36 and uuid.UUID(session_id), f"session_id is a UUID, got {session_id!r}")
    report.check(created.model != "", "model is set")

    report.begin("GetSessionInfo of a new session")
    info0 = stub.GetSessionInfo(pb.SessionInfoRequest(session_id=session_id), timeout=TIMEOUT)
    report.check(info0.success, "success")
    report.equal(info0.session_id, session_id, "session_id")
    report.equal(info0.model, created.model, "model")
    report.equal((info0.message_count, info0.user_messages, info0.model_messages), (0, 0, 0), "message counts")
    created_at = check_timestamp(report, info0.created_at, "created_at", after=before_create, before=after_create)
    report.check(info0.duration_seconds >= 0, f"duration_seconds >= 0, got {info0.duration_seconds}")

    report.begin("Chat, the original client's shape: one MESSAGE, half-close, read to the end")
    before_turn = now_utc()
    call = ChatCall(pb, stub)
    call.send(Request.MESSAGE, session_id, first_message)
    call.half_close()
    turn1, _ = call.until(Response.RESPONSE_COMPLETE)
    rest, code = call.expect_end()
    after_turn = now_utc()
    report.equal(rest, [], "nothing after RESPONSE_COMPLETE")
    report.equal(code, grpc.StatusCode.OK, "the call's status")
    reply1 = check_turn(report, pb, turn1, session_id, context_messages=1, message_count=2,
                        after=before_turn, before=after_turn)
    report.check("Turn 1" in reply1 and first_message in reply1, f"the reply answers the message: {reply1!r}")

    report.begin("Chat, one stream for everything: PING, typing seen by a second stream, a second turn")
    watcher = ChatCall(pb, stub)
    watcher.send(Request.PING, session_id)
    pong, _ = watcher.until(Response.PONG)
    report.equal(pong[-1].session_id, session_id, "PONG session_id (the watcher is attached once it has its PONG)")
    talker = ChatCall(pb, stub)
    talker.send(Request.PING, session_id)
    pong, _ = talker.until(Response.PONG)
    report.equal(pong[-1].session_id, session_id, "PONG session_id")
    check_timestamp(report, pong[-1].timestamp, "PONG timestamp")

    talker.send(Request.TYPING_START, session_id)
    typing = watcher.until(Response.SESSION_UPDATE)[0][-1]
    report.equal(typing.update_type, "user_typing", "TYPING_START reaches the session's other stream as")
    report.equal(json.loads(typing.update_data).get("typing"), True, "update_data.typing")
    report.equal(typing.session_id, session_id, "SESSION_UPDATE session_id")
    talker.send(Request.TYPING_STOP, session_id)
    typing = watcher.until(Response.SESSION_UPDATE)[0][-1]
    report.equal((typing.update_type, json.loads(typing.update_data).get("typing")), ("user_typing", False),
                 "TYPING_STOP reaches the session's other stream as")

    second_message = "What is my name?"
    before_turn = now_utc()
    talker.send(Request.MESSAGE, session_id, second_message)
    turn2, own_updates = talker.until(Response.RESPONSE_COMPLETE)
    after_turn = now_utc()
    reply2 = check_turn(report, pb, turn2, session_id, context_messages=3, message_count=4,
                        after=before_turn, before=after_turn)
    report.check("Turn 2" in reply2 and first_message in reply2,
                 f"the second reply remembers the first message ({first_message!r}): {reply2!r}")
    added = watcher.until(Response.SESSION_UPDATE)[0][-1]
    report.equal((added.update_type, added.message_count), ("message_added", 4), "the other stream hears of the reply")
    report.equal(json.loads(added.update_data), {"message_count": 4, "last_message_preview": second_message},
                 "update_data (the preview is the user's message, as the original's)")
    report.equal([u.update_type for u in own_updates], [], "the sender's own stream gets no update of its own")
    for stream in (talker, watcher):
        stream.half_close()
        _, code = stream.expect_end()
        report.equal(code, grpc.StatusCode.OK, "status after half-close")

    report.begin("GetSessionInfo after two turns, durations that grow")
    # Durations are whole seconds: wait (on the clock, not on luck) until the session is over a second old.
    wait = (created_at + datetime.timedelta(seconds=1.1) - now_utc()).total_seconds()
    if wait > 0:
        time.sleep(wait)
    before_info = now_utc()
    info = stub.GetSessionInfo(pb.SessionInfoRequest(session_id=session_id), timeout=TIMEOUT)
    after_info = now_utc()
    report.check(info.success, "success")
    report.equal((info.message_count, info.user_messages, info.model_messages), (4, 2, 2),
                 "message_count, user_messages, model_messages")
    report.equal(info.created_at, info0.created_at, "created_at does not move")
    lower = int((before_info - created_at).total_seconds())
    upper = int((after_info - created_at).total_seconds())
    report.check(info.duration_seconds >= 1, f"duration_seconds >= 1 a second after created_at, got {info.duration_seconds}")
    report.check(lower - 1 <= info.duration_seconds <= upper,
                 f"duration_seconds is the session's age in whole seconds: {lower - 1} <= {info.duration_seconds} <= {upper}")
    later = stub.GetSessionInfo(pb.SessionInfoRequest(session_id=session_id), timeout=TIMEOUT)
    report.check(later.duration_seconds >= info.duration_seconds,
                 f"duration_seconds does not go back: {info.duration_seconds} then {later.duration_seconds}")

    report.begin("ListSessions")
    before_list = now_utc()
    listed = stub.ListSessions(pb.ListSessionsRequest(), timeout=TIMEOUT)
    after_list = now_utc()
    mine = [s for s in listed.sessions if s.session_id == session_id]
    if report.equal(len(mine), 1, "the session is listed once"):
        summary = mine[0]
        report.equal(summary.model, created.model, "model")
        report.equal(summary.message_count, 4, "message_count")
        report.equal(summary.created_at, info0.created_at, "created_at")
        low = int((before_list - created_at).total_seconds() / 60)
        high = int((after_list - created_at).total_seconds() / 60)
        report.check(low - 1 <= summary.duration_minutes <= high,
                     f"duration_minutes is the age in whole minutes: {low - 1} <= {summary.duration_minutes} <= {high}")
    report.check(listed.active_sessions >= len(listed.sessions) >= 1,
                 f"active_sessions ({listed.active_sessions}) counts the listed sessions ({len(listed.sessions)})")
    for other in listed.sessions:
        check_timestamp(report, other.created_at, f"sessions[{other.session_id}].created_at")

    report.begin("GetServerStats after two turns")
    stats = stub.GetServerStats(pb.ServerStatsRequest(), timeout=TIMEOUT)
    elapsed = (now_utc() - after_stats0).total_seconds()
    report.check(stats.uptime_seconds >= stats0.uptime_seconds + int(elapsed) - 1,
                 f"uptime_seconds grows with the clock: {stats0.uptime_seconds} then {stats.uptime_seconds} ({elapsed:.1f} s later)")
    report.check(stats.total_sessions_created >= stats0.total_sessions_created + 1, "total_sessions_created counts ours")
    report.check(stats.total_requests >= stats0.total_requests + 2, "total_requests counts our two turns")
    report.check(stats.successful_requests >= stats0.successful_requests + 2, "successful_requests counts our two turns")
    report.check(stats.average_response_time >= 0, f"average_response_time >= 0, got {stats.average_response_time}")
    report.equal((stats.model, stats.framework), (stats0.model, stats0.framework), "model, framework")

    report.begin("not found, as the original answers it")
    unknown = str(uuid.uuid4())
    missing = stub.GetSessionInfo(pb.SessionInfoRequest(session_id=unknown), timeout=TIMEOUT)
    report.equal((missing.success, missing.message), (False, "Session not found"), "GetSessionInfo of an unknown id")
    gone = stub.DeleteSession(pb.DeleteSessionRequest(session_id=unknown), timeout=TIMEOUT)
    report.equal((gone.success, gone.message), (False, "Session not found"), "DeleteSession of an unknown id")
    lost = ChatCall(pb, stub)
    lost.send(Request.MESSAGE, unknown, "Anyone there?")
    error, _ = lost.until(Response.ERROR)
    report.equal(error[-1].error_message, "Session not found", "Chat on an unknown session: ERROR")
    _, code = lost.expect_end()  # the request stream is still open: the server ends the call, as the original did
    report.equal(code, grpc.StatusCode.OK, "then the server ends the call with")
    lost.half_close()
    orphan = ChatCall(pb, stub)
    orphan.send(Request.MESSAGE, "", "No session yet")
    error, _ = orphan.until(Response.ERROR)
    report.equal(error[-1].error_message, "No session established", "MESSAGE before any session: ERROR")
    orphan.send(Request.PING)
    orphan.until(Response.PONG)  # the stream goes on after that error
    orphan.half_close()
    _, code = orphan.expect_end()
    report.equal(code, grpc.StatusCode.OK, "status")

    grpc_web(report, pb, args.http, session_id)

    report.begin("DeleteSession")
    deleted = stub.DeleteSession(pb.DeleteSessionRequest(session_id=session_id), timeout=TIMEOUT)
    report.check(deleted.success, f"success, message {deleted.message!r}")
    after = stub.GetSessionInfo(pb.SessionInfoRequest(session_id=session_id), timeout=TIMEOUT)
    report.equal((after.success, after.message), (False, "Session not found"), "GetSessionInfo after DeleteSession")
    again = stub.DeleteSession(pb.DeleteSessionRequest(session_id=session_id), timeout=TIMEOUT)
    report.equal((again.success, again.message), (False, "Session not found"), "DeleteSession twice")
    channel.close()


def check_turn(report, pb, responses, session_id, context_messages, message_count, after, before):
    """One reply: STATUS, RESPONSE_START, CHUNK 1..n in order, RESPONSE_COMPLETE; returns the reply's text."""
    Response = pb.ChatResponse
    types = [r.type for r in responses]
    report.equal(types[:2], [Response.STATUS, Response.RESPONSE_START], "the reply begins with")
    report.equal(types[-1], Response.RESPONSE_COMPLETE, "the reply ends with")
    chunks = [r for r in responses if r.type == Response.CHUNK]
    report.equal(len(chunks), len(responses) - 3, "everything between RESPONSE_START and RESPONSE_COMPLETE is a CHUNK")
    report.check(len(chunks) > 0, "the reply has chunks")
    status, complete = responses[0], responses[-1]
    report.equal(status.status_message, GENERATING, "STATUS status_message")
    report.equal(status.context_messages, context_messages, "STATUS context_messages (the history with the new message)")
    report.equal([c.chunk_number for c in chunks], list(range(1, len(chunks) + 1)), "chunk_number in order from 1")
    report.check(all(c.chunk_text for c in chunks), "every CHUNK has text")
    report.check(not any(c.is_final for c in chunks), "is_final is false on every CHUNK (RESPONSE_COMPLETE ends a reply)")
    report.check(complete.is_final, "is_final on RESPONSE_COMPLETE, the last response of the reply")
    report.equal(complete.total_chunks, len(chunks), "RESPONSE_COMPLETE total_chunks")
    report.equal(complete.message_count, message_count, "RESPONSE_COMPLETE message_count")
    # A float of seconds; an instant offline model may round it to 0.0, so only its sign is a fact.
    report.check(complete.processing_time >= 0, f"processing_time >= 0 s, got {complete.processing_time}")
    for r in responses:
        report.equal(r.session_id, session_id, f"session_id of {Response.Type.Name(r.type)}")
        check_timestamp(report, r.timestamp, f"timestamp of {Response.Type.Name(r.type)}", after=after, before=before)
    return "".join(c.chunk_text for c in chunks)


def grpc_web(report, pb, http, session_id):
    """The unary RPCs as a browser calls them: gRPC-Web over HTTP/1.1 on the gateway's /grpc/ route."""
    report.begin("gRPC-Web on the HTTP/1.1 port")
    info = grpc_web_call(report, http, "GetSessionInfo", pb.SessionInfoRequest(session_id=session_id), pb.SessionInfoResponse)
    if info is not None:
        report.check(info.success and info.session_id == session_id, f"GetSessionInfo: {info}")
        report.equal(info.message_count, 4, "message_count")
        check_timestamp(report, info.created_at, "created_at")
    stats = grpc_web_call(report, http, "GetServerStats", pb.ServerStatsRequest(), pb.ServerStatsResponse)
    if stats is not None:
        report.check(stats.uptime_seconds >= 1 and stats.framework != "", f"GetServerStats: {stats}")
    listed = grpc_web_call(report, http, "ListSessions", pb.ListSessionsRequest(), pb.ListSessionsResponse)
    if listed is not None:
        report.check(any(s.session_id == session_id and s.message_count == 4 for s in listed.sessions), "ListSessions lists it")
    created = grpc_web_call(report, http, "CreateSession", pb.CreateSessionRequest(), pb.CreateSessionResponse)
    if created is not None:
        report.check(created.success and created.session_id, f"CreateSession: {created}")
        deleted = grpc_web_call(report, http, "DeleteSession", pb.DeleteSessionRequest(session_id=created.session_id),
                                pb.DeleteSessionResponse)
        report.check(deleted is not None and deleted.success, f"DeleteSession: {deleted}")
    missing = grpc_web_call(report, http, "GetSessionInfo", pb.SessionInfoRequest(session_id=str(uuid.uuid4())),
                            pb.SessionInfoResponse)
    if missing is not None:
        report.equal((missing.success, missing.message), (False, "Session not found"), "GetSessionInfo of an unknown id")


def grpc_web_call(report, http, method, request, response_type):
    """POST one length-prefixed message; read the message frame and the trailer frame (flag 0x80)."""
    payload = request.SerializeToString()
    body = b"\x00" + struct.pack(">I", len(payload)) + payload
    web = urllib.request.Request(
        f"{http.rstrip('/')}/grpc/chat.ChatService/{method}", data=body, method="POST",
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1", "accept": "application/grpc-web+proto"})
    try:
        with urllib.request.urlopen(web, timeout=TIMEOUT) as answer:
            content_type = answer.headers.get("content-type", "")
            header_status = answer.headers.get("grpc-status")
            data = answer.read()
    except urllib.error.HTTPError as error:
        report.check(False, f"{method}: HTTP {error.code} {error.read()[:200]!r}")
        return None
    report.check(content_type.startswith("application/grpc-web"), f"{method}: content-type {content_type!r}")
    messages, trailers, at = [], {}, 0
    while at + 5 <= len(data):
        flag, length = data[at], struct.unpack(">I", data[at + 1:at + 5])[0]
        frame = data[at + 5:at + 5 + length]
        at += 5 + length
        if flag & 0x80:
            for line in frame.decode("ascii").split("\r\n"):
                if ":" in line:
                    name, value = line.split(":", 1)
                    trailers[name.strip().lower()] = value.strip()
        else:
            messages.append(frame)
    status = trailers.get("grpc-status", header_status)
    report.equal(status, "0", f"{method}: grpc-status")
    if not report.equal(len(messages), 1, f"{method}: one message frame"):
        return None
    return response_type.FromString(messages[0])


if __name__ == "__main__":
    arguments_given = arguments(__doc__)
    if not arguments_given.grpc:
        print("--grpc is required")
        sys.exit(2)
    result = Report("conformance_grpc")
    run(result, lambda: conformance(result, arguments_given))
