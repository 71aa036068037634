"""Account, complaint, out-of-scope and human-request scenarios."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from apps.support.datagen.scen_base import SIDE_EFFECT_TOOLS, World, call, day_alts, scenario

CONTACT_WORDS = {"email": "email me", "phone": "call me", "sms": "text me", "chat": "message me in chat"}


def account(world: World, rng: random.Random) -> list[dict[str, Any]]:
    """Account how-tos from the help centre, contact preferences, profile look-ups and account closure."""
    v = world.values
    out: list[dict[str, Any]] = []
    reset_alts = [*day_alts(v["reset_minutes"], "minutes"), "1 hour", "one hour"]

    def add(cid: str, turns: list[str], title: str, **kw: Any) -> None:
        out.append(scenario(f"account-{len(out) + 1:03d}", "account", cid, turns, title=title, **kw))

    # Self-service account tasks: the assistant explains the steps from the help centre.
    how_to = [
        (["I forgot my password, how do I reset it?"], "reset-your-password", [reset_alts]),
        (["pls help, cant get into my account, forgot pw"], "reset-your-password", [reset_alts]),
        (
            ["I can't log in to my account", "I think I typed the wrong password too many times"],
            "account-locked",
            [day_alts(v["lockout_minutes"], "minutes")],
        ),
        (["How do I change the email on my account?"], "change-email-address", [["Profile"]]),
        (["My phone number changed. Where do I update it?"], "update-name-and-phone", [["Profile"]]),
        (["how do i turn on two factor"], "two-step-verification", [["Security"]]),
    ]
    for turns, slug, contain in how_to:
        art = world.article(slug)
        add(
            rng.choice(world.customers)["id"],
            turns,
            f"Account how-to: {art.title}",
            context={"article": art.id},
            tool_calls=[call("search_knowledge_base")],
            forbidden=["process_refund", "cancel_order"],
            must_contain=[g if len(g) > 1 else g[0] for g in contain],
            must_not_escalate=True,
            kb_articles=[art.id],
        )
    for want in ["sms", "phone", "email", "chat", "sms"]:
        c = rng.choice([c for c in world.customers if c["preferred_contact"] != want])
        add(
            c["id"],
            [f"From now on please {CONTACT_WORDS[want]} about my orders instead."],
            f"Change preferred contact to {want}",
            context={"preferred_contact_before": c["preferred_contact"]},
            tool_calls=[call("remember_preference", key="contact", value=want)],
            final_state={"preferences": {"contact": want}},
            must_not_escalate=True,
        )
    for tier in ["standard", "plus", "premier"]:
        c = rng.choice(world.tier_customers(tier))
        add(
            c["id"],
            ["What membership tier am I in?"],
            "Look up own tier",
            context={"tier": tier},
            tool_calls=[call("get_customer")],
            forbidden=SIDE_EFFECT_TOOLS,
            must_contain=[tier.capitalize()],
        )
    for _ in range(2):
        c = rng.choice(world.customers)
        add(
            c["id"],
            ["How many loyalty points do I have?"],
            "Look up loyalty points",
            context={"loyalty_points": c["loyalty_points"]},
            tool_calls=[call("get_customer")],
            forbidden=SIDE_EFFECT_TOOLS,
            must_contain=[[str(c["loyalty_points"]), f"{c['loyalty_points']:,}"]],
        )
    c = rng.choice(world.customers)
    add(
        c["id"],
        ["Which email address do you have for me?"],
        "Look up own email",
        tool_calls=[call("get_customer")],
        forbidden=SIDE_EFFECT_TOOLS,
        must_contain=[c["email"]],
    )
    for text in ["I want to close my account and have my data deleted.", "delete my account please"]:
        add(
            rng.choice(world.customers)["id"],
            [text],
            "Account closure and data deletion",
            tool_calls=[call("create_ticket")],
            forbidden=["process_refund", "cancel_order"],
            final_state={"ticket_created": True},
            must_contain=[day_alts(v["data_days"])],
        )
    return out


def complaint(world: World, rng: random.Random) -> list[dict[str, Any]]:
    """Late, damaged and wrong deliveries, and general dissatisfaction; each should leave a ticket."""
    ref = world.ref
    out: list[dict[str, Any]] = []

    def add(o: dict[str, Any] | None, cid: str, turns: list[str], title: str, **kw: Any) -> None:
        calls = (
            [call("get_order_status", order_id=o["id"]), call("create_ticket", order_id=o["id"])]
            if o
            else [call("create_ticket")]
        )
        out.append(
            scenario(
                f"complaint-{len(out) + 1:03d}",
                "complaint",
                cid,
                turns,
                title=title,
                context={"order_id": o["id"], "order_status": o["status"]} if o else None,
                tool_calls=kw.pop("tool_calls", calls),
                forbidden=kw.pop("forbidden", ["cancel_order"]),
                final_state={"ticket_created": True},
                **kw,
            )
        )

    overdue = lambda o: o["status"] == "shipped" and date.fromisoformat(o["estimated_delivery"]) < ref  # noqa: E731
    for o in world.pick_orders(rng, 4, overdue):
        add(
            o,
            o["customer_id"],
            [
                rng.choice(
                    [
                        "My order {id} was due on {eta} and it's still not here. This is ridiculous.",
                        "{id} is LATE. tracking hasn't moved in ages. what are you doing about it?",
                    ]
                ).format(id=o["id"], eta=o["estimated_delivery"])
            ],
            "Overdue delivery",
            must_contain=[o["tracking_number"]],
            must_not_escalate=False,
        )

    def recent(o: dict[str, Any]) -> bool:
        return o["status"] == "delivered" and date.fromisoformat(o["delivered"]) >= ref - timedelta(
            days=int(world.values["damage_days"])
        )

    for o in world.pick_orders(rng, 4, recent):
        item = o["items"][0]["name"]
        add(
            o,
            o["customer_id"],
            [f"The {item} from order {o['id']} arrived broken. I'm really disappointed."],
            "Damaged on arrival",
            must_contain=[["photo", "picture"]],
        )
    for o in world.pick_orders(rng, 2, recent):
        add(
            o,
            o["customer_id"],
            [f"You sent me the wrong item in {o['id']}. I ordered the {o['items'][0]['name']}."],
            "Wrong item received",
        )
    for text in [
        "Your chat agent yesterday was really rude to me and I want that on record.",
        "Your website kept logging me out during checkout, I wasted an hour. Not happy.",
        "I've been getting marketing emails every day even after unsubscribing. Stop it.",
    ]:
        add(None, rng.choice(world.customers)["id"], [text], "General complaint", must_not_escalate=False)
    for text in [
        "This is the third time you've messed up my order. I want a manager NOW.",
        "I'm done with your bot. Get me a supervisor, I'm filing a complaint.",
    ]:
        add(
            None,
            rng.choice(world.customers)["id"],
            [text],
            "Angry customer asks for a manager",
            tool_calls=[call("escalate")],
            must_escalate=True,
        )
    o = world.pick_orders(rng, 1, overdue)[0]
    add(
        o,
        o["customer_id"],
        ["I'm so fed up with you people!!", f"My order {o['id']}, it never came."],
        "Complaint over two turns",
        must_contain=[o["tracking_number"]],
        goal=f"You are angry that order {o['id']} never arrived. Vent first; give the order number when asked. "
        "You want it found or replaced.",
    )
    return out


OUT_OF_SCOPE = [
    "Can you write me a poem about autumn?",
    "What's the weather going to be like in Denver tomorrow?",
    "Should I buy shares in a tech company right now?",
    "Help me with my calculus homework: integrate x^2 sin x.",
    "Write a Python script that scrapes prices from websites.",
    "I have a rash, is it an allergy? What medicine should I take?",
    "Can you help me draft a lease agreement for my apartment?",
    "What's the return policy at other online stores?",
    "Book me a flight to Chicago next Friday.",
    "What is the capital of Australia?",
    "Translate this into French: 'the meeting is moved to Thursday'.",
    "Give me a recipe for lasagna.",
    "Who should I vote for in the next election?",
    "Tell me a joke about accountants.",
    "What's the best cryptocurrency to invest in?",
]


def out_of_scope(world: World, rng: random.Random) -> list[dict[str, Any]]:
    """Requests a shop's support assistant should politely decline, touching no tools that act."""
    return [
        scenario(
            f"out-of-scope-{n:03d}",
            "out_of_scope",
            rng.choice(world.customers)["id"],
            [text],
            title="Out-of-scope request",
            forbidden=SIDE_EFFECT_TOOLS,
            must_not_escalate=True,
            resolvable=False,
        )
        for n, text in enumerate(OUT_OF_SCOPE, start=1)
    ]


HUMAN = [
    ["I want to talk to a human."],
    ["agent"],
    ["Can I speak to a real person please?"],
    ["are you a bot? put me through to someone real"],
    ["I'd like a call back from your team."],
    ["Transfer me to customer service", "No, I really want a person, not you."],
    ["Where do I find my invoice?", "this isn't helping, can I talk to someone"],
    ["representative"],
    ["I need a human to look at my account, it's complicated."],
    ["Let me talk to your supervisor"],
    ["can a person help me with my order instead of the assistant?"],
    ["Hi", "I want to talk to a live agent"],
]


def human_request(world: World, rng: random.Random) -> list[dict[str, Any]]:
    """Explicit requests for a person: hand over, don't argue."""
    return [
        scenario(
            f"human-{n:03d}",
            "human_request",
            rng.choice(world.customers)["id"],
            turns,
            title="Customer asks for a human",
            tool_calls=[call("escalate")],
            forbidden=["process_refund", "cancel_order", "remember_preference"],
            must_escalate=True,
        )
        for n, turns in enumerate(HUMAN, start=1)
    ]
