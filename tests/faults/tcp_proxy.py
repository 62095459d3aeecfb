"""A TCP proxy in a thread, between the portal and a server (PostgreSQL here), that a test
cuts (every open connection closed, new ones closed at once, as while the server restarts)
and restores. Faults without touching the shared server."""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.accepted = 0  # connections made through the proxy (each is a new server session)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._serve, daemon=True, name=f"tcp-proxy-{self.port}").start()

    def _serve(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()  # the server is "down": the connection ends at once
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, upstream}
                self.accepted += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def cut(self) -> None:
        """The server goes away: every connection through the proxy is closed, new ones too."""
        self.up = False
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            self._drop(sock)

    def restore(self) -> None:
        self.up = True

    def restart(self) -> None:
        """A restart between two statements: the sessions are gone, the server answers again."""
        self.cut()
        self.restore()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self.listener.close()
