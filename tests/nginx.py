"""deploy/nginx.conf, run for real in front of test Daphne workers: the same file, with the
parts only Docker has (its DNS name for the replicas, port 80) pointed at this machine."""

import os
import re
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .conftest import ROOT, free_port, wait_until

NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def local_config(directory: Path, *, upstream: int, listen: int) -> Path:
    """The shipped configuration, proxying 127.0.0.1:`listen` to a worker on `upstream`."""
    text = NGINX_CONF.read_text()
    # No Docker DNS here: point the upstream at an address (and drop `resolve`, which needs
    # nginx 1.27.3 or later).
    text = re.sub(r"server\s+web:8000[^;]*;", f"server 127.0.0.1:{upstream};", text)
    text = re.sub(r"listen\s+80\b", f"listen 127.0.0.1:{listen}", text)
    text = text.replace("worker_processes auto;", "worker_processes 1;")
    if os.geteuid() == 0:  # else nginx's workers run as `nobody`, who cannot write here
        text = "user root;\n" + text
    if not Path("/etc/nginx/mime.types").exists():
        text = text.replace("include /etc/nginx/mime.types;", "types { text/html html; }")
    # Temporary files under `directory`, so nginx needs no write access to its prefix.
    temp_paths = "".join(
        f"\n    {kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = re.sub(r"^http\s*\{", lambda m: m.group(0) + temp_paths, text, count=1, flags=re.M)
    conf = directory / "nginx.conf"
    conf.write_text(text)
    return conf


def command(directory: Path, conf: Path, *extra: str) -> list[str]:
    binary = shutil.which("nginx")
    assert binary, "nginx is not installed (make test installs it)"
    pid = f"pid {directory / 'nginx.pid'};"
    return [binary, "-p", str(directory), "-e", "stderr", "-c", str(conf), "-g", pid, *extra]


@dataclass
class Nginx:
    port: int
    process: subprocess.Popen

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def start(directory: Path, upstream: int) -> Nginx:
    port = free_port()
    conf = local_config(directory, upstream=upstream, listen=port)
    log = (directory / "nginx.log").open("ab")
    process = subprocess.Popen(
        command(directory, conf, "-g", "daemon off;"), stdout=log, stderr=subprocess.STDOUT
    )
    proxy = Nginx(port, process)

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError((directory / "nginx.log").read_text())
        with urllib.request.urlopen(f"{proxy.http}/healthz", timeout=2) as response:
            return response.status == 200

    wait_until(healthy, 20, "nginx")
    return proxy
