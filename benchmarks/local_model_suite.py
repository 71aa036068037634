"""The support-desk suite for ``benchmarks/local_model.py``: 6 tools and 24 customer messages.

Each case names the tool a careful human agent would call and the argument values that must come out
of the message (a subset: free-text arguments such as a search query are not scored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from keel.tools import tool

SYSTEM_PROMPT = (
    "You are the customer-support assistant of Acme, an online shop. Use the tools to help the customer: "
    "look up, cancel or refund orders, change delivery addresses, reset passwords, and search the help "
    "center for questions about policies. Be concise."
)


@tool
def get_order_status(order_id: str) -> str:
    """Get the shipping status and delivery date of one order.

    Args:
        order_id: the order number, like A-1001
    """
    return ""


@tool
def cancel_order(order_id: str) -> str:
    """Cancel an order that has not shipped yet.

    Args:
        order_id: the order number, like A-1001
    """
    return ""


@tool
def request_refund(order_id: str, reason: Literal["damaged", "late", "wrong_item", "changed_mind"]) -> str:
    """Refund an order that was delivered.

    Args:
        order_id: the order number, like A-1001
        reason: why the customer wants their money back
    """
    return ""


@tool
def change_shipping_address(order_id: str, new_address: str) -> str:
    """Change the delivery address of an order that has not shipped yet.

    Args:
        order_id: the order number, like A-1001
        new_address: the full new street address
    """
    return ""


@tool
def reset_password(email: str) -> str:
    """Send a password-reset link to the customer's account email.

    Args:
        email: the email address of the account
    """
    return ""


@tool
def search_help_center(query: str) -> str:
    """Search the help-center articles: return policy, shipping times and costs, payment methods,
    warranty, gift cards, store locations.

    Args:
        query: what to search for
    """
    return ""


TOOLS = [
    get_order_status,
    cancel_order,
    request_refund,
    change_shipping_address,
    reset_password,
    search_help_center,
]


@dataclass(frozen=True)
class Case:
    message: str
    tool: str
    args: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("Where is my order A-1001?", "get_order_status", {"order_id": "A-1001"}),
    Case("Has order B-2040 shipped yet? It's been a week.", "get_order_status", {"order_id": "B-2040"}),
    Case("When will package C-3300 arrive?", "get_order_status", {"order_id": "C-3300"}),
    Case("Tracking for A-7777 please", "get_order_status", {"order_id": "A-7777"}),
    Case("Please cancel order D-4412, I ordered by mistake.", "cancel_order", {"order_id": "D-4412"}),
    Case("I don't want E-5120 anymore, stop it before it ships.", "cancel_order", {"order_id": "E-5120"}),
    Case("Cancel A-1002.", "cancel_order", {"order_id": "A-1002"}),
    Case(
        "My blender from order F-6001 arrived cracked, I want my money back.",
        "request_refund",
        {"order_id": "F-6001", "reason": "damaged"},
    ),
    Case(
        "You sent me the wrong shoes in order G-7010. Refund please.",
        "request_refund",
        {"order_id": "G-7010", "reason": "wrong_item"},
    ),
    Case(
        "Order H-8123 came three weeks late, I'd like a refund.",
        "request_refund",
        {"order_id": "H-8123", "reason": "late"},
    ),
    Case(
        "I changed my mind about J-9100, can I get refunded?",
        "request_refund",
        {"order_id": "J-9100", "reason": "changed_mind"},
    ),
    Case(
        "Ship order K-1200 to 12 Rose Street, Leeds instead.",
        "change_shipping_address",
        {"order_id": "K-1200", "new_address": "12 Rose Street, Leeds"},
    ),
    Case(
        "I moved! New address for L-1300 is 5 Oak Avenue, Bristol.",
        "change_shipping_address",
        {"order_id": "L-1300", "new_address": "5 Oak Avenue, Bristol"},
    ),
    Case("I forgot my password, my email is ana@example.com", "reset_password", {"email": "ana@example.com"}),
    Case(
        "Can't log in. Account is tom.lee@example.org, send me a reset link.",
        "reset_password",
        {"email": "tom.lee@example.org"},
    ),
    Case("Reset the password for jo@acme-mail.net", "reset_password", {"email": "jo@acme-mail.net"}),
    Case("What is your return policy?", "search_help_center"),
    Case("Do you accept PayPal?", "search_help_center"),
    Case("How long does shipping to Canada take?", "search_help_center"),
    Case("Is there a warranty on electronics?", "search_help_center"),
    Case("Can I return a sale item?", "search_help_center"),
    Case("Do you sell gift cards?", "search_help_center"),
    Case("How much does express delivery cost?", "search_help_center"),
    Case("Where is your nearest store in Manchester?", "search_help_center"),
]


def args_match(expected: dict[str, Any], got: dict[str, Any]) -> bool:
    """Every expected value is present (strings compared case- and space-insensitively)."""

    def norm(v: Any) -> Any:
        return " ".join(v.lower().replace(",", " ").split()) if isinstance(v, str) else v

    return all(norm(got.get(k)) == norm(v) for k, v in expected.items())
