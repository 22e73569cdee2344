"""A local HTTP server shaped like the Hugging Face hub's file API, for tests and benchmarks (no network).

``GET``/``HEAD /<org>/<name>/resolve/<revision>/<file>`` answers with the headers ``huggingface_hub`` reads
(``X-Repo-Commit``, ``ETag``, ``Content-Length``, ``X-Error-Code``) and honours ``Range: bytes=a-b``. A
repository marked gated answers 401 (``X-Error-Code: GatedRepo``, as the hub does) unless the request carries
its token. Every request is recorded with the body bytes sent, so tests can assert that no weights moved.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def safetensors_bytes(tensors: dict[str, tuple[str, list[int]]], element_bytes: int = 2) -> bytes:
    """A complete safetensors file: header for ``{name: (dtype, shape)}`` then zeroed data."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = element_bytes
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + bytes(offset)


@dataclass
class Repo:
    files: dict[str, bytes]
    commit: str = "0123456789abcdef0123456789abcdef01234567"
    token: str | None = None
    """When set, the repository is gated: requests need ``Authorization: Bearer <token>``."""


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    sent: int


@dataclass
class FakeHub:
    repos: dict[str, Repo]
    requests: list[Request] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def sent(self) -> int:
        return sum(request.sent for request in self.requests)

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, *, body: bool) -> None:
                status, headers, payload = hub.resolve(self.path, self.headers.get("authorization"))
                wanted = self.headers.get("range")
                if status == 200 and wanted:
                    first, _, last = wanted.removeprefix("bytes=").partition("-")
                    start, end = int(first), min(int(last) if last else len(payload) - 1, len(payload) - 1)
                    headers["Content-Range"] = f"bytes {start}-{end}/{len(payload)}"
                    payload, status = payload[start : end + 1], 206
                # recorded before answering: the client may go on before this thread runs again
                hub.requests.append(Request(self.command, self.path, wanted, len(payload) if body else 0))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if body:
                    self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def resolve(self, path: str, authorization: str | None) -> tuple[int, dict[str, str], bytes]:
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return 404, {"X-Error-Code": "RepoNotFound"}, b"{}"
        repo_id, revision, name = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        repo = self.repos.get(repo_id)
        if repo is None:
            return 401, {"X-Error-Code": "RepoNotFound"}, b'{"error": "Repository not found"}'
        if repo.token is not None and authorization != f"Bearer {repo.token}":
            return 401, {"X-Error-Code": "GatedRepo"}, b'{"error": "Access to model is restricted"}'
        if revision not in ("main", repo.commit):
            return 404, {"X-Error-Code": "RevisionNotFound"}, b'{"error": "Invalid rev id"}'
        if name not in repo.files:
            return 404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": repo.commit}, b'{"error": "not found"}'
        payload = repo.files[name]
        etag = hashlib.sha256(payload).hexdigest()
        return 200, {"X-Repo-Commit": repo.commit, "ETag": f'"{etag}"'}, payload
