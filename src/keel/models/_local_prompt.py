"""Prompts for the local model: the GGUF's own chat template, and tool calls written as text.

Keel renders the chat template stored in the model file (Jinja, as Hugging Face does) so the model
sees exactly the format it was trained on. Qwen2.5's template puts the tool list in the system turn
and expects ``<tool_call>{"name": …, "arguments": …}</tool_call>`` in the answer. For a template
that knows nothing of tools, Keel writes the same Hermes-style convention into the messages itself.

>>> parse_tool_calls('<tool_call>\\n{"name": "f", "arguments": {"x": 1}}\\n</tool_call>').calls
[ParsedCall(name='f', arguments={'x': 1}, raw='{"name": "f", "arguments": {"x": 1}}')]
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from keel.events import AssistantMessage, Message, SystemMessage, ToolMessage
from keel.models.base import ToolSpec

__all__ = [
    "CHATML_TEMPLATE",
    "TOOL_CALL_OPEN",
    "ChatTemplate",
    "ParsedCall",
    "ParsedText",
    "parse_tool_calls",
    "tool_dicts",
]

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""Used when a GGUF file carries no chat template."""

_TOOLS_SECTION = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>{tools}\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{{"name": <function-name>, "arguments": <args-json-object>}}\n</tool_call>'
)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    # Hugging Face's filter: plain JSON, key order kept, no HTML escaping (unlike Jinja's default)
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _generation_tag() -> Any:
    """Jinja extension ignoring transformers' ``{% generation %}`` marker (training-only)."""
    from jinja2.ext import Extension

    class GenerationTag(Extension):
        tags = {"generation"}  # noqa: RUF012 - the jinja API

        def parse(self, parser: Any) -> Any:
            parser.stream.skip(1)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    return GenerationTag


def _raise(message: str) -> None:
    raise ValueError(f"chat template error: {message}")


class ChatTemplate:
    """A GGUF chat template, rendered like Hugging Face ``apply_chat_template``.

    >>> t = ChatTemplate(CHATML_TEMPLATE)
    >>> t.render([{"role": "user", "content": "hi"}])
    '<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\n'
    """

    def __init__(self, source: str | None, *, bos_token: str = "", eos_token: str = "") -> None:
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        self.source = source or CHATML_TEMPLATE
        # the same environment as transformers' apply_chat_template
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols, _generation_tag()]
        )
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        self._template = env.from_string(self.source)
        self._tokens = {"bos_token": bos_token, "eos_token": eos_token}
        self.native_tools = "tools" in self.source
        """The template renders a tool list itself (Qwen2.5, Hermes, Llama 3.1 …)."""

    def render(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] | None = None,
        *,
        add_generation_prompt: bool = True,
    ) -> str:
        return str(
            self._template.render(
                messages=list(messages),
                tools=list(tools) if tools else None,
                add_generation_prompt=add_generation_prompt,
                **self._tokens,
            )
        )

    def render_messages(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        *,
        add_generation_prompt: bool = True,
    ) -> str:
        """Render Keel messages, tools first in the system turn so the prompt prefix stays stable."""
        if self.native_tools:
            return self.render(
                [_native_dict(m) for m in messages],
                tool_dicts(tools) or None,
                add_generation_prompt=add_generation_prompt,
            )
        return self.render(_text_dicts(messages, tools), None, add_generation_prompt=add_generation_prompt)


def tool_dicts(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Tools in the OpenAI/Hugging Face shape chat templates expect."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def _call_dict(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


def _native_dict(m: Message) -> dict[str, Any]:
    if isinstance(m, AssistantMessage) and m.tool_calls:
        return {
            "role": "assistant",
            "content": m.content,
            "tool_calls": [_call_dict(c.name, c.arguments) for c in m.tool_calls],
        }
    if isinstance(m, ToolMessage):
        return {"role": "tool", "name": m.name, "content": m.content}
    return {"role": m.role, "content": m.content}


def _text_dicts(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Messages for a template without tool support: tool list, calls and results as plain text."""
    out: list[dict[str, Any]] = []
    section = ""
    if tools:
        section = _TOOLS_SECTION.format(tools="".join("\n" + _tojson(t) for t in tool_dicts(tools)))
    if section and not (messages and isinstance(messages[0], SystemMessage)):
        out.append({"role": "system", "content": "You are a helpful assistant." + section})
    for i, m in enumerate(messages):
        if i == 0 and isinstance(m, SystemMessage):
            out.append({"role": "system", "content": m.content + section})
        elif isinstance(m, AssistantMessage) and m.tool_calls:
            calls = "".join(
                f"\n{TOOL_CALL_OPEN}\n{_tojson({'name': c.name, 'arguments': c.arguments})}\n{TOOL_CALL_CLOSE}"
                for c in m.tool_calls
            )
            out.append({"role": "assistant", "content": (m.content + calls).lstrip("\n")})
        elif isinstance(m, ToolMessage):
            text = f"<tool_response>\n{m.content}\n</tool_response>"
            if out and out[-1].get("_tool_results"):
                out[-1]["content"] += "\n" + text
            else:
                out.append({"role": "user", "content": text, "_tool_results": True})
        else:
            out.append({"role": m.role, "content": m.content})
    for d in out:
        d.pop("_tool_results", None)
    return out


# --------------------------------------------------------------------------------------------------
# Tool calls written as text
# --------------------------------------------------------------------------------------------------


@dataclass
class ParsedCall:
    """A tool call found in generated text. ``arguments`` is None when they were not a JSON object."""

    name: str
    arguments: dict[str, Any] | None
    raw: str = ""


@dataclass
class ParsedText:
    """Generated text split into the prose around tool calls and the calls themselves."""

    content: str
    calls: list[ParsedCall] = field(default_factory=list)
    attempted: bool = False
    """The text tried to call a tool (a ``<tool_call>`` tag) even if no call could be read."""


_BLOCK = re.compile(re.escape(TOOL_CALL_OPEN) + r"(.*?)(?:" + re.escape(TOOL_CALL_CLOSE) + r"|\Z)", re.S)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*(?:```|\Z)", re.S)
_CALL_START = re.compile(r'^\[?\s*\{+\s*"name"\s*:')
_NAME = re.compile(r'"name"\s*:\s*"([^"\\]+)"')
_DECODER = json.JSONDecoder()


def _call_from(obj: Any, raw: str) -> ParsedCall | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    if "arguments" in obj:
        args = obj["arguments"]
    elif "parameters" in obj:
        args = obj["parameters"]
    else:
        return None
    if isinstance(args, str):  # OpenAI style: arguments as a JSON string
        try:
            args = json.loads(args)
        except ValueError:
            args = None
    return ParsedCall(obj["name"], args if isinstance(args, dict) else None, raw)


def _json_values(text: str) -> list[Any]:
    """Every JSON value written back to back in ``text`` (trailing junk ends the list)."""
    values: list[Any] = []
    i = 0
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        while text.startswith("{{", i):  # small models copy f-string style doubled braces
            i += 1
        if i >= len(text):
            return values
        try:
            value, i = _DECODER.raw_decode(text, i)
        except ValueError:
            return values
        values.append(value)


def _calls_in(body: str) -> list[ParsedCall]:
    """Calls written as JSON in ``body``; a call whose JSON does not parse keeps just its name."""
    values = _json_values(body)
    for closing in ("}", "}}", "}}}"):  # a call cut short of its closing braces
        if values or not body.startswith("{"):
            break
        values = _json_values(body + closing)
    items = values[0] if len(values) == 1 and isinstance(values[0], list) else values
    calls = [c for v in items if (c := _call_from(v, _tojson(v))) is not None]
    if not calls and (name := _NAME.search(body)):
        calls = [ParsedCall(name.group(1), None, body)]
    return calls


def parse_tool_calls(text: str) -> ParsedText:
    """Find tool calls in ``text``: ``<tool_call>`` blocks, else a bare ``{"name", "arguments"}`` JSON.

    A call whose arguments cannot be read comes back with ``arguments=None`` (to be re-generated).

    >>> parse_tool_calls('{"name": "refund", "arguments": {"id": "A1"}}').calls[0].arguments
    {'id': 'A1'}
    >>> parse_tool_calls("Hello there").calls
    []
    """
    if TOOL_CALL_OPEN in text:
        calls = [c for block in _BLOCK.findall(text) for c in _calls_in(block.strip())]
        content = text[: text.index(TOOL_CALL_OPEN)].strip()
        return ParsedText(content, calls, attempted=True)
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    body = fenced.group(1) if fenced else stripped
    if _CALL_START.match(body):
        return ParsedText("", _calls_in(body), attempted=True)
    if body[:1] in ("{", "["):
        found = [_call_from(v, _tojson(v)) for v in _json_values(body)]  # keys in another order
        if found and all(c is not None for c in found):
            return ParsedText("", [c for c in found if c is not None], attempted=True)
    return ParsedText(text)
