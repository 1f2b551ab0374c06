"""A three-master Redis Cluster of the test suite's own, from the machine's ``redis-server``.

Three ``redis-server --cluster-enabled yes`` processes on free loopback ports,
joined by ``redis-cli --cluster create ... --cluster-yes`` (no replicas), each
stopped by its pid at the end.  Its URL is ``redis+cluster://`` with one of
the nodes: the scheme the service takes for a cluster.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis
from redis.cluster import RedisCluster

from tests.redis_server import answers

MASTERS = 3
BUS_PORT_OFFSET = 10_000  # a cluster node also listens on its port + 10,000 (so its port is at most 55,535)


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port(taken: list[int]) -> int:
    """A loopback port that is free, and so is the one 10,000 above it."""
    rng = random.Random()
    while True:
        port = rng.randrange(20_000, 55_000)
        if port not in taken and _free(port) and _free(port + BUS_PORT_OFFSET):
            return port


class PrivateCluster:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports: list[int] = []
        for _ in range(MASTERS):
            self.ports.append(cluster_port(self.ports))
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start(self, timeout: float = 20.0) -> PrivateCluster:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if server is None or cli is None:
            raise RuntimeError("redis-server and redis-cli are needed for the cluster tests")
        for port in self.ports:
            node_dir = self.data_dir / str(port)
            node_dir.mkdir(parents=True, exist_ok=True)
            with (node_dir / "redis.log").open("ab") as out:
                self.processes.append(
                    subprocess.Popen(
                        [
                            server,
                            "--port",
                            str(port),
                            "--bind",
                            "127.0.0.1",
                            "--cluster-enabled",
                            "yes",
                            "--cluster-config-file",
                            str(node_dir / "nodes.conf"),
                            "--cluster-node-timeout",
                            "2000",
                            "--save",
                            "",
                            "--appendonly",
                            "no",
                            "--daemonize",
                            "no",
                            "--dir",
                            str(node_dir),
                        ],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        deadline = time.monotonic() + timeout
        for port in self.ports:
            while not answers(f"redis://127.0.0.1:{port}", timeout=0.2):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server on port {port} did not answer")
                time.sleep(0.05)
        created = subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports), "--cluster-yes"],
            capture_output=True,
            timeout=timeout,
        )
        if created.returncode != 0:
            self.stop()
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout!r} {created.stderr!r}")
        while not self._ready():
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the cluster did not become ready")
            time.sleep(0.1)
        return self

    def _ready(self) -> bool:
        for port in self.ports:
            client = redis.Redis(port=port, socket_timeout=1)
            try:
                info = client.cluster("info")
                state = info.get("cluster_state") if isinstance(info, dict) else None
                if state != "ok":
                    return False
            except (redis.RedisError, OSError):
                return False
            finally:
                client.close()
        return True

    def client(self) -> RedisCluster:
        return RedisCluster(host="127.0.0.1", port=self.ports[0], socket_timeout=5)

    def stop(self) -> None:
        """Kill every node by its pid."""
        processes, self.processes = self.processes, []
        for process in processes:
            if process.poll() is None:
                process.kill()
        for process in processes:
            process.wait(5)


@contextlib.contextmanager
def private_cluster(data_dir: Path) -> Iterator[PrivateCluster]:
    cluster = PrivateCluster(data_dir).start()
    try:
        yield cluster
    finally:
        cluster.stop()
