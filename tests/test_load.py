"""Load, soak and public-link checks (issue 7): 20 concurrent /generate calls, 50 runs in one
process, the token never reaching the page, the upload limit, and only outputs/ served.
Cancel mid-run and ``--share`` without ``--auth`` are covered in test_browser.py and
test_ui_api.py and not repeated here."""

from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from svdapp.video import probe, read_frames

from .app_server import running_app, server_log
from .conftest import TINY_OVERRIDES

N_CLIENTS = 20


def _hue_photos(folder: Path, n: int) -> list[tuple[Path, tuple[int, int, int]]]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        rgb = tuple(int(c) for c in (np.array(Image.new("HSV", (1, 1), (int(255 * i / n), 220, 220))
                                                   .convert("RGB"))[0, 0]))
        path = folder / f"colour-{i:02d}.png"
        Image.new("RGB", (256, 192), rgb).save(path)
        out.append((path, rgb))
    return out


def test_twenty_concurrent_generate_calls(app_env, tmp_path):
    from gradio_client import Client, handle_file

    photos = _hue_photos(tmp_path / "photos", N_CLIENTS)
    results: dict[int, tuple] = {}
    errors: list[BaseException] = []
    max_rank = [0]
    lock = threading.Lock()

    with running_app(app_env, tmp_path) as url:
        def worker(i: int) -> None:
            try:
                client = Client(url, verbose=False)
                path, _ = photos[i]
                kw = dict(engine="classic", seconds=1, width=128, height=64) if i % 2 == 0 else dict(TINY_OVERRIDES)
                job = client.submit(handle_file(path), "fast", seed=1000 + i, **kw, api_name="/generate")
                deadline = time.monotonic() + 200
                while not job.done():
                    st = job.status()
                    rank = getattr(st, "rank", None)
                    if rank:
                        with lock:
                            max_rank[0] = max(max_rank[0], rank)
                    if time.monotonic() > deadline:
                        raise AssertionError(f"client {i} timed out")
                    time.sleep(0.05)  # polling interval, not a timing assumption
                results[i] = job.result()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        start = time.monotonic()
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(N_CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
        wall = time.monotonic() - start
    print(f"\nconcurrency: {N_CLIENTS} clients, wall {wall:.1f} s, max queue rank seen {max_rank[0]}")
    assert not errors, errors
    assert len(results) == N_CLIENTS
    videos = [Path(results[i][0]) for i in range(N_CLIENTS)]
    assert len({v.resolve() for v in videos}) == N_CLIENTS  # each client its own file
    saved = list((tmp_path / "outputs").glob("*/video.mp4"))
    assert len(saved) == N_CLIENTS
    assert len({p.read_bytes() for p in saved}) == N_CLIENTS  # all 20 distinct
    for i in range(N_CLIENTS):
        meta = results[i][1]
        assert meta["seed"] == 1000 + i
        info = probe(videos[i])
        assert (info.width, info.height) == (128, 64)
        if i % 2 == 0:  # classic: the output colour follows this client's own input colour
            mean = read_frames(videos[i])[0].reshape(-1, 3).mean(axis=0)
            assert np.abs(mean - np.array(photos[i][1])).max() < 20, (i, mean, photos[i][1])
    assert max_rank[0] > 0, "no waiting client was ever shown a queue position"


def _rss_mb() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def test_soak_fifty_runs_in_one_process(app_env, tmp_path, product_photo):
    from svdapp.jobs import run_request
    from svdapp.request import GenerationRequest

    rss = []
    start = time.monotonic()
    for i in range(50):
        if i % 5 == 0:
            req = GenerationRequest(image=product_photo, preset="fast", overrides={**TINY_OVERRIDES, "seed": i})
        else:
            req = GenerationRequest(image=product_photo, preset="fast", engine="classic", seconds=1,
                                    overrides={"width": 128, "height": 64, "seed": i})
        result = run_request(req)
        assert result.video.is_file()
        rss.append(_rss_mb())
    wall = time.monotonic() - start
    growth = rss[-1] - rss[4]
    print(f"\nsoak: 50 runs, wall {wall:.1f} s, RSS after run 1 {rss[0]:.0f} MB, after run 5 {rss[4]:.0f} MB, "
          f"end {rss[-1]:.0f} MB, max {max(rss):.0f} MB, growth after warm-up {growth:.1f} MB")
    assert growth < 60


TOKEN = "hf_loadTestSecretToken0123456789abcdef"


def test_token_never_served(app_env, tmp_path):
    env = {**app_env, "HF_TOKEN": TOKEN}
    (tmp_path / ".env").write_text(f"HF_TOKEN={TOKEN}\n")
    with running_app(env, tmp_path) as url:
        bodies = []
        for path in ("", "config", "gradio_api/info", "gradio_api/openapi.json"):  # each must answer (200)
            with urllib.request.urlopen(url + path, timeout=10) as r:
                bodies.append(r.read().decode("utf-8", "replace"))
        from gradio_client import Client
        report = Client(url, verbose=False).predict(api_name="/check")
        bodies.append(repr(report))
    bodies.append(server_log(tmp_path))
    for body in bodies:
        assert TOKEN not in body
        assert TOKEN[3:20] not in body


def test_upload_limit_and_only_outputs_are_served(app_env, tmp_path, product_photo):
    """What a public link exposes: uploads above --max-upload-mb are refused; files are served
    from outputs/ only, never the .env, the working folder or the model."""
    import httpx
    result = tmp_path / "outputs" / "20261128-000000-product-1" / "video.mp4"
    result.parent.mkdir(parents=True)
    result.write_bytes(b"not really a video, but ours to serve")
    (tmp_path / ".env").write_text(f"HF_TOKEN={TOKEN}\n")
    secret = tmp_path / "notes.txt"
    secret.write_text("private notes")
    big = tmp_path / "huge.jpg"
    big.write_bytes(product_photo.read_bytes() + bytes(2 * 1024 * 1024))  # a 2 MB "photo"
    with running_app(app_env, tmp_path, "--max-upload-mb", "1") as url, httpx.Client(base_url=url, timeout=30) as http:
        def upload(path: Path) -> httpx.Response:
            with open(path, "rb") as f:
                return http.post("gradio_api/upload", files={"files": (path.name, f, "image/jpeg")})

        too_big = upload(big)
        assert too_big.status_code == 413, too_big.text
        small = upload(product_photo)
        assert small.status_code == 200 and small.json(), small.text

        served = http.get(f"gradio_api/file={result}")
        assert served.status_code == 200 and served.content == result.read_bytes()
        for private in (tmp_path / ".env", secret, Path(app_env["SVDAPP_MODEL"]) / "model_index.json",
                        result.parent / ".." / ".." / "notes.txt", Path("/etc/passwd")):
            got = http.get(f"gradio_api/file={private}")
            assert got.status_code in (403, 404), f"{private} was served: {got.status_code}"
            assert TOKEN not in got.text and "private notes" not in got.text
