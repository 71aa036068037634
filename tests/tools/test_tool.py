"""@tool: schemas from signatures and docstrings, validation before the call."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from keel.tools import ToolContext, ToolValidationError, tool


class Address(BaseModel):
    city: str
    zip: str = Field(pattern=r"^\d{5}$")


@tool(timeout_s=5, side_effects=True, requires_approval=lambda a: a["amount"] > 100, scopes=["refunds"])
async def refund(order_id: str, amount: float, ctx: ToolContext, reason: str = "other") -> dict:
    """Refund an order.

    Args:
        order_id: the order to refund, like A-1001
        amount: how much to refund, in USD
    """
    return {"order": order_id, "amount": amount, "key": ctx.idempotency_key}


def test_schema_comes_from_signature_and_docstring() -> None:
    spec = refund.spec()
    assert spec.name == "refund" and spec.description == "Refund an order."
    props = spec.parameters["properties"]
    assert set(props) == {"order_id", "amount", "reason"}  # ctx is hidden from the model
    assert props["order_id"] == {"type": "string", "description": "the order to refund, like A-1001"}
    assert props["amount"]["type"] == "number"
    assert props["reason"]["default"] == "other"
    assert spec.parameters["required"] == ["order_id", "amount"]


def test_pydantic_arguments_and_sync_functions() -> None:
    @tool
    def ship(to: Address, express: bool = False) -> str:
        """Ship to an address."""
        return f"{to.city}:{express}"

    assert "$defs" in ship.parameters or "properties" in ship.parameters["properties"]["to"]
    with pytest.raises(ToolValidationError, match="zip"):
        ship.validate({"to": {"city": "Oslo", "zip": "abc"}})


async def test_invoke_validates_and_coerces() -> None:
    ctx = ToolContext(run_id="r", step=0, call_index=0, call_id="c", idempotency_key="k")
    out = await refund.invoke({"order_id": "A-1", "amount": "12.5"}, ctx)
    assert out == {"order": "A-1", "amount": 12.5, "key": "k"}
    with pytest.raises(ToolValidationError, match="amount"):
        await refund.invoke({"order_id": "A-1"}, ctx)
    with pytest.raises(ToolValidationError, match="Extra inputs"):
        await refund.invoke({"order_id": "A-1", "amount": 1, "admin": True}, ctx)


def test_settings_are_kept() -> None:
    assert refund.side_effects and refund.timeout_s == 5 and refund.scopes == {"refunds"}
    assert refund.needs_approval({"amount": 150}) and not refund.needs_approval({"amount": 50})
