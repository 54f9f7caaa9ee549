"""Serve more people than one app process holds: N Streamlit processes behind nginx (``make serve``).

    python deploy/serve.py --replicas 2 --port 8080 [--listen 127.0.0.1] [--dir /run/emotion-serve]

Each replica is ``streamlit run streamlit_app.py`` on its own localhost port (127.0.0.1:8601, 8602, ...,
as .streamlit/config.toml binds it). nginx listens on ``--listen:--port`` and proxies plain requests and
Streamlit's WebSocket (``/_stcore/stream``) alike. A Streamlit session lives in one process, so every
request of a browser must reach the same replica: a new browser is given a replica at random and a
cookie (``emotion_replica``) that keeps it there; the replica's uploads, media and session state never
have to move. nginx writes no request or response body to disk (``proxy_request_buffering off``,
``proxy_max_temp_file_size 0``), so photos stay in memory here too.

The generated ``nginx.conf``, nginx's pid, logs and temporary folders go to ``--dir`` (a fresh
temporary folder by default); the access log records each request's replica cookie and upstream, which
tests/e2e/test_replicas_browser.py reads. Ctrl-C (or SIGTERM) stops nginx and every replica.

TLS and a public address belong to the operator's own nginx (README, "Remote use"); this recipe is the
same configuration on localhost.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIRST_REPLICA_PORT = 8601
COOKIE = "emotion_replica"
MAX_BODY_MB = 201  # server.maxUploadSize (200) and the multipart framing

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format sticky '$msec $remote_addr "$request" $status cookie=$cookie_{cookie} replica=$replica upstream=$upstream_addr';
    access_log {dir}/access.log sticky;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size {max_body}m;
    client_body_buffer_size {max_body}m;   # an upload is held in memory, never in client_body_temp
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_max_temp_file_size 0;

    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
{upstreams}
    # A new browser gets a replica at random; its cookie keeps it there (a known replica name only).
    split_clients "$remote_addr$remote_port$msec$request_id" $new_replica {{
{split}
    }}
    map $cookie_{cookie} $replica {{
        default $new_replica;
{known}
    }}
    server {{
        listen {listen}:{port};
        location / {{
            proxy_pass http://$replica;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1d;
            proxy_send_timeout 1d;
            add_header Set-Cookie "{cookie}=$replica; Path=/; HttpOnly; SameSite=Lax" always;
        }}
    }}
}}
"""


def nginx_conf(replicas: int, port: int, listen: str, folder: Path, first_port: int = FIRST_REPLICA_PORT) -> str:
    names = [f"r{i}" for i in range(replicas)]
    upstreams = "\n".join(f"    upstream {name} {{ server 127.0.0.1:{first_port + i}; }}" for i, name in enumerate(names))
    share = int(10000 / replicas) / 100  # nginx takes at most two decimals; "*" takes the rest
    split = "\n".join(f"        {share:.2f}% {name};" for name in names[:-1]) + f"\n        * {names[-1]};"
    known = "\n".join(f"        {name} {name};" for name in names)
    return NGINX_CONF.format(dir=folder, cookie=COOKIE, max_body=MAX_BODY_MB, upstreams=upstreams, split=split,
                             known=known, listen=listen, port=port)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start(replicas: int, port: int, listen: str, folder: Path, env: dict | None = None,
          first_port: int = FIRST_REPLICA_PORT, timeout_s: float = 300.0) -> list[subprocess.Popen]:
    """Start the replicas and nginx; returns their processes (nginx last) once all answer."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is not installed (apt-get install -y nginx)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nginx.conf").write_text(nginx_conf(replicas, port, listen, folder, first_port))
    streamlit = Path(sys.executable).with_name("streamlit")
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    processes = []
    for i in range(replicas):
        log = open(folder / f"replica{i}.log", "wb")  # noqa: SIM115 - open while the replica runs
        processes.append(subprocess.Popen(
            [str(streamlit), "run", "streamlit_app.py", "--server.port", str(first_port + i)], cwd=PROJECT_ROOT,
            env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    processes.append(subprocess.Popen([nginx, "-c", str(folder / "nginx.conf"), "-p", str(folder)],
                                      stdout=subprocess.DEVNULL, stderr=open(folder / "nginx.out", "wb"),  # noqa: SIM115
                                      start_new_session=True))
    deadline = time.monotonic() + timeout_s
    for i in range(replicas):
        while not _healthy(f"http://127.0.0.1:{first_port + i}/_stcore/health"):
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                stop(processes)
                raise SystemExit(f"replica {i} did not start; see {folder}/replica{i}.log and {folder}/nginx.out")
            time.sleep(0.5)
    return processes


def stop(processes: list[subprocess.Popen]) -> None:
    """Stop the processes this recipe started (nginx first), each by its own id."""
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy/serve.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2, help="app processes (default 2)")
    parser.add_argument("--port", type=int, default=8080, help="nginx's port (default 8080)")
    parser.add_argument("--listen", default="127.0.0.1", help="nginx's address (default 127.0.0.1)")
    parser.add_argument("--first-port", type=int, default=FIRST_REPLICA_PORT, help="the first replica's port")
    parser.add_argument("--dir", help="folder for nginx.conf, logs and pid (default: a new temporary folder)")
    args = parser.parse_args(argv)
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="emotion-serve-"))
    processes = start(args.replicas, args.port, args.listen, folder.resolve(), first_port=args.first_port)
    print(f"serving {args.replicas} replicas at http://{args.listen}:{args.port} (nginx and logs in {folder}); "
          f"Ctrl-C stops them", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop(processes)


if __name__ == "__main__":
    sys.exit(main())
