"""The shop's operational data in a real database: customers, orders, tickets, refunds, escalations.

``keel support init`` loads ``apps/support/data`` into SQLite (default ``.keel/support.db``). Every
read and write that a tool makes names the authenticated customer, so a tool can never act on
another customer's order or ticket, whatever the conversation says.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from keel.errors import ToolError

__all__ = ["DATA_DIR", "RefundDecision", "Shop"]

DATA_DIR = Path(__file__).parent / "data"

_SCHEMA = """
create table if not exists customers (id text primary key, data text not null);
create table if not exists orders (id text primary key, customer_id text not null, data text not null);
create index if not exists orders_customer on orders(customer_id);
create table if not exists tickets (
    id text primary key, customer_id text not null, order_id text, subject text not null, body text not null,
    status text not null, priority text not null, history text not null, created text not null
);
create index if not exists tickets_customer on tickets(customer_id);
create table if not exists refunds (
    idempotency_key text primary key, order_id text not null, customer_id text not null, amount real not null,
    reason text not null, status text not null, created real not null
);
create table if not exists escalations (
    id integer primary key autoincrement, customer_id text not null, session_id text, reason text not null,
    status text not null default 'waiting', created real not null
);
create table if not exists preferences (
    customer_id text not null, key text not null, value text not null, primary key (customer_id, key)
);
create table if not exists meta (key text primary key, value text not null);
"""


@dataclass(frozen=True, slots=True)
class RefundDecision:
    ok: bool
    reason: str
    max_amount: float = 0.0


class Shop:
    """Access to the shop's data, always on behalf of one customer."""

    def __init__(self, path: str | Path = ".keel/support.db") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("pragma journal_mode=wal")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self.policy: dict[str, Any] = {}
        row = self._db.execute("select value from meta where key = 'policy'").fetchone()
        if row:
            self.policy = json.loads(row[0])

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("begin immediate")
            try:
                yield self._db
                self._db.execute("commit")
            except BaseException:
                self._db.execute("rollback")
                raise

    # -- loading -----------------------------------------------------------------------------------

    def load(self, data_dir: str | Path = DATA_DIR) -> dict[str, int]:
        """(Re)load customers, orders, tickets and policy from the JSON files; returns row counts."""
        d = Path(data_dir)
        customers = json.loads((d / "customers.json").read_text())
        orders = json.loads((d / "orders.json").read_text())
        tickets = json.loads((d / "tickets.json").read_text())
        policy = json.loads((d / "policy.json").read_text())
        with self._tx() as db:
            for table in ("customers", "orders", "tickets", "refunds", "escalations", "preferences"):
                db.execute(f"delete from {table}")
            db.executemany(
                "insert into customers values (?, ?)", [(c["id"], json.dumps(c)) for c in customers]
            )
            db.executemany(
                "insert into orders values (?, ?, ?)",
                [(o["id"], o["customer_id"], json.dumps(o)) for o in orders],
            )
            db.executemany(
                "insert into tickets values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (t["id"], t["customer_id"], t.get("order_id"), t["subject"], t.get("body", ""), t["status"],
                     t["priority"], json.dumps(t.get("history", [])), t.get("created", ""))
                    for t in tickets
                ],
            )  # fmt: skip
            db.execute("insert or replace into meta values ('policy', ?)", (json.dumps(policy),))
        self.policy = policy
        return {"customers": len(customers), "orders": len(orders), "tickets": len(tickets)}

    def is_loaded(self) -> bool:
        return bool(self._db.execute("select count(*) from customers").fetchone()[0])

    # -- reads -------------------------------------------------------------------------------------

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        row = self._db.execute("select data from customers where id = ?", (customer_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def order(self, customer_id: str, order_id: str) -> dict[str, Any]:
        """The order, if it belongs to ``customer_id``; otherwise the same error as a missing order."""
        row = self._db.execute(
            "select data from orders where id = ? and customer_id = ?",
            (order_id.strip().upper(), customer_id),
        ).fetchone()
        if row is None:
            # the same answer for "not yours" and "does not exist": no leak of other customers' orders
            raise ToolError(f"no order {order_id} on this customer's account")
        return dict(json.loads(row[0]))

    def orders(self, customer_id: str, limit: int = 5) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "select data from orders where customer_id = ? order by id desc limit ?", (customer_id, limit)
        ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def owns_order(self, customer_id: str, order_id: str) -> bool:
        row = self._db.execute(
            "select 1 from orders where id = ? and customer_id = ?", (order_id, customer_id)
        )
        return row.fetchone() is not None

    def tickets(self, customer_id: str, limit: int = 5) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "select id, order_id, subject, status, priority, created from tickets where customer_id = ? "
            "order by created desc limit ?",
            (customer_id, limit),
        ).fetchall()
        keys = ("id", "order_id", "subject", "status", "priority", "created")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def refunded(self, order_id: str, *, exclude_key: str | None = None) -> float:
        """Refunds processed or reserved (waiting for approval) on the order, in USD."""
        row = self._db.execute(
            "select coalesce(sum(amount), 0) from refunds where order_id = ? and status != 'denied' "
            "and idempotency_key != ?",
            (order_id, exclude_key or ""),
        ).fetchone()
        return float(row[0])

    def cancel_order(self, customer_id: str, order_id: str) -> dict[str, Any]:
        """Cancel a pending or paid order; anything else is refused with the reason."""
        with self._tx() as db:
            row = db.execute(
                "select data from orders where id = ? and customer_id = ?", (order_id, customer_id)
            ).fetchone()
            if row is None:
                raise ToolError(f"no order {order_id} on this customer's account")
            order = json.loads(row[0])
            allowed = self.policy.get("cancellation", {}).get("allowed_statuses", ["pending", "paid"])
            if order["status"] == "cancelled":
                return {"id": order_id, "status": "cancelled", "duplicate": True}
            if order["status"] not in allowed:
                raise ToolError(f"order {order_id} is {order['status']} and can no longer be cancelled")
            order["status"] = "cancelled"
            order["cancelled"] = self.today().isoformat()
            db.execute("update orders set data = ? where id = ?", (json.dumps(order), order_id))
        return {"id": order_id, "status": "cancelled", "refund": order.get("total")}

    def refunds(self, customer_id: str, status: str | None = "processed") -> list[dict[str, Any]]:
        """The customer's refunds: processed ones by default; ``status=None`` for all (reserved, denied)."""
        q = "select idempotency_key, order_id, amount, status from refunds where customer_id = ?"
        args: tuple[str, ...] = (customer_id,)
        if status is not None:
            q, args = q + " and status = ?", (customer_id, status)
        rows = self._db.execute(q, args).fetchall()
        return [dict(zip(("key", "order_id", "amount", "status"), r, strict=True)) for r in rows]

    def preferences(self, customer_id: str) -> dict[str, str]:
        rows = self._db.execute("select key, value from preferences where customer_id = ?", (customer_id,))
        return dict(rows.fetchall())

    def escalations(self, status: str | None = "waiting") -> list[dict[str, Any]]:
        q = "select id, customer_id, session_id, reason, status, created from escalations"
        rows = self._db.execute(
            q + (" where status = ?" if status else ""), (status,) if status else ()
        ).fetchall()
        keys = ("id", "customer_id", "session_id", "reason", "status", "created")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # -- policy ------------------------------------------------------------------------------------

    def today(self) -> date:
        return date.fromisoformat(self.policy.get("reference_date", date.today().isoformat()))

    def refund_decision(
        self, customer_id: str, order: dict[str, Any], *, exclude_key: str | None = None
    ) -> RefundDecision:
        """Whether the order can be refunded now, and the most that may be refunded."""
        tier = (self.customer(customer_id) or {}).get("tier", "standard")
        r = self.policy.get("returns", {})
        window = r.get("premier_window_days", 45) if tier == "premier" else r.get("window_days", 30)
        returnable = sum(
            float(it.get("net_amount", it["unit_price"] * it["qty"]))
            for it in order["items"]
            if not it["final_sale"]
        )
        if returnable <= 0:
            return RefundDecision(False, "final-sale items cannot be returned or refunded")
        if order["status"] != "delivered" or not order.get("delivered"):
            return RefundDecision(
                False,
                f"the order is {order['status']}, not delivered; only delivered orders can be returned for a refund",
            )
        deadline = date.fromisoformat(order["delivered"]) + timedelta(days=window)
        if self.today() > deadline:
            return RefundDecision(False, f"the {window}-day return window ended on {deadline.isoformat()}")
        pending = self.refunded(order["id"], exclude_key=exclude_key)
        left = round(returnable - float(order.get("amount_refunded", 0.0)) - pending, 2)
        if left <= 0:
            why = (
                "refunds already made or waiting for approval cover"
                if pending
                else "refunds already made cover"
            )
            return RefundDecision(False, f"{why} everything that can be refunded on this order")
        return RefundDecision(True, "eligible", left)

    def approval_threshold(self) -> float:
        return float(self.policy.get("refunds", {}).get("supervisor_approval_over", 100.0))

    # -- writes ------------------------------------------------------------------------------------

    def reserve_refund(self, key: str, customer_id: str, order_id: str, amount: float, reason: str) -> None:
        """Hold ``amount`` against the order while a supervisor decides, so a second request (or the
        same one split in two) cannot get around the approval."""
        with self._tx() as db:
            db.execute(
                "insert or ignore into refunds values (?, ?, ?, ?, ?, 'pending_approval', ?)",
                (key, order_id, customer_id, amount, reason, time.time()),
            )

    def release_refund(self, key: str) -> None:
        """The supervisor denied the refund: drop its reservation."""
        with self._tx() as db:
            db.execute(
                "update refunds set status = 'denied' where idempotency_key = ? and status = 'pending_approval'",
                (key,),
            )

    def record_refund(
        self, key: str, customer_id: str, order_id: str, amount: float, reason: str
    ) -> tuple[dict[str, Any], bool]:
        """Record a refund once per idempotency key (completing its reservation, if it had one).
        Returns (refund, created_now)."""
        with self._tx() as db:
            row = db.execute(
                "select order_id, amount, status from refunds where idempotency_key = ?", (key,)
            ).fetchone()
            if row is not None and row[2] == "pending_approval":
                db.execute(
                    "update refunds set status = 'processed', amount = ? where idempotency_key = ?",
                    (amount, key),
                )
                return {
                    "order_id": order_id,
                    "amount": amount,
                    "status": "processed",
                    "idempotency_key": key,
                }, True
            if row is not None:
                return {"order_id": row[0], "amount": row[1], "status": row[2], "idempotency_key": key}, False
            db.execute(
                "insert into refunds values (?, ?, ?, ?, ?, 'processed', ?)",
                (key, order_id, customer_id, amount, reason, time.time()),
            )
        return {"order_id": order_id, "amount": amount, "status": "processed", "idempotency_key": key}, True

    def create_ticket(self, customer_id: str, subject: str, body: str, priority: str, order_id: str | None,
                      key: str | None = None) -> dict[str, Any]:  # fmt: skip
        with self._tx() as db:
            if key is not None:
                row = db.execute("select value from meta where key = ?", (f"ticket:{key}",)).fetchone()
                if row is not None:
                    return {"id": row[0], "status": "open", "priority": priority, "duplicate": True}
            n = db.execute("select count(*) from tickets").fetchone()[0]
            ticket_id = f"T-{9001 + n}"
            now = self.today().isoformat()
            history = [{"at": now, "by": "assistant", "note": "ticket opened from chat"}]
            db.execute(
                "insert into tickets values (?, ?, ?, ?, ?, 'open', ?, ?, ?)",
                (ticket_id, customer_id, order_id, subject, body, priority, json.dumps(history), now),
            )
            if key is not None:
                db.execute("insert into meta values (?, ?)", (f"ticket:{key}", ticket_id))
        return {"id": ticket_id, "status": "open", "priority": priority}

    def update_ticket(
        self, customer_id: str, ticket_id: str, status: str | None, note: str | None, priority: str | None
    ) -> dict[str, Any]:
        with self._tx() as db:
            row = db.execute(
                "select status, priority, history from tickets where id = ? and customer_id = ?",
                (ticket_id, customer_id),
            ).fetchone()
            if row is None:
                raise ToolError(f"no ticket {ticket_id} on this customer's account")
            history = json.loads(row[2])
            history.append(
                {
                    "at": self.today().isoformat(),
                    "by": "assistant",
                    "note": note or f"status {status or row[0]}",
                }
            )
            new_status, new_priority = status or row[0], priority or row[1]
            db.execute(
                "update tickets set status = ?, priority = ?, history = ? where id = ?",
                (new_status, new_priority, json.dumps(history), ticket_id),
            )
        return {"id": ticket_id, "status": new_status, "priority": new_priority}

    def escalate(self, customer_id: str, session_id: str | None, reason: str) -> dict[str, Any]:
        with self._tx() as db:
            waiting = db.execute(
                "select id from escalations where customer_id = ? and coalesce(session_id, '') = ? and status = 'waiting'",
                (customer_id, session_id or ""),
            ).fetchone()
            if waiting:
                return {"escalation_id": waiting[0], "status": "waiting", "duplicate": True}
            cur = db.execute(
                "insert into escalations (customer_id, session_id, reason, created) values (?, ?, ?, ?)",
                (customer_id, session_id, reason, time.time()),
            )
        return {"escalation_id": cur.lastrowid, "status": "waiting"}

    def set_preference(self, customer_id: str, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("insert or replace into preferences values (?, ?, ?)", (customer_id, key, value))

    def close(self) -> None:
        self._db.close()
