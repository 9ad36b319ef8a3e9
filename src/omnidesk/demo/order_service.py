"""Skylark Mall's own order and parcel system: a small real HTTP service the demo tenant's assistant calls.

It stands for "the tenant's systems" (an ERP and a carrier), which OmniDesk only reaches through connectors. It
speaks plain JSON over HTTP on loopback and is started by ``omnidesk demo`` (and by tests) on its own port.

    GET /orders/<order_no>          → {"order_no", "status", "items", "total", "tracking_no", "updated_at"}
    GET /parcels/<tracking_no>      → {"tracking_no", "status", "location", "eta", "events": [...]}
    GET /shipping-fee?weight=1.5&zone=east → {"fee", "currency", "zone", "weight"}
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

ORDERS: dict[str, dict[str, Any]] = {
    "SO20261118001": {
        "status": "shipped",
        "status_en": "shipped",
        "status_zh": "已发货",
        "items": ["羽绒服 Down jacket ×1"],
        "total": "599.00",
        "tracking_no": "SF1234567890",
    },
    "SO20261120007": {
        "status": "processing",
        "status_en": "being prepared in the warehouse",
        "status_zh": "仓库处理中",
        "items": ["保温杯 500ml Vacuum flask ×2"],
        "total": "158.00",
        "tracking_no": None,
    },
    "SO20261101042": {
        "status": "delivered",
        "status_en": "delivered",
        "status_zh": "已签收",
        "items": ["蓝牙耳机 Bluetooth earbuds ×1"],
        "total": "299.00",
        "tracking_no": "YT9876543210",
    },
}

PARCELS: dict[str, dict[str, Any]] = {
    "SF1234567890": {
        "status": "in_transit",
        "status_en": "in transit",
        "status_zh": "运输中",
        "location": "上海转运中心 Shanghai hub",
        "eta": "2026-11-27",
        "events": [
            {"time": "2026-11-24 18:20", "text": "已从杭州仓发出 Left the Hangzhou warehouse"},
            {"time": "2026-11-25 06:05", "text": "到达上海转运中心 Arrived at the Shanghai hub"},
        ],
    },
    "YT9876543210": {
        "status": "delivered",
        "status_en": "delivered",
        "status_zh": "已签收",
        "location": "北京朝阳区 Chaoyang, Beijing",
        "eta": "2026-11-03",
        "events": [{"time": "2026-11-03 14:12", "text": "本人签收 Signed for by the recipient"}],
    },
}

# Yuan per parcel: a first-kilogram price and a price per additional kilogram, by zone.
FEE_TABLE: dict[str, tuple[float, float]] = {
    "east": (8.0, 2.0),
    "north": (10.0, 3.0),
    "west": (15.0, 5.0),
    "remote": (20.0, 8.0),
}

_ID = re.compile(r"^[A-Z0-9]{6,32}$")


def shipping_fee(weight: float, zone: str) -> float:
    first, extra = FEE_TABLE[zone]
    extra_kg = max(0.0, weight - 1.0)
    return round(first + extra * -(-extra_kg // 1), 2)


class _Handler(BaseHTTPRequestHandler):
    server_version = "SkylarkOrders/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        if self.server.failing:  # type: ignore[attr-defined]
            self._send(503, {"error": "maintenance"})
            return
        if len(parts) == 2 and parts[0] == "orders" and _ID.match(parts[1].upper()):
            order = ORDERS.get(parts[1].upper())
            if order is None:
                self._send(404, {"error": "no such order"})
            else:
                self._send(200, {"order_no": parts[1].upper(), **order})
            return
        if len(parts) == 2 and parts[0] == "parcels" and _ID.match(parts[1].upper()):
            parcel = PARCELS.get(parts[1].upper())
            if parcel is None:
                self._send(404, {"error": "no such parcel"})
            else:
                self._send(200, {"tracking_no": parts[1].upper(), **parcel})
            return
        if parts == ["shipping-fee"]:
            query = parse_qs(url.query)
            try:
                weight = float(query.get("weight", ["1"])[0])
                zone = query.get("zone", ["east"])[0]
                if not 0 < weight <= 100 or zone not in FEE_TABLE:
                    raise ValueError
            except ValueError:
                self._send(400, {"error": "weight must be 0-100 kg and zone one of " + ", ".join(FEE_TABLE)})
                return
            self._send(200, {"fee": shipping_fee(weight, zone), "currency": "CNY", "zone": zone, "weight": weight})
            return
        self._send(404, {"error": "not found"})


class OrderService:
    """Runs the service in a background thread; ``failing`` makes it answer 503 (to test the circuit breaker)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.failing = False  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="order-service", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def address(self) -> str:
        """``host:port``, the form ``OMNIDESK_OUTBOUND_ALLOW`` takes to let tenants reach exactly this service."""
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    @classmethod
    def on_port_or_any(cls, port: int, host: str = "127.0.0.1") -> tuple[OrderService, bool]:
        """Listen on ``port``, or on any free port when that one is taken (a second demo on the same machine);
        the flag says whether it moved."""
        try:
            return cls(host, port), False
        except OSError:
            if port == 0:
                raise
            return cls(host, 0), True

    def set_failing(self, failing: bool) -> None:
        self._server.failing = failing  # type: ignore[attr-defined]

    def start(self) -> OrderService:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
