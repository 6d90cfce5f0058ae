"""What the benchmark scripts share: building, installing, the MariaDB sandbox, haproxy and
shardgate configs, and the processes they start (all stopped by `Processes.stop_all`)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARDGATE = REPO / "target" / "release" / "shardgate"

# Accounts of the sandbox: the backend account on every server, the client account of the proxy.
BACKEND_USER, BACKEND_PASSWORD = "shardgate", "shardgate"
PROXY_USER, PROXY_PASSWORD = "app", "app"

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def have(cmd: str) -> bool:
    return shutil.which(cmd) is not None or Path("/usr/sbin", cmd).exists()


# Command -> Debian package, for what every benchmark script needs.
BASE_TOOLS = {"mariadbd": "mariadb-server", "mariadb": "mariadb-client", "sysbench": "sysbench"}


def install_missing(tools: dict[str, str], python_modules: list[str]) -> None:
    """Installs the Debian package of every missing command (apt-get) and every missing
    Python module (pip)."""
    packages = sorted({pkg for cmd, pkg in tools.items() if not have(cmd)})
    if packages:
        log(f"installing {' '.join(packages)} (apt-get)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
                       check=True, env=env)
    for module in python_modules:
        if module_available(module):
            continue
        log(f"installing {module} (pip)")
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               module]
        env = dict(os.environ, PIP_ROOT_USER_ACTION="ignore")
        if subprocess.run(pip, env=env).returncode != 0:
            # Debian's own python refuses pip installs into its site-packages (PEP 668).
            subprocess.run(pip + ["--break-system-packages"], check=True, env=env)


def module_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def build() -> None:
    log("cargo build --release")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)


class Processes:
    """The long-running processes this run started, stopped in reverse order."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], log_file: Path, **kw) -> subprocess.Popen:
        out = open(log_file, "wb")
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, **kw)
        out.close()
        self.procs.append((name, proc))
        return proc

    def stop_all(self) -> None:
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log(f"{name} (pid {proc.pid}) ignored SIGTERM; killing it")
                proc.kill()
                proc.wait()
        self.procs.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout}s")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name may contain spaces: fields start after its closing parenthesis.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def mysql(port: int, user: str, password: str, sql: str, db: str | None = None) -> str:
    argv = ["mariadb", "-h", "127.0.0.1", "-P", str(port), "-u", user, f"-p{password}",
            "--batch", "--skip-column-names", "-e", sql]
    if db:
        argv.insert(1, f"--database={db}")
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{sql!r} on port {port}: {done.stderr.strip()}")
    return done.stdout


def start_sandbox(procs: Processes, work: Path, shards: int = 2, name: str = "sandbox",
                  binary: Path = SHARDGATE) -> dict[str, int]:
    """Starts `shards` MariaDB servers (no proxy) in `work/name`; returns their ports by shard
    name."""
    sandbox_dir = work / name
    log_file = work / f"{name}.log"
    proc = procs.start(
        f"shardgate sandbox ({name})",
        [str(binary), "sandbox", "--shards", str(shards), "--replicas", "0", "--no-proxy",
         "--users", "0", "--dir", str(sandbox_dir)],
        log_file,
    )
    config = sandbox_dir / "shardgate.toml"
    deadline = time.monotonic() + 120
    while "databases running" not in log_file.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the sandbox did not start:\n"
                               + log_file.read_text(errors="replace"))
        time.sleep(0.1)
    generated = tomllib.loads(config.read_text())
    return {s["name"]: int(s["primary"].rsplit(":", 1)[1]) for s in generated["shards"]}


def mariadb_pid(work: Path, shard: str) -> int:
    return int((work / "sandbox" / f"{shard}-primary" / "mariadbd.pid").read_text().strip())


def haproxy_config(listen: int, server_port: int) -> str:
    return f"""# haproxy in TCP mode: a proxy hop that understands nothing of MySQL.
global
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend mysql
    bind 127.0.0.1:{listen}
    default_backend mariadb
backend mariadb
    server s0 127.0.0.1:{server_port}
"""


def shardgate_config(listen: int, db: str, shards: dict[str, int], tables: int,
                     transaction_mode: bool) -> str:
    lines = ['default_shard = "s0"', "", "[server]", f'listen = "127.0.0.1:{listen}"']
    if transaction_mode:
        # oltp_read_write's BEGIN … COMMIT touches rows on several shards.
        lines.append('transaction_mode = "multi"')
    lines += ["", "[[users]]", f'name = "{PROXY_USER}"', f'password = "{PROXY_PASSWORD}"', "",
              "[backend]", f'user = "{BACKEND_USER}"', f'password = "{BACKEND_PASSWORD}"',
              f'database = "{db}"']
    for name, port in shards.items():
        lines += ["", "[[shards]]", f'name = "{name}"', f'primary = "127.0.0.1:{port}"']
    for t in range(1, tables + 1):
        lines += ["", "[[tables]]", f'name = "sbtest{t}"', 'shard_key = "id"']
    return "\n".join(lines) + "\n"


def write_shardgate_config(path: Path, listen: int, db: str, shards: dict[str, int],
                           tables: int, notes: list[str]) -> None:
    """Writes the config with `transaction_mode = "multi"`, or without it (noted) if this build
    does not know the key yet."""
    path.write_text(shardgate_config(listen, db, shards, tables, True))
    check = subprocess.run([str(SHARDGATE), "check-config", str(path)], capture_output=True,
                           text=True)
    if check.returncode == 0:
        return
    if "transaction_mode" not in check.stderr:
        raise RuntimeError(f"{path}: {check.stderr.strip()}")
    note = (f'{path.name}: this build rejects [server] transaction_mode = "multi" '
            f"({check.stderr.strip()}); running without it")
    log(note)
    notes.append(note)
    path.write_text(shardgate_config(listen, db, shards, tables, False))
