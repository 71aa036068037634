"""Approvals: tool calls waiting for a human, and the decisions that resume their runs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from keel.serve.auth import Principal, require, service
from keel.serve.schemas import ApprovalsList, DecisionRequest, RunView
from keel.serve.service import Service

__all__ = ["router"]

router = APIRouter(tags=["approvals"])


@router.get("/v1/approvals", response_model=ApprovalsList, summary="Runs waiting for an approval")
async def list_approvals(
    principal: Principal = Depends(require("approve")), svc: Service = Depends(service)
) -> ApprovalsList:
    return ApprovalsList(approvals=await svc.approvals(principal.tenant))


@router.post(
    "/v1/approvals/{run_id}",
    response_model=RunView,
    responses={409: {"description": "The run has no pending approval (code `no_pending_approval`)"}},
    summary="Approve or deny a pending tool call",
)
async def decide(
    body: DecisionRequest,
    run_id: str = Path(max_length=200),
    principal: Principal = Depends(require("approve", uses_tokens=True)),
    svc: Service = Depends(service),
) -> RunView:
    """Records the decision and hands the run to a worker, which resumes it; the answer does not
    wait for the run (follow ``/v1/runs/{run_id}/events?follow=true`` for that)."""
    await svc.record(run_id, principal.tenant)
    state = await svc.decide(
        run_id,
        approved=body.approve,
        call_id=body.call_id,
        reason=body.reason,
        by=principal.key_id,
        key_id=principal.key_id,
        tenant=principal.tenant,
    )
    return RunView.of(state)
