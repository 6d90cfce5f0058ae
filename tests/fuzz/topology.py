"""Starting and stopping the processes of a fuzz run.

Two `shardgate sandbox --no-proxy` processes (3 sharded primaries; 1 reference MariaDB), and
`shardgate serve` in front of the 3 shards with a config written here. Every process started
is recorded and stopped with SIGTERM (SIGKILL after a grace period) by `Topology.stop`, which
is safe to call more than once and is called on any failure or interrupt.
"""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time
import tomllib

import pymysql
import pymysql.converters

# Encoders only: results stay the raw text the server sent (no decoders).
RAW_CONV = {k: v for k, v in pymysql.converters.conversions.items() if not isinstance(k, int)}

SANDBOX_START_TIMEOUT = 180
PROXY_START_TIMEOUT = 60
STOP_GRACE = 30


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Sandbox:
    """One `shardgate sandbox --no-proxy` process and what it printed."""

    def __init__(self, binary, shards, directory, log_path):
        self.directory = directory
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [binary, "sandbox", "--shards", str(shards), "--replicas", "0", "--no-proxy",
             "--dir", directory, "--users", "0"],
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL,
        )
        self.primaries = []  # (name, host, port)
        self.config_path = None
        self.config = None

    def wait_ready(self, deadline):
        buf = b""
        out = self.proc.stdout
        while True:
            if time.monotonic() > deadline:
                raise RuntimeError(f"sandbox in {self.directory} did not start in time")
            ready, _, _ = select.select([out], [], [], 0.5)
            if not ready:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"sandbox in {self.directory} exited with {self.proc.returncode}; "
                        f"see {self.log.name}")
                continue
            chunk = os.read(out.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"sandbox in {self.directory} closed its output; see {self.log.name}")
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode("utf-8", "replace")
                m = re.match(r"shard (\S+): primary (\S+):(\d+) replicas", text)
                if m:
                    self.primaries.append((m.group(1), m.group(2), int(m.group(3))))
                m = re.match(r"config: (.+)$", text)
                if m:
                    self.config_path = m.group(1).strip()
                    with open(self.config_path, "rb") as f:
                        self.config = tomllib.load(f)
                    return

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()


class Topology:
    """The sharded sandbox, the reference sandbox and the proxy."""

    def __init__(self, binary, run_dir, log=print):
        self.binary = binary
        self.run_dir = run_dir
        self.log = log
        self.sharded = None
        self.reference = None
        self.proxy = None
        self.proxy_log = None
        self.proxy_port = None
        self.proxy_config_path = os.path.join(run_dir, "proxy.toml")
        self.backend_user = self.backend_password = self.database = None
        self.proxy_user = self.proxy_password = None

    # -- start ---------------------------------------------------------------------------

    def start_databases(self):
        self.sharded = Sandbox(self.binary, 3, os.path.join(self.run_dir, "sharded"),
                               os.path.join(self.run_dir, "sandbox-sharded.log"))
        self.reference = Sandbox(self.binary, 1, os.path.join(self.run_dir, "reference"),
                                 os.path.join(self.run_dir, "sandbox-reference.log"))
        deadline = time.monotonic() + SANDBOX_START_TIMEOUT
        self.sharded.wait_ready(deadline)
        self.reference.wait_ready(deadline)
        cfg = self.sharded.config
        self.backend_user = cfg["backend"]["user"]
        self.backend_password = cfg["backend"]["password"]
        self.database = cfg["backend"]["database"]
        self.proxy_user = cfg["users"][0]["name"]
        self.proxy_password = cfg["users"][0]["password"]
        self.log(f"shards: {', '.join(f'{n} {h}:{p}' for n, h, p in self.sharded.primaries)}; "
                 f"reference: {self.reference.primaries[0][1]}:{self.reference.primaries[0][2]}")

    def write_proxy_config(self, table_rules):
        """The sandbox's generated config with our listen port, multi-shard transactions and
        `table_rules` (list of dicts: name, shard_key, strategy, shard_key_type, reference,
        ranges)."""
        cfg = self.sharded.config
        self.proxy_port = free_port()
        out = [f"default_shard = {toml_str(cfg.get('default_shard', self.sharded.primaries[0][0]))}", "",
               "[server]", f'listen = "127.0.0.1:{self.proxy_port}"', 'transaction_mode = "multi"',
               "multi_shard_lock_wait_timeout_seconds = 5", ""]
        for u in cfg["users"]:
            out += ["[[users]]", f"name = {toml_str(u['name'])}", f"password = {toml_str(u['password'])}", ""]
        b = cfg["backend"]
        out += ["[backend]", f"user = {toml_str(b['user'])}", f"password = {toml_str(b['password'])}",
                f"database = {toml_str(b['database'])}", ""]
        for s in cfg["shards"]:
            reps = ", ".join(toml_str(r) for r in s.get("replicas", []))
            out += ["[[shards]]", f"name = {toml_str(s['name'])}", f"primary = {toml_str(s['primary'])}",
                    f"replicas = [{reps}]", ""]
        for r in table_rules:
            out += ["[[tables]]", f"name = {toml_str(r['name'])}"]
            if r.get("reference"):
                out.append("reference = true")
            else:
                out.append(f"shard_key = {toml_str(r['shard_key'])}")
                out.append(f"strategy = {toml_str(r['strategy'])}")
                out.append(f"shard_key_type = {toml_str(r.get('shard_key_type', 'integer'))}")
                if r.get("ranges"):
                    parts = []
                    for rg in r["ranges"]:
                        fields = [f"shard = {toml_str(rg['shard'])}"]
                        if rg.get("start") is not None:
                            fields.append(f"start = {rg['start']}")
                        if rg.get("end") is not None:
                            fields.append(f"end = {rg['end']}")
                        parts.append("{ " + ", ".join(fields) + " }")
                    out.append("ranges = [ " + ", ".join(parts) + " ]")
            out.append("")
        with open(self.proxy_config_path, "w") as f:
            f.write("\n".join(out))

    def start_proxy(self):
        self.proxy_log = open(os.path.join(self.run_dir, "proxy.log"), "ab")
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "warn")
        self.proxy = subprocess.Popen(
            [self.binary, "serve", "--config", self.proxy_config_path,
             "--config-poll-interval-ms", "0", "--worker-threads", "2"],
            stdout=self.proxy_log, stderr=self.proxy_log, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + PROXY_START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proxy.poll() is not None:
                raise RuntimeError(f"shardgate serve exited with {self.proxy.returncode}; "
                                   f"see {self.proxy_log.name}")
            try:
                c = self.connect_proxy(connect_timeout=2)
                c.close()
                return
            except pymysql.err.MySQLError as e:
                last = e
                time.sleep(0.2)
        raise RuntimeError(f"shardgate serve did not accept logins in time: {last}")

    # -- connections ---------------------------------------------------------------------

    def _connect(self, host, port, user, password, autocommit=True, connect_timeout=10,
                 read_timeout=60):
        return pymysql.connect(
            host=host, port=port, user=user, password=password, database=self.database,
            charset="utf8mb4", autocommit=autocommit, conv=RAW_CONV, connect_timeout=connect_timeout,
            read_timeout=read_timeout, write_timeout=read_timeout)

    def connect_proxy(self, **kw):
        return self._connect("127.0.0.1", self.proxy_port, self.proxy_user, self.proxy_password, **kw)

    def connect_reference(self, **kw):
        _, host, port = self.reference.primaries[0]
        return self._connect(host, port, self.backend_user, self.backend_password, **kw)

    def connect_shards(self, **kw):
        """(name, connection) to every shard's primary, directly."""
        return [(name, self._connect(host, port, self.backend_user, self.backend_password, **kw))
                for name, host, port in self.sharded.primaries]

    def proxy_alive(self):
        return self.proxy is not None and self.proxy.poll() is None

    def spans_shards(self, sql, sql_mode=""):
        """Whether `shardgate route --sql` runs `sql` (read under `sql_mode`) on several shards
        (scatter, broadcast, split, every shard or every copy)."""
        cmd = [self.binary, "route", "--config", self.proxy_config_path, "--sql", sql,
               "--sql-mode", sql_mode]
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=60, text=True)
        except (OSError, subprocess.TimeoutExpired):
            return False
        plan = p.stdout.split("\n")[0]
        return p.returncode == 0 and any(
            w in plan for w in ("scatter", "every shard", "split", "every copy"))

    def route(self, table, keys):
        """The shard names `shardgate route` gives for `keys` of `table` (None on failure)."""
        if not keys:
            return []
        cmd = [self.binary, "route", "--config", self.proxy_config_path, "--table", table]
        cmd += [f"--key={k}" for k in keys]
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=60, text=True)
        except (OSError, subprocess.TimeoutExpired):
            return None
        lines = p.stdout.split("\n")
        if p.returncode != 0 or len(lines) < len(keys):
            return None
        return lines[:len(keys)]

    # -- stop ----------------------------------------------------------------------------

    def stop_proxy(self):
        if self.proxy is not None:
            if self.proxy.poll() is None:
                self.proxy.send_signal(signal.SIGTERM)
            try:
                self.proxy.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proxy.kill()
                self.proxy.wait()
            self.proxy_log.close()
            self.proxy = None

    def stop(self, keep=False):
        self.stop_proxy()
        for sb in (self.sharded, self.reference):
            if sb is not None:
                sb.stop()
        self.sharded = self.reference = None
        if not keep:
            for sub in ("sharded", "reference"):
                shutil.rmtree(os.path.join(self.run_dir, sub), ignore_errors=True)
