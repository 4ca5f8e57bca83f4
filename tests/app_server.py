"""Start ``svdapp serve`` in a subprocess on a free loopback port, for the UI tests."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

SCRIPT = Path(sys.executable).parent / "svdapp"  # the console script pip installed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(env: dict[str, str], cwd: Path, *extra: str, timeout: float = 90) -> Iterator[str]:
    """Yield the app's URL once it answers; stop it afterwards. Its output goes to cwd/serve.log."""
    port = free_port()
    log_path = cwd / "serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(SCRIPT), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-browser",
                                 *extra], env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"svdapp serve exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"svdapp serve did not answer within {timeout} s:\n{log_path.read_text()}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def server_log(cwd: Path) -> str:
    path = cwd / "serve.log"
    return path.read_text() if path.is_file() else ""


def page_event(url: str, name: str, *data, session: str = "test-session") -> tuple[str, dict]:
    """Call one of the page's own events (not part of the API) as the browser does, through Gradio's
    queue; returns the raw text of every message the server sent back for it, and the last one."""
    import json

    import httpx
    with httpx.Client(base_url=url, timeout=60) as http:
        config = http.get("config").json()
        fn = next(d["id"] for d in config["dependencies"] if d.get("api_name") == name)
        http.post("gradio_api/queue/join", json={"data": list(data), "event_data": None, "fn_index": fn,
                                                 "trigger_id": None, "session_hash": session}).raise_for_status()
        raw = []
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                raw.append(line)
                message = json.loads(line[len("data:"):]) if line.startswith("data:") else {}
                if message.get("msg") == "process_completed":
                    return "\n".join(raw), message
    raise AssertionError(f"{name}: the server closed the stream without a result:\n" + "\n".join(raw))
