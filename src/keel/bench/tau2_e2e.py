"""tau2 retail end to end: a Keel agent under ``policy.md`` against a simulated user.

Each task runs one conversation: the agent greets, a model plays the customer from the task's
``user_scenario`` (tau2's user simulator, reduced to a prompt), and the Keel agent answers each
customer message with the retail MCP tools until the customer writes ``###STOP###`` (or
``###TRANSFER###``), the agent transfers, or ``max_turns`` customer messages were sent.

Scoring (deterministic; tau2's LLM-judged NL assertions are not used, and no retail task has any):

- **DB**: the final database hashes equal to tau2's gold DB (``tau2.expected_db``);
- **actions**: every gold action appears among the agent's calls with equal arguments (tau2's
  ``ActionEvaluator`` rule);
- **outputs**: every ``communicate_info`` string occurs in an agent message (tau2's rule: lower
  case, commas removed).

A task passes (pass^1) when all three hold; ``metrics.tau2_reward`` also reports tau2's own reward,
which for retail multiplies only the components in the task's ``reward_basis`` (the DB).

**Policy violations** counted per run, from the policy's explicit rules: a write before the user was
authenticated (a successful ``find_user_id_by_*``), a write in a turn whose customer message holds
no explicit "yes", and a model turn with more than one tool call.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.bench._common import Progress, events_json, stderr_progress
from keel.bench.results import ItemResult
from keel.bench.tau2 import (
    WRITE_TOOLS,
    StateKeyTools,
    Tau2Task,
    cleanup,
    db_hash,
    expected_db,
    open_server,
    policy_text,
    read_db,
    temp_state_dir,
)
from keel.errors import KeelError
from keel.events import Message, ModelResponded, SystemMessage, UserMessage

if TYPE_CHECKING:
    from keel.models.base import Model

__all__ = ["E2EConfig", "run_e2e", "score_conversation"]

GREETING = "Hi! How can I help you today?"
AGENT_PREAMBLE = (
    "You are a customer service agent for an online retail store. Follow the policy below. "
    "Use the tools to look things up and to act; answer the customer briefly.\n\n"
)
USER_SYSTEM = (
    "You write the messages of a customer who contacts an online store's support agent. You are the "
    "customer, not the agent: never offer help, only ask for what the customer wants."
)
USER_PROMPT = """The customer you play:
- why you are writing: {reason}
- what you know: {known}
- what you do not know: {unknown}
- how you behave: {behaviour}

Rules: give details only when the agent asks for them and never invent details you were not given.
Confirm an action with "yes" only if it is what you want. Only once the agent has done everything you
wanted, or says it cannot help, write exactly ###STOP### instead of a message. If the agent transfers
you to a human, write exactly ###TRANSFER###.

The conversation so far:
{transcript}

{next}"""
FIRST = "This is your first message: say what you need, in one or two short sentences."
NEXT = "Write the customer's next message only (one or two short sentences)."
_STOP = ("###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###")
_AUTH = ("find_user_id_by_email", "find_user_id_by_name_zip")
_YES = re.compile(r"\byes\b", re.I)


@dataclass
class E2EConfig:
    """Conversation limits. ``max_tool_rounds`` is the tool path's tool calls per customer message."""

    max_turns: int = 8
    max_tool_rounds: int = 3
    max_tokens: int = 256
    user_max_tokens: int = 96


@dataclass
class _Conversation:
    transcript: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    end: str = "max_turns"
    authenticated: bool = False


def _user_prompt(task: Tau2Task, transcript: Sequence[dict[str, Any]]) -> str:
    ins = task.user_scenario.get("instructions") or {}
    if isinstance(ins, str):
        ins = {"reason_for_call": ins}
    lines = [f"{'Agent' if t['role'] == 'agent' else 'Customer'}: {t['text']}" for t in transcript]
    return USER_PROMPT.format(
        reason=ins.get("reason_for_call") or "",
        known=ins.get("known_info") or "",
        unknown=ins.get("unknown_info") or "nothing in particular",
        behaviour=ins.get("task_instructions") or task.user_scenario.get("persona") or "polite",
        transcript="\n".join(lines),
        next=FIRST if len(transcript) <= 1 else NEXT,
    )


async def _user_turn(user_model: Model, task: Tau2Task, convo: _Conversation, cfg: E2EConfig) -> str:
    from keel.models.base import ModelSettings

    # the whole conversation goes in one request: a small model asked to continue a chat as the
    # "user" side slips back into the assistant role, so it writes the customer's line instead
    msgs: list[Message] = [
        SystemMessage(content=USER_SYSTEM),
        UserMessage(content=_user_prompt(task, convo.transcript)),
    ]
    settings = ModelSettings(max_tokens=cfg.user_max_tokens, temperature=0.0)
    resp = await user_model.request(msgs, settings=settings)
    text = resp.message.content.strip()
    text = re.sub(r"^(customer|user)\s*:\s*", "", text, flags=re.I)
    return text or "###STOP###"


def _record_run(convo: _Conversation, user_text: str, result: Any) -> None:
    convo.events += events_json(result.events)
    convo.input_tokens += result.usage.input_tokens
    convo.output_tokens += result.usage.output_tokens
    confirmed = bool(_YES.search(user_text))
    for ev in result.events:
        if isinstance(ev, ModelResponded) and len(ev.message.tool_calls) > 1:
            convo.violations.append(f"{len(ev.message.tool_calls)} tool calls in one turn")
    for c in result.tool_calls:
        convo.calls.append({"name": c.name, "arguments": c.arguments, "is_error": c.is_error})
        if c.name in _AUTH and not c.is_error:
            convo.authenticated = True
        if c.name in WRITE_TOOLS:
            if not convo.authenticated:
                convo.violations.append(f"{c.name} before the user was authenticated")
            if not confirmed:
                convo.violations.append(f"{c.name} without an explicit 'yes' from the user")


async def _converse(task: Tau2Task, agent: Any, user_model: Model, cfg: E2EConfig) -> _Conversation:
    from keel.errors import RunError

    convo = _Conversation(transcript=[{"role": "agent", "text": GREETING}])
    session = f"tau2-{task.id}-{time.monotonic_ns()}"
    for _ in range(cfg.max_turns):
        user_text = await _user_turn(user_model, task, convo, cfg)
        convo.transcript.append({"role": "user", "text": user_text})
        squeezed = re.sub(r"\s+", "", user_text).upper()  # small models write "### STOP###"
        stop = next((s for s in _STOP if s in squeezed), None)
        if stop:
            convo.end = f"user {stop}"
            break
        try:
            result = await agent.run(user_text, session_id=session)
        except RunError as e:
            convo.end = f"agent run failed ({e.reason}): {str(e)[:160]}"
            if e.result is not None:
                _record_run(convo, user_text, e.result)
            break
        _record_run(convo, user_text, result)
        convo.transcript.append({"role": "agent", "text": str(result.output or ""),
                                 "calls": [c.name for c in result.tool_calls]})  # fmt: skip
        if any(c.name == "transfer_to_human_agents" for c in result.tool_calls):
            convo.end = "agent transferred"
            break
    return convo


def _action_matched(action: dict[str, Any], calls: Sequence[dict[str, Any]]) -> bool:
    want = action.get("arguments") or {}
    return any(c["name"] == action["name"] and all(c["arguments"].get(k) == v for k, v in want.items())
               for c in calls)  # fmt: skip


def score_conversation(
    task: Tau2Task, agent_texts: Sequence[str], calls: Sequence[dict[str, Any]], final_db: Any
) -> dict[str, Any]:
    """The checks of one finished conversation (see the module docstring).

    >>> t = Tau2Task("x", {}, [{"name": "get_order_details", "arguments": {"order_id": "#W1"}}], ["10"], ["DB"])
    >>> s = score_conversation(t, ["That is 1,0 dollars"], [{"name": "get_order_details", "arguments": {"order_id": "#W1"}}], None)
    >>> s["actions_ok"], s["outputs_ok"]
    (True, True)
    """
    want_db, _ = expected_db(task) if final_db is not None else (None, [])
    db_ok = final_db is not None and db_hash(final_db) == db_hash(want_db)
    matched = [_action_matched(a, calls) for a in task.actions]
    said = [t.lower().replace(",", "") for t in agent_texts]
    outputs = [any(info.lower() in s for s in said) for info in task.communicate_info]
    reward = 1.0
    if "DB" in task.reward_basis:
        reward *= 1.0 if db_ok else 0.0
    if "COMMUNICATE" in task.reward_basis:
        reward *= 1.0 if all(outputs) else 0.0
    return {
        "db_ok": db_ok,
        "actions_ok": all(matched),
        "actions_matched": sum(matched),
        "actions": len(matched),
        "outputs_ok": all(outputs),
        "tau2_reward": reward,
    }


def _why(score: dict[str, Any], convo: _Conversation) -> str:
    parts = []
    if not score["db_ok"]:
        parts.append("final DB differs from the gold DB")
    if not score["actions_ok"]:
        parts.append(f"gold actions matched {score['actions_matched']}/{score['actions']}")
    if not score["outputs_ok"]:
        parts.append("required information not said")
    return f"{'; '.join(parts)} (ended: {convo.end})"


async def run_e2e(
    model: Model,
    tasks: Sequence[Tau2Task],
    *,
    user_model: Model | None = None,
    config: E2EConfig | None = None,
    split: str = "test",
    progress: Progress | None = stderr_progress,
) -> list[ItemResult]:
    """One simulated conversation per task; one result per task (category = ``split``)."""
    cfg = config or E2EConfig()
    sdir = temp_state_dir()
    server = await open_server(sdir)
    try:
        tools = StateKeyTools(server, await server.list_tools())
        out = []
        for task in tasks:
            res = await _one_task(task, tools, sdir, model, user_model or model, cfg, split)
            out.append(res)
            if progress is not None:
                progress(
                    f"[tau2 e2e] {'ok ' if res.ok else 'FAIL'} task {task.id} {res.latency_s:.0f}s {res.why[:90]}"
                )
        return out
    finally:
        await server.aclose()
        cleanup(sdir)


async def _one_task(
    task: Tau2Task, tools: StateKeyTools, sdir: Path, model: Model, user_model: Model, cfg: E2EConfig,
    split: str,
) -> ItemResult:  # fmt: skip
    from keel.agent import Agent
    from keel.models.base import ModelSettings
    from keel.tools.selection import ToolPath

    started = time.perf_counter()
    await tools.reset(task.state_key)
    path = replace(ToolPath.default(tools.tools), max_tool_rounds=cfg.max_tool_rounds)
    agent: Agent[str] = Agent(
        model, tools=tools.tools, instructions=AGENT_PREAMBLE + policy_text(), name="tau2-retail",
        settings=ModelSettings(max_tokens=cfg.max_tokens, temperature=0.0), tool_path=path, max_steps=16,
    )  # fmt: skip
    try:
        convo = await _converse(task, agent, user_model, cfg)
    except Exception as e:  # e.g. the MCP server died: this task fails, the next ones still run
        what = str(e) if isinstance(e, KeelError) else f"{type(e).__name__}: {e}"
        convo = _Conversation(end=f"error: {what[:200]}")
    db = read_db(sdir, task.state_key)
    texts = [t["text"] for t in convo.transcript if t["role"] == "agent"]
    score = score_conversation(task, texts, convo.calls, db)
    ok = score["db_ok"] and score["actions_ok"] and score["outputs_ok"]
    return ItemResult(
        id=task.id, category=split, ok=ok, why="" if ok else _why(score, convo),
        latency_s=time.perf_counter() - started, input_tokens=convo.input_tokens,
        output_tokens=convo.output_tokens, output={"calls": convo.calls, "end": convo.end},
        expected={"actions": task.actions, "communicate_info": task.communicate_info},
        detail={**score, "violations": convo.violations, "turns": sum(1 for t in convo.transcript if t["role"] == "user")},
        trace={"transcript": convo.transcript, "events": convo.events},
    )  # fmt: skip
