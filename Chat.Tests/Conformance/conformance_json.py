"""The original project's JSON surfaces through the gateway, checked from Python as its clients read them: REST,
NDJSON streaming, SSE and WebSocket, and the routes all four share (/sessions…, /health, /stats, /). Every response
and event the original sent must have the original's keys with the original's JSON types (an int stays an int, a
float is written as a float, timestamps are Python isoformat()); keys we add are allowed. Values are checked too:
counts after two turns, chunk numbers in order, is_final on the last chunk, durations that grow.

    /usr/bin/python3 conformance_json.py --http http://127.0.0.1:8000

Standard library plus Debian's python3-websocket. Exit code 0 when every check passed. See docs/contracts.md.
"""

import datetime
import json
import sys
import time
import urllib.error
import urllib.request
import uuid

from conformance_common import (BOOL, DICT, FLOAT, INT, LIST, STR, TS, Report, arguments, check_shape, check_timestamp,
                                loads, now_utc, run)

try:
    import websocket  # python3-websocket (websocket-client)
except ImportError as missing:
    print(f"MISSING PREREQUISITE: {missing}. Install Debian's python3-websocket (apt-get install python3-websocket; "
          "./build.sh installs it) and run with /usr/bin/python3.")
    sys.exit(3)

TIMEOUT = 30.0
GENERATING = "Generating response..."

# The original servers' bodies (protocols/*/server.py: pydantic models and dicts), key by key.
NEW_SESSION = {"session_id": STR, "model": STR, "timestamp": TS}
SESSION_INFO = {"session_id": STR, "model": STR, "message_count": INT, "session_duration_seconds": FLOAT,
                "user_messages": INT, "model_messages": INT, "created_at": TS}
SESSION_LIST = {"active_sessions": INT, "sessions": LIST}
SESSION_SUMMARY = {"session_id": STR, "model": STR, "message_count": INT, "duration_minutes": FLOAT, "created_at": TS,
                   "last_activity": TS}
MESSAGE = {"message": STR}
NOT_FOUND = {"detail": STR}
HEALTH = {"status": STR, "model": STR, "uptime_seconds": INT, "total_requests": INT, "successful_requests": INT,
          "failed_requests": INT, "active_sessions": INT}
STATS = {"uptime_seconds": INT, "total_requests": INT, "successful_requests": INT, "failed_requests": INT,
         "average_response_time": FLOAT, "model": STR, "start_time": TS, "active_sessions": INT,
         "total_sessions_created": INT}
ROOT = {"name": STR, "version": STR, "framework": STR, "model": STR, "features": LIST, "endpoints": DICT}
SHARED_ENDPOINTS = ["new_session", "session_info", "delete_session", "clear_session", "list_sessions", "health", "stats",
                    "docs"]

REST_REPLY = {"response": STR, "session_id": STR, "processing_time": FLOAT, "model": STR, "timestamp": TS,
              "message_count": INT, "is_new_session": BOOL}

# NDJSON events (protocols/streamble_http); SSE sent the same objects without "timestamp".
STREAM_EVENTS = {
    "session_info": {"type": STR, "session_id": STR, "model": STR, "timestamp": TS},
    "status": {"type": STR, "message": STR, "context_messages": INT},
    "chunk": {"type": STR, "text": STR, "chunk_number": INT, "is_final": BOOL, "timestamp": TS},
    "complete": {"type": STR, "total_chunks": INT, "processing_time": FLOAT, "message_count": INT, "session_id": STR,
                 "timestamp": TS},
    "error": {"type": STR, "message": STR, "session_id": STR, "timestamp": TS},
}

# WebSocket messages (protocols/websocket): every one is {type, timestamp, ...}.
WS_MESSAGES = {
    "connected": {"connection_id": STR, "message": STR, "server_info": DICT},
    "pong": {"connection_id": STR},
    "session_created": {"session_id": STR, "model": STR, "connection_id": STR},
    "session_joined": {"session_id": STR, "model": STR, "message_count": INT, "connection_id": STR},
    "status": {"message": STR, "session_id": STR, "context_messages": INT},
    "response_start": {"session_id": STR, "total_length": INT},
    "chunk": {"text": STR, "chunk_number": INT, "is_final": BOOL, "session_id": STR},
    "response_complete": {"total_chunks": INT, "processing_time": FLOAT, "message_count": INT, "session_id": STR,
                          "full_response": STR},
    "error": {"message": STR},
}
WS_UPDATES = {
    "user_typing": {"session_id": STR, "update_type": STR, "connection_id": STR, "typing": BOOL},
    "message_added": {"session_id": STR, "update_type": STR, "message_count": INT, "last_message_preview": STR},
}

TRANSPORTS = {
    # name: (the chat endpoint's key in GET /, the per-transport connection counter in /health and /stats, demo page)
    "rest": ("chat", None, False),
    "streaming": ("chat_stream", "streaming_connections", True),
    "sse": ("chat_stream", "streaming_connections", True),
    "websocket": ("websocket", "websocket_connections", True),
}


class Http:
    def __init__(self, base):
        self.base = base.rstrip("/")

    def call(self, method, path, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={
            **({"content-type": "application/json"} if body is not None else {}), **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                return answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def json(self, method, path, body=None):
        status, headers, data = self.call(method, path, body)
        return status, loads(data.decode(), f"{method} {path}")

    def stream(self, path, body):
        """POST, then the response's lines as they arrive (urllib undoes the chunked encoding)."""
        request = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"content-type": "application/json"})
        answer = urllib.request.urlopen(request, timeout=TIMEOUT)
        return answer, (line.decode().rstrip("\r\n") for line in answer)


def conformance(report, args):
    for name in TRANSPORTS:
        shared_routes(report, Http(f"{args.http.rstrip('/')}/{name}"), name)
    rest(report, Http(f"{args.http.rstrip('/')}/rest"))
    streamed(report, Http(f"{args.http.rstrip('/')}/streaming"), "ndjson")
    streamed(report, Http(f"{args.http.rstrip('/')}/sse"), "sse")
    websocket_protocol(report, args.http)


def shared_routes(report, http, transport):
    chat_key, counter, demo = TRANSPORTS[transport]

    report.begin(f"{transport}: POST /sessions/new")
    before = now_utc()
    status, created = http.json("POST", "/sessions/new", {})
    after = now_utc()
    report.equal(status, 200, "status")
    check_shape(report, created, NEW_SESSION, "new session")
    check_timestamp(report, created.get("timestamp"), "timestamp", after=before, before=after)
    session_id = created.get("session_id", "")

    report.begin(f"{transport}: GET /sessions/{{id}}")
    status, info = http.json("GET", f"/sessions/{session_id}")
    report.equal(status, 200, "status")
    if check_shape(report, info, SESSION_INFO, "session info"):
        report.equal(info["session_id"], session_id, "session_id")
        report.equal((info["message_count"], info["user_messages"], info["model_messages"]), (0, 0, 0), "counts")
        report.check(info["session_duration_seconds"] >= 0, "session_duration_seconds >= 0")
        check_timestamp(report, info["created_at"], "created_at", after=before, before=after)

    report.begin(f"{transport}: GET /sessions")
    status, listed = http.json("GET", "/sessions")
    report.equal(status, 200, "status")
    if check_shape(report, listed, SESSION_LIST, "session list"):
        report.check(listed["active_sessions"] >= len(listed["sessions"]), "active_sessions counts the list")
        mine = [s for s in listed["sessions"] if isinstance(s, dict) and s.get("session_id") == session_id]
        if report.equal(len(mine), 1, "the new session is listed once"):
            check_shape(report, mine[0], SESSION_SUMMARY, "session summary")
        for summary in listed["sessions"][:5]:
            check_shape(report, summary, SESSION_SUMMARY, "session summary")
            if transport == "websocket" and "connected_clients" in summary:
                report.check(type(summary["connected_clients"]) is int, "connected_clients is an int")

    report.begin(f"{transport}: POST /sessions/{{id}}/clear, DELETE /sessions/{{id}}, not found")
    status, cleared = http.json("POST", f"/sessions/{session_id}/clear")
    report.equal(status, 200, "clear status")
    if check_shape(report, cleared, MESSAGE, "clear"):
        report.equal(cleared["message"], f"Session {session_id} history cleared successfully", "clear message")
    status, deleted = http.json("DELETE", f"/sessions/{session_id}")
    report.equal(status, 200, "delete status")
    if check_shape(report, deleted, MESSAGE, "delete"):
        report.equal(deleted["message"], f"Session {session_id} deleted successfully", "delete message")
    for method, path in (("GET", f"/sessions/{session_id}"), ("DELETE", f"/sessions/{session_id}"),
                         ("POST", f"/sessions/{session_id}/clear"), ("GET", f"/sessions/{uuid.uuid4()}")):
        status, body = http.json(method, path)
        report.equal(status, 404, f"{method} {path.replace(session_id, '{deleted id}')}")
        if check_shape(report, body, NOT_FOUND, "404 body"):
            report.equal(body["detail"], "Session not found", "404 detail")

    report.begin(f"{transport}: GET /health, GET /stats, GET /")
    status, health = http.json("GET", "/health")
    report.equal(status, 200, "health status")
    check_shape(report, health, {**HEALTH, **({counter: INT} if counter else {})}, "health")
    report.equal(health.get("status"), "healthy", "health.status")
    status, stats = http.json("GET", "/stats")
    report.equal(status, 200, "stats status")
    if check_shape(report, stats, {**STATS, **({counter: INT} if counter else {})}, "stats"):
        check_timestamp(report, stats["start_time"], "start_time", before=now_utc())
        report.check(stats["uptime_seconds"] >= 0 and stats["total_sessions_created"] >= 1, "stats values")
    status, root = http.json("GET", "/")
    report.equal(status, 200, "root status")
    if check_shape(report, root, ROOT, "GET /"):
        expected = [chat_key, *SHARED_ENDPOINTS, *(["demo"] if demo else [])]
        report.equal([k for k in expected if k not in root["endpoints"]], [], "endpoints the original listed, missing")
        report.check(all(type(v) is str for v in root["endpoints"].values()), "endpoints are strings")
        report.check(all(type(f) is str for f in root["features"]), "features are strings")
    status, headers, _ = http.call("GET", "/docs")
    report.equal(status, 200, "GET /docs")
    report.check(headers.get("content-type", "").startswith("text/html"), f"/docs is a page: {headers.get('content-type')}")


def rest(report, http):
    report.begin("rest: POST /chat, two turns")
    first = f"My name is Ada {uuid.uuid4().hex[:8]}"
    before = now_utc()
    status, reply = http.json("POST", "/chat", {"message": first})
    after = now_utc()
    report.equal(status, 200, "status")
    if not check_shape(report, reply, REST_REPLY, "reply"):
        return
    session_id = reply["session_id"]
    report.equal((reply["is_new_session"], reply["message_count"]), (True, 2), "is_new_session, message_count")
    report.check("Turn 1" in reply["response"] and first in reply["response"], f"response: {reply['response']!r}")
    report.check(reply["processing_time"] >= 0, "processing_time >= 0")
    check_timestamp(report, reply["timestamp"], "timestamp", after=before, before=after)
    status, again = http.json("POST", "/chat", {"message": "What is my name?", "session_id": session_id})
    report.equal(status, 200, "status")
    if check_shape(report, again, REST_REPLY, "second reply"):
        report.equal((again["session_id"], again["is_new_session"], again["message_count"]), (session_id, False, 4),
                     "session_id, is_new_session, message_count")
        report.check("Turn 2" in again["response"] and first in again["response"], f"it remembers: {again['response']!r}")
    status, bad = http.json("POST", "/chat", {"message": "   ", "session_id": session_id})
    report.equal(status, 400, "an empty message")
    if check_shape(report, bad, NOT_FOUND, "400 body"):
        report.equal(bad["detail"], "Message is required", "400 detail")

    report.begin("rest: the session after two turns, durations that grow")
    status, info = http.json("GET", f"/sessions/{session_id}")
    if not check_shape(report, info, SESSION_INFO, "session info"):
        return
    created_at = check_timestamp(report, info["created_at"], "created_at")
    report.equal((info["message_count"], info["user_messages"], info["model_messages"]), (4, 2, 2), "counts")
    # The age in seconds with 2 decimals: wait on the clock until the session is over a second old.
    wait = (created_at + datetime.timedelta(seconds=1.1) - now_utc()).total_seconds()
    if wait > 0:
        time.sleep(wait)
    before = now_utc()
    status, info = http.json("GET", f"/sessions/{session_id}")
    after = now_utc()
    age_low, age_high = (before - created_at).total_seconds(), (after - created_at).total_seconds()
    duration = info.get("session_duration_seconds")
    report.check(type(duration) is float and age_low - 0.01 <= duration <= age_high + 0.01,
                 f"session_duration_seconds is the session's age: {age_low:.3f} <= {duration!r} <= {age_high:.3f}")
    report.check(type(duration) is float and duration >= 1.0, f"session_duration_seconds >= 1.0, got {duration!r}")
    status, listed = http.json("GET", "/sessions")
    mine = [s for s in listed.get("sessions", []) if s.get("session_id") == session_id]
    if report.equal(len(mine), 1, "listed once"):
        minutes = mine[0].get("duration_minutes")
        report.check(type(minutes) is float and 0 <= minutes <= (now_utc() - created_at).total_seconds() / 60 + 0.01,
                     f"duration_minutes is the age in minutes, a float: {minutes!r}")
        report.equal(mine[0].get("message_count"), 4, "message_count")
    status, stats = http.json("GET", "/stats")
    report.check(type(stats.get("average_response_time")) is float and stats["average_response_time"] >= 0,
                 f"average_response_time is a float >= 0: {stats.get('average_response_time')!r}")


def read_events(kind, lines):
    """NDJSON: one object per line. SSE: the data: lines of each event (each one JSON object), comments skipped."""
    events = []
    for line in lines:
        if kind == "ndjson":
            if line.strip():
                events.append(loads(line, "an NDJSON line"))
        elif line.startswith("data:"):
            events.append(loads(line[5:].lstrip(" "), "an SSE data: line"))
        if events and events[-1].get("type") in ("complete", "error"):
            return events
    return events


def streamed(report, http, kind):
    transport = "streaming" if kind == "ndjson" else "sse"
    report.begin(f"{transport}: POST /chat/stream, two turns")
    first = f"My name is Ada {uuid.uuid4().hex[:8]}"
    session_id = None
    for turn, message in ((1, first), (2, "What is my name?")):
        before = now_utc()
        answer, lines = http.stream("/chat/stream", {"message": message, **({"session_id": session_id} if session_id else {})})
        with answer:
            content_type = answer.headers.get("content-type", "")
            events = read_events(kind, lines)
        after = now_utc()
        if kind == "ndjson":
            report.check(content_type.startswith("application/x-ndjson"), f"content-type {content_type!r}")
        else:
            # The original sent text/plain (sse-starlette with media_type="text/plain"): see docs/contracts.md.
            report.check(content_type.startswith("text/event-stream"), f"content-type {content_type!r}")
        types = [e.get("type") for e in events]
        report.equal(types[:2], ["session_info", "status"], f"turn {turn} begins with")
        report.equal(types[-1], "complete", f"turn {turn} ends with")
        chunks = [e for e in events if e.get("type") == "chunk"]
        report.equal(len(chunks), len(events) - 3, "everything between status and complete is a chunk")
        for event in events:
            shape = dict(STREAM_EVENTS.get(event.get("type"), {"type": STR}))
            if kind == "sse":
                shape.pop("timestamp", None)  # the original's SSE events had none
            check_shape(report, event, shape, f"turn {turn} {event.get('type')}")
            if kind == "ndjson" and "timestamp" in shape:
                check_timestamp(report, event.get("timestamp"), f"{event.get('type')}.timestamp", after=before, before=after)
        if len(events) < 3:
            continue
        info, status, complete = events[0], events[1], events[-1]
        if session_id is None:
            session_id = info.get("session_id")
        report.equal(info.get("session_id"), session_id, "session_info.session_id")
        report.equal(status.get("message"), GENERATING, "status.message")
        report.equal(status.get("context_messages"), 2 * turn - 1, "status.context_messages (the history with the new message)")
        report.equal([c.get("chunk_number") for c in chunks], list(range(1, len(chunks) + 1)), "chunk_number in order from 1")
        report.equal([c.get("is_final") for c in chunks], [False] * (len(chunks) - 1) + [True], "is_final on the last chunk only")
        report.equal(complete.get("total_chunks"), len(chunks), "complete.total_chunks")
        report.equal(complete.get("message_count"), 2 * turn, "complete.message_count")
        report.equal(complete.get("session_id"), session_id, "complete.session_id")
        text = "".join(c.get("text", "") for c in chunks)
        report.check(f"Turn {turn}" in text and first in text, f"turn {turn} reply: {text!r}")

    report.begin(f"{transport}: an empty message, an unknown session")
    status, body = http.json("POST", "/chat/stream", {"message": " ", "session_id": session_id})
    report.equal(status, 400, "an empty message")
    report.equal(body.get("detail") if isinstance(body, dict) else body, "Message is required", "400 detail")
    unknown = str(uuid.uuid4())
    answer, lines = http.stream("/chat/stream", {"message": "Hello?", "session_id": unknown})
    with answer:
        events = read_events(kind, lines)
    report.check(events and events[0].get("type") == "session_info" and events[0].get("session_id") not in (unknown, session_id),
                 "an unknown session_id starts a new session (the original's get-or-create)")
    report.equal(events[-1].get("message_count") if events else None, 2, "the new session's message_count")


class Socket:
    def __init__(self, url):
        self.ws = websocket.create_connection(url, timeout=TIMEOUT)

    def send(self, message):
        self.ws.send(message if isinstance(message, str) else json.dumps(message))

    def receive(self):
        return loads(self.ws.recv(), "a WebSocket text frame")

    def until(self, message_type):
        """Messages up to and including the first of `message_type`; session_updates are set apart."""
        taken, updates = [], []
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            message = self.receive()
            if message.get("type") == "session_update" and message_type != "session_update":
                updates.append(message)
                continue
            taken.append(message)
            if message.get("type") == message_type:
                return taken, updates
        raise AssertionError(f"no {message_type} within {TIMEOUT} s: {[m.get('type') for m in taken]}")

    def close(self):
        self.ws.close()


def check_ws(report, message, what, after=None, before=None):
    kind = message.get("type")
    shape = WS_UPDATES.get(message.get("update_type"), {}) if kind == "session_update" else WS_MESSAGES.get(kind, {})
    check_shape(report, message, {"type": STR, "timestamp": TS, **shape}, f"{what} {kind}")
    check_timestamp(report, message.get("timestamp"), f"{kind}.timestamp", after=after, before=before)


def websocket_protocol(report, http):
    url = f"{http.rstrip('/').replace('http://', 'ws://', 1)}/websocket/ws"

    report.begin("websocket: connect, ping")
    talker = Socket(url)
    connected = talker.receive()
    report.equal(connected.get("type"), "connected", "the first message")
    check_ws(report, connected, "on connect")
    server_info = connected.get("server_info", {})
    check_shape(report, server_info, {"model": STR, "framework": STR, "features": LIST}, "connected.server_info")
    talker_id = connected.get("connection_id")
    talker.send({"type": "ping"})
    pong, _ = talker.until("pong")
    check_ws(report, pong[-1], "ping →")
    report.equal(pong[-1].get("connection_id"), talker_id, "pong.connection_id")

    report.begin("websocket: chat without a session, then the session's second connection")
    first = f"My name is Ada {uuid.uuid4().hex[:8]}"
    before = now_utc()
    talker.send({"type": "chat", "message": first})
    turn1, _ = talker.until("response_complete")
    after = now_utc()
    report.equal(turn1[0].get("type"), "session_created", "a chat without a session creates one")
    session_id = turn1[0].get("session_id")
    check_ws_turn(report, turn1[1:], session_id, context_messages=0, message_count=2, after=before, before=after)
    report.check(first in turn1[-1].get("full_response", ""), "full_response answers the message")

    watcher = Socket(url)
    watcher_id = watcher.receive().get("connection_id")
    watcher.send({"type": "join_session", "session_id": session_id})
    joined, _ = watcher.until("session_joined")
    check_ws(report, joined[-1], "join_session →")
    report.equal((joined[-1].get("session_id"), joined[-1].get("message_count"), joined[-1].get("connection_id")),
                 (session_id, 2, watcher_id), "session_joined session_id, message_count, connection_id")

    report.begin("websocket: typing and message updates reach the session's other connection")
    talker.send({"type": "typing_start"})
    typing, _ = watcher.until("session_update")
    check_ws(report, typing[-1], "typing_start →")
    report.equal((typing[-1].get("update_type"), typing[-1].get("connection_id"), typing[-1].get("typing")),
                 ("user_typing", talker_id, True), "user_typing update")
    talker.send({"type": "typing_stop"})
    typing, _ = watcher.until("session_update")
    report.equal((typing[-1].get("update_type"), typing[-1].get("typing")), ("user_typing", False), "typing_stop update")
    second = "What is my name?"
    before = now_utc()
    talker.send({"type": "chat", "message": second, "session_id": session_id})
    turn2, _ = talker.until("response_complete")
    after = now_utc()
    check_ws_turn(report, turn2, session_id, context_messages=2, message_count=4, after=before, before=after)
    report.check("Turn 2" in turn2[-1].get("full_response", "") and first in turn2[-1].get("full_response", ""),
                 f"the second reply remembers: {turn2[-1].get('full_response')!r}")
    added, _ = watcher.until("session_update")
    check_ws(report, added[-1], "a stored reply →")
    report.equal((added[-1].get("update_type"), added[-1].get("message_count"), added[-1].get("last_message_preview")),
                 ("message_added", 4, second), "message_added update")

    report.begin("websocket: errors keep the connection open")
    for sent, expected in (({"type": "bogus"}, "Unknown message type: bogus"),
                           ("this is not JSON", "Invalid JSON format"),
                           ({"type": "chat", "message": "   "}, "Message is required")):
        talker.send(sent)
        error, _ = talker.until("error")
        check_ws(report, error[-1], f"{sent!r} →")
        report.equal(error[-1].get("message"), expected, f"error for {sent!r}")
    unknown = str(uuid.uuid4())
    talker.send({"type": "join_session", "session_id": unknown})
    error, _ = talker.until("error")
    report.equal((error[-1].get("message"), error[-1].get("session_id")), ("Session not found", unknown),
                 "join_session of an unknown session")
    talker.send({"type": "create_session"})
    created, _ = talker.until("session_created")
    check_ws(report, created[-1], "create_session →")
    report.equal(created[-1].get("connection_id"), talker_id, "session_created.connection_id")
    talker.send({"type": "ping"})
    talker.until("pong")
    talker.close()
    watcher.close()


def check_ws_turn(report, messages, session_id, context_messages, message_count, after, before):
    types = [m.get("type") for m in messages]
    report.equal(types[:2], ["status", "response_start"], "a reply begins with")
    report.equal(types[-1], "response_complete", "a reply ends with")
    chunks = [m for m in messages if m.get("type") == "chunk"]
    report.equal(len(chunks), len(messages) - 3, "everything between response_start and response_complete is a chunk")
    for message in messages:
        check_ws(report, message, "reply", after=after, before=before)
        report.equal(message.get("session_id"), session_id, f"{message.get('type')}.session_id")
    report.equal(messages[0].get("message"), GENERATING, "status.message")
    report.equal(messages[0].get("context_messages"), context_messages, "status.context_messages (the history before the message)")
    report.equal([c.get("chunk_number") for c in chunks], list(range(1, len(chunks) + 1)), "chunk_number in order from 1")
    # With real streaming the last chunk is not known as such: response_complete ends a reply (docs/contracts.md).
    report.check(not any(c.get("is_final") for c in chunks), "is_final is false on every chunk")
    complete = messages[-1]
    report.equal(complete.get("total_chunks"), len(chunks), "response_complete.total_chunks")
    report.equal(complete.get("message_count"), message_count, "response_complete.message_count")
    report.equal(complete.get("full_response"), "".join(c.get("text", "") for c in chunks), "full_response is the chunks")


if __name__ == "__main__":
    given = arguments(__doc__)
    result = Report("conformance_json")
    run(result, lambda: conformance(result, given))
