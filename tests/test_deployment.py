"""Offline checks of the deployment files: Dockerfile, docker-compose.yml, deploy/nginx.conf,
.env.example, and `manage.py check --deploy` with production settings.

No Docker engine, no network and no database: the Compose file is validated against the
Compose spec that check-jsonschema ships, nginx.conf is tested with `nginx -t` only when an
nginx binary is installed, and the deploy check runs in a subprocess on a throwaway SQLite URL.
"""

import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from . import nginx
from .conftest import free_port


def _project_root() -> Path:
    for parent in Path(__file__).resolve().parents:
        if (parent / "manage.py").is_file():
            return parent
    raise RuntimeError("no manage.py above tests/")


ROOT = _project_root()
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
ENV_EXAMPLE = ROOT / ".env.example"
SETTINGS = ROOT / "chatsite" / "settings.py"

# env.str("NAME", ...), env.bool("NAME"), env.db("NAME"), env("NAME") ...
ENV_CALL = re.compile(r"""\benv(?:\.\w+)?\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""")
# `NAME=value` or `# NAME=value` at the start of a line.
ENV_LINE = re.compile(r"^\s*#?\s*([A-Z_][A-Z0-9_]*)=", re.MULTILINE)


def settings_env_vars() -> set[str]:
    return set(ENV_CALL.findall(SETTINGS.read_text()))


def documented_env_vars() -> set[str]:
    return set(ENV_LINE.findall(ENV_EXAMPLE.read_text()))


def makefile_ws_max_bytes() -> str:
    match = re.search(r"^WS_MAX_BYTES\s*\??=\s*(\d+)", (ROOT / "Makefile").read_text(), re.M)
    assert match, "the Makefile no longer sets WS_MAX_BYTES"
    return match.group(1)


def as_argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


@pytest.fixture(scope="module")
def compose() -> dict:
    return YAML(typ="safe").load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


# --- docker-compose.yml --------------------------------------------------------------------


def test_compose_file_validates_against_the_compose_spec():
    checker = Path(sys.executable).parent / "check-jsonschema"
    assert checker.exists(), f"{checker} is missing: install requirements-dev.txt"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_has_the_expected_services_and_no_version_key(compose, services):
    assert "version" not in compose, "the Compose spec dropped the top-level `version:`"
    assert {"db", "redis", "migrate", "web", "nginx"} <= set(services)


def test_every_service_has_an_image_or_a_build(services):
    for name, service in services.items():
        assert "image" in service or "build" in service, name


def test_every_depends_on_names_a_defined_service(services):
    for name, service in services.items():
        depends_on = service.get("depends_on", [])
        # Short form: a list of names; long form: a mapping of name to condition.
        targets = list(depends_on) if isinstance(depends_on, dict | list) else [depends_on]
        for target in targets:
            assert target in services, f"{name} depends on undefined service {target!r}"
            assert target != name, f"{name} depends on itself"


def condition(service: dict, target: str) -> str | None:
    depends_on = service.get("depends_on", {})
    if isinstance(depends_on, list):
        return "service_started" if target in depends_on else None
    if target not in depends_on:
        return None
    return (depends_on[target] or {}).get("condition", "service_started")


def test_services_start_in_order(services):
    assert condition(services["migrate"], "db") == "service_healthy"
    assert condition(services["web"], "migrate") == "service_completed_successfully"
    assert condition(services["web"], "db") == "service_healthy"
    assert condition(services["web"], "redis") == "service_healthy"
    assert condition(services["nginx"], "web") is not None
    for name in ("db", "redis", "web"):
        assert "healthcheck" in services[name], f"{name} needs a healthcheck for depends_on"


def test_migrate_is_a_one_shot_job(services):
    command = " ".join(as_argv(services["migrate"]["command"]))
    assert "manage.py migrate --noinput" in command
    assert "manage.py seed_demo" in command
    assert services["migrate"].get("restart", "no") == "no"


def test_web_runs_daphne_with_a_message_size_limit(services):
    web = services["web"]
    argv = as_argv(web["command"])
    assert argv[0] == "daphne", argv
    assert "--websocket-max-message-size" in argv, argv
    limit = argv[argv.index("--websocket-max-message-size") + 1]
    assert limit == makefile_ws_max_bytes(), "the limit differs from the Makefile's WS_MAX_BYTES"
    assert "--proxy-headers" in argv
    assert "--access-log" not in argv, "daphne logs to stdout; do not divert it to a file"
    assert argv[-1] == "chatsite.asgi:application"


def test_web_scales(services):
    web = services["web"]
    assert web["deploy"]["replicas"] >= 2
    assert "ports" not in web, "a published port stops `--scale web=N`: nginx is the way in"
    assert "container_name" not in web, "a fixed container name stops `--scale web=N`"
    assert "/healthz" in " ".join(as_argv(web["healthcheck"]["test"]))


def test_app_services_share_one_environment(services):
    env = services["web"]["environment"]
    assert services["migrate"]["environment"] == env
    assert env["DJANGO_DEBUG"] == "false"
    assert env["DATABASE_URL"].startswith("postgres://")
    assert env["REDIS_URL"].startswith("redis://redis:")
    unknown = set(env) - settings_env_vars()
    assert not unknown, f"settings.py never reads {sorted(unknown)}"


def test_compose_defaults_are_safe(services):
    """No public key to fall back on, and HTTPS cookies, redirect and HSTS unless asked not to."""
    env = services["web"]["environment"]
    assert re.fullmatch(r"\$\{DJANGO_SECRET_KEY:\?[^}]+\}", env["DJANGO_SECRET_KEY"])
    assert env["DJANGO_SECURE"] == "${DJANGO_SECURE:-true}"


def test_nginx_sets_the_forwarded_headers_itself():
    """Never appends to or passes on a client's X-Forwarded-For or X-Forwarded-Proto."""
    server = nginx_block(nginx_block(nginx_text(), r"^http"), r"\bserver")
    for location in (r"location\s+/ws/", r"location\s+/(?=\s)"):
        found = directives(nginx_block(server, location))
        assert "proxy_set_header X-Forwarded-For $remote_addr" in found
        assert "proxy_set_header X-Forwarded-Proto $scheme" in found


def test_compose_variables_are_documented(compose):
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text()))
    assert used, "expected ${VAR:-default} values in docker-compose.yml"
    missing = used - documented_env_vars()
    assert not missing, f"not in .env.example: {sorted(missing)}"


def bind_sources(service: dict) -> list[str]:
    sources = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source = volume.split(":", 1)[0]
        elif volume.get("type") == "bind":
            source = volume["source"]
        else:
            continue
        if source.startswith((".", "/", "~")):
            sources.append(source)
    return sources


def test_bind_mounts_name_files_that_exist(services):
    for name, service in services.items():
        for source in bind_sources(service):
            assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    nginx_mounts = services["nginx"]["volumes"]
    assert any("/etc/nginx/nginx.conf" in str(v) for v in nginx_mounts)
    assert [(ROOT / s).resolve() for s in bind_sources(services["nginx"])] == [NGINX_CONF]


# --- Dockerfile and .dockerignore ----------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_builds_a_slim_non_root_image_with_static_files():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert "pip install -r requirements.txt" in runs
    assert "collectstatic --noinput" in runs
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_default_command_is_the_web_command(services):
    cmd = [rest for keyword, rest in dockerfile_instructions() if keyword == "CMD"]
    assert len(cmd) == 1
    assert json.loads(cmd[0]) == as_argv(services["web"]["command"])


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", ".git", "db.sqlite3", "staticfiles"} <= ignored


# --- .env.example --------------------------------------------------------------------------


def test_env_example_documents_every_setting_variable():
    read = settings_env_vars()
    # The pattern must keep matching settings.py; a few it must always find:
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_SECURE"} <= read
    missing = read - documented_env_vars()
    assert not missing, f"settings.py reads these, .env.example omits them: {sorted(missing)}"


def test_env_example_documents_nothing_settings_ignores():
    stale = documented_env_vars() - settings_env_vars()
    assert not stale, f".env.example documents variables settings.py never reads: {stale}"


# --- deploy/nginx.conf ---------------------------------------------------------------------


def nginx_text() -> str:
    return re.sub(r"#[^\n]*", "", NGINX_CONF.read_text())


def nginx_block(text: str, header: str) -> str:
    """The body of the first `header {...}` block (header is a regex)."""
    match = re.search(header + r"\s*\{", text, re.MULTILINE)
    assert match, f"no block {header!r} in nginx.conf"
    depth, start = 1, match.end()
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    raise AssertionError(f"unbalanced braces after {header!r}")


def directives(block: str) -> set[str]:
    return {" ".join(d.split()) for d in block.split(";")}


def test_nginx_conf_upgrades_websockets():
    text = nginx_text()
    http = nginx_block(text, r"^http")
    assert "events" in text.split("http", 1)[0]
    upgrade_map = nginx_block(http, r"map\s+\$http_upgrade\s+\$connection_upgrade")
    assert "upgrade" in upgrade_map
    assert re.search(r"''\s+close", upgrade_map)
    upstream = nginx_block(http, r"upstream\s+chat")
    assert re.search(r"server\s+web:8000\b", upstream)
    assert re.search(r"resolver\s+127\.0\.0\.11\b", http)

    server = nginx_block(http, r"\bserver")
    assert "proxy_http_version 1.1" in directives(server)
    ws = directives(nginx_block(server, r"location\s+/ws/"))
    assert "proxy_pass http://chat" in ws
    assert "proxy_set_header Upgrade $http_upgrade" in ws
    assert "proxy_set_header Connection $connection_upgrade" in ws
    root = directives(nginx_block(server, r"location\s+/(?=\s)"))
    assert "proxy_pass http://chat" in root
    # A location that sets any header inherits none, so each one sets them all.
    for location in (ws, root):
        for header in ("Host", "X-Forwarded-For", "X-Forwarded-Proto"):
            assert any(d.startswith(f"proxy_set_header {header} ") for d in location), header


def test_nginx_image_supports_the_upstream_config(services):
    upstream = nginx_block(nginx_text(), r"upstream\s+chat")
    if not re.search(r"server\s+\S+[^;]*\bresolve\b", upstream):
        return
    assert re.search(r"\bzone\s+\S+", upstream), "`resolve` needs a shared memory zone"
    # `resolve` in an upstream block came to open-source nginx in 1.27.3.
    image = services["nginx"]["image"]
    match = re.fullmatch(r"nginx:(\d+)\.(\d+)(?:\.(\d+))?(?:-[\w.-]+)?", image)
    assert match, f"pin the nginx image to a version: {image}"
    major, minor, patch = (int(part) if part else None for part in match.groups())
    # A tag without a patch number follows that series' newest release (1.27 is 1.27.5).
    assert (major, minor, 99 if patch is None else patch) >= (1, 27, 3), image


def seconds(directive_set: set[str], name: str) -> int:
    [value] = [d.split()[1] for d in directive_set if d.startswith(name + " ")]
    return int(value.rstrip("s"))


def test_nginx_conf_timeouts_and_limits():
    http = nginx_block(nginx_text(), r"^http")
    server = nginx_block(http, r"\bserver")
    # Idle sockets exchange a ping every 25 s; plain HTTP should fail fast.
    assert seconds(directives(nginx_block(server, r"location\s+/ws/")), "proxy_read_timeout") >= 600
    assert (
        seconds(directives(nginx_block(server, r"location\s+/(?=\s)")), "proxy_read_timeout") <= 120
    )
    assert any(d.startswith("client_max_body_size ") for d in directives(http))
    assert "gzip on" in directives(http)


def test_nginx_accepts_the_config(tmp_path):
    if shutil.which("nginx") is None:
        pytest.skip("no nginx binary on PATH; the static checks of nginx.conf still ran")
    conf = nginx.local_config(tmp_path, upstream=8000, listen=free_port())
    result = subprocess.run(
        [*nginx.command(tmp_path, conf), "-t", "-q"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- manage.py check --deploy --------------------------------------------------------------


def test_check_deploy_reports_no_issues_with_production_settings(tmp_path):
    env = {name: value for name, value in os.environ.items() if name not in settings_env_vars()}
    env.update(
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="chat.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
    )
    # DJANGO_SECURE, DJANGO_SSL_REDIRECT and DJANGO_HSTS_SECONDS stay unset: on by default
    # outside DEBUG. settings.py also reads a developer's `.env`; should that set them, pin
    # their production defaults instead.
    dotenv = ROOT / ".env"
    if dotenv.exists():
        in_dotenv = set(
            re.findall(r"^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=", dotenv.read_text(), re.M)
        )
        production = {
            "DJANGO_SECURE": "true",
            "DJANGO_SSL_REDIRECT": "true",
            "DJANGO_HSTS_SECONDS": "31536000",
        }
        env.update({name: value for name, value in production.items() if name in in_dotenv})
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout, result.stdout + result.stderr
