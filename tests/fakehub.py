"""A fake Hugging Face Hub on a loopback port, for testing hub faults with the real client.

It answers the endpoints huggingface_hub 2.4 calls for ``snapshot_download``,
``auth_check`` and ``whoami`` (read from its source, not guessed):

- ``GET  /api/models/{repo}/revision/{rev}``  repo_info → the commit sha
- ``GET  /api/models/{repo}/tree/{rev}?recursive=True``  the file listing (cached by the client)
- ``GET  /api/models/{repo}/auth-check``  auth_check
- ``GET  /api/whoami-v2``  whoami
- ``HEAD/GET /{repo}/resolve/{rev}/{path}``  file metadata (X-Repo-Commit, ETag, X-Linked-Etag/Size,
  Content-Length) and the bytes, with ``Range: bytes=N-`` answered by 206 + Content-Range

Faults are switched by plain attributes, between or during requests:

- ``gated=True``: tokens not in ``granted`` get 401 (no token) or 403 (token), ``X-Error-Code: GatedRepo``
- a token not in ``valid_tokens`` gets 401 ``X-Error-Message: Invalid credentials in Authorization header``
- a token in ``forbidden`` gets 403 without an error code (a fine-grained token lacking a permission)
- any other repo id gets 404 (401 without a token, as the real Hub does) ``X-Error-Code: RepoNotFound``
- ``fail_status=500`` (or 502, 503...): every API and file request answers that status
- ``stop()``: the port refuses connections (``start()`` again reopens the same port)
- ``cut[path] = (offset, times)``: the next ``times`` GETs of ``path`` whose range covers ``offset`` send
  the headers for the full body, then the bytes up to ``offset``, then close the connection

Every request is logged in ``requests`` (method, path, Range header, whether a token came) and the
body bytes actually sent per file are summed in ``bytes_sent``. Only the standard library is used.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"
USER = "shop-owner"


@dataclass
class Logged:
    method: str
    path: str
    range: str | None
    token: str | None


@dataclass
class FakeHub:
    repo_id: str
    files: dict[str, bytes]
    valid_tokens: set[str] = field(default_factory=set)
    gated: bool = False
    granted: set[str] = field(default_factory=set)
    forbidden: set[str] = field(default_factory=set)  # e.g. fine-grained tokens without gated-repo reads
    fail_status: int | None = None
    fail_files_only: bool = False  # with fail_status: the API answers, only /resolve/ fails
    cut: dict[str, tuple[int, int]] = field(default_factory=dict)
    requests: list[Logged] = field(default_factory=list)
    bytes_sent: dict[str, int] = field(default_factory=dict)
    port: int = 0

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FakeHub":
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listening socket and every open connection: the port now refuses connections."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for sock in list(self._open):
                _hard_close(sock)
            self._open.clear()
        self._thread.join(timeout=5)
        self._server = None

    def reset(self) -> None:
        """No faults, nothing logged (between tests)."""
        self.gated, self.fail_status, self.fail_files_only = False, None, False
        self.granted, self.forbidden = set(), set()
        self.cut = {}
        self.requests = []
        self.bytes_sent = {}

    # -- queries for assertions ------------------------------------------------------------
    def gets(self, path: str) -> list[Logged]:
        """File GETs of ``path`` (a repo file), in order."""
        return [r for r in self.requests
                if r.method == "GET" and re.fullmatch(rf"/.+?/.+?/resolve/[^/]+/{re.escape(path)}", r.path)]

    def requested_files(self) -> set[str]:
        out = set()
        for r in self.requests:
            m = re.match(r"^/(.+?/.+?)/resolve/[^/]+/(.+)$", r.path)
            if m:
                out.add(m.group(2))
        return out

    def tokens_seen(self) -> set[str]:
        return {r.token for r in self.requests if r.token}


def _hard_close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def _sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_lfs(path: str) -> bool:
    return path.endswith((".safetensors", ".bin", ".ckpt"))


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.0"  # one request per connection: no pooled sockets outlive stop()

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def setup(self) -> None:
        super().setup()
        with self.hub._lock:
            self.hub._open.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.hub._lock:
                self.hub._open.discard(self.connection)

    # -- plumbing --------------------------------------------------------------------------
    def _token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else None

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _json(self, status: int, data, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), headers)

    def _error(self, status: int, code: str | None, message: str) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        headers["X-Repo-Commit"] = COMMIT if code in ("EntryNotFound",) else ""
        headers = {k: v for k, v in headers.items() if v}
        self._json(status, {"error": message}, headers)

    def _gate(self, repo: str, is_file: bool = False) -> bool:
        """Answer the error a request for ``repo`` gets, if any; True when one was sent."""
        hub, token = self.hub, self._token()
        if hub.fail_status and (is_file or not hub.fail_files_only):
            self._error(hub.fail_status, None, "Internal Error - We're working hard to fix this as soon as possible!")
            return True
        if token is not None and token not in hub.valid_tokens:
            self._error(401, None, "Invalid credentials in Authorization header")
            return True
        if token in hub.forbidden:
            self._error(403, None, "Please enable access to public gated repositories in your fine-grained "
                                   "token settings to view this repository.")
            return True
        if repo != hub.repo_id:
            self._error(404 if token else 401, "RepoNotFound", "Repository not found")
            return True
        if hub.gated and token not in hub.granted:
            self._error(403 if token else 401, "GatedRepo",
                        f"Access to model {repo} is restricted. You must have access to it and be authenticated "
                        "to access it. Please log in.")
            return True
        return False

    # -- routes ----------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self._route()

    def do_GET(self) -> None:
        self._route()

    def _route(self) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        self.hub.requests.append(Logged(self.command, path, self.headers.get("Range"), self._token()))
        if path == "/api/whoami-v2":
            return self._whoami()
        if path == "/api/agent-harnesses":  # huggingface_hub 2.4 asks once for its user-agent registry
            return self._json(200, {})
        m = re.match(r"^/api/models/([^/]+/[^/]+)/(revision|tree)/([^/]+)$", path)
        if m:
            repo, kind, rev = m.groups()
            if self._gate(repo):
                return
            if rev not in ("main", COMMIT):
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            if kind == "revision":
                return self._json(200, {"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                                        "gated": "manual" if self.hub.gated else False,
                                        "siblings": [{"rfilename": p} for p in sorted(self.hub.files)]})
            return self._json(200, self._tree())
        m = re.match(r"^/api/models/([^/]+/[^/]+)/auth-check$", path)
        if m:
            if self._gate(m.group(1)):
                return
            return self._json(200, {})
        m = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path)
        if m:
            repo, rev, file = m.groups()
            if self._gate(repo, is_file=True):
                return
            if rev not in ("main", COMMIT):
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            return self._file(file)
        self._error(404, None, "Not Found")

    def _whoami(self) -> None:
        hub, token = self.hub, self._token()
        if hub.fail_status and not hub.fail_files_only:
            return self._error(hub.fail_status, None, "Internal Error")
        if token is None or token not in hub.valid_tokens:
            return self._error(401, None, "Invalid credentials in Authorization header")
        self._json(200, {"type": "user", "name": USER, "fullname": "Shop Owner",
                         "auth": {"type": "access_token", "accessToken": {"displayName": "svdapp", "role": "read"}}})

    def _tree(self) -> list[dict]:
        entries, folders = [], set()
        for p, data in sorted(self.hub.files.items()):
            if "/" in p:
                folders.add(p.rsplit("/", 1)[0])
            entry = {"type": "file", "path": p, "size": len(data), "oid": _sha1(data)}
            if _is_lfs(p):
                entry["lfs"] = {"oid": _sha256(data), "size": len(data), "pointerSize": 134}
            entries.append(entry)
        return [{"type": "directory", "path": f, "oid": _sha1(f.encode())} for f in sorted(folders)] + entries

    def _file(self, file: str) -> None:
        hub = self.hub
        data = hub.files.get(file)
        if data is None:
            return self._error(404, "EntryNotFound", f"{file} does not exist on \"main\"")
        etag = _sha256(data) if _is_lfs(file) else _sha1(data)
        headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{etag}"', "Accept-Ranges": "bytes"}
        if _is_lfs(file):
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))})
        start = 0
        rng = self.headers.get("Range")
        if self.command == "GET" and rng:
            m = re.match(r"bytes=(\d+)-(\d*)$", rng.strip())
            if not m or int(m.group(1)) >= len(data):
                return self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
            start = int(m.group(1))
        body = data[start:]
        status = 206 if start else 200
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        if self.command == "HEAD":
            return self._send(200, data, headers, "application/octet-stream")

        cut_at = None
        with hub._lock:
            offset, times = hub.cut.get(file, (None, 0))
            if offset is not None and times > 0 and offset >= start:
                hub.cut[file] = (offset, times - 1)
                cut_at = offset
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        chunk = body if cut_at is None else body[:cut_at - start]
        try:
            self.wfile.write(chunk)
            self.wfile.flush()
        finally:
            with hub._lock:
                hub.bytes_sent[file] = hub.bytes_sent.get(file, 0) + len(chunk)
        if cut_at is not None:  # the connection drops mid-body: the client sees a short read
            self.close_connection = True
            _hard_close(self.connection)


def model_repo_files(folder: str | Path, decoys: bool = True) -> dict[str, bytes]:
    """The files of a ``save_pretrained`` SVD folder laid out as the real repo is: configs plus
    ``*.fp16.safetensors`` weights, and (``decoys``) the root checkpoints and fp32 weights an
    allow-list must skip."""
    folder = Path(folder)
    files: dict[str, bytes] = {}
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(folder).as_posix()
        if rel.endswith(".safetensors") and ".fp16." not in rel:
            stem = rel[: -len(".safetensors")]
            files[f"{stem}.fp16.safetensors"] = p.read_bytes()
            if decoys:
                files[rel] = b"\0" * 4096  # the fp32 copy nobody loads
        else:
            files[rel] = p.read_bytes()
    if decoys:
        files["svd_xt_1_1.safetensors"] = b"\1" * 8192  # the ~4.8 GB single-file checkpoint, in miniature
        files["README.md"] = b"# Stable Video Diffusion 1.1 Image-to-Video Model Card\n"
        files[".gitattributes"] = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    return files
