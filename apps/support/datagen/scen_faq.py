"""FAQ scenarios: policy and how-to questions answered from the help centre."""

from __future__ import annotations

import random
from typing import Any

from apps.support.datagen.scen_base import (
    SIDE_EFFECT_TOOLS,
    World,
    call,
    day_alts,
    money_alts,
    range_alts,
    scenario,
)


def _facts(v: dict[str, str]) -> list[tuple[str, list[str], list[list[str]], str | None]]:
    """(article slug, user turns, must-contain groups (any of each), tier the customer must have)."""

    def num(key: str) -> float:
        return float(v[key].replace(",", ""))

    return [
        (
            "return-policy",
            ["How long do I have to send something back?"],
            [day_alts(v["return_days"])],
            "standard",
        ),
        (
            "return-policy",
            ["hey quick q - can i still return a lamp i got 2 weeks ago?"],
            [day_alts(v["return_days"])],
            "plus",
        ),
        (
            "premier-extended-returns",
            ["I'm a Premier member. Do I get extra time for returns?"],
            [day_alts(v["premier_return_days"])],
            "premier",
        ),
        (
            "final-sale-items",
            ["Can I return something I bought in the clearance section?"],
            [["final sale", "final-sale"]],
            None,
        ),
        (
            "final-sale-items",
            ["is the beard oil returnable if i dont like the smell"],
            [["final sale", "final-sale"]],
            None,
        ),
        (
            "free-shipping",
            ["How much do I need to spend to get free shipping?"],
            [money_alts(num("free_ship"))],
            "standard",
        ),
        (
            "shipping-methods-and-delivery-times",
            ["How many business days does expedited shipping take?"],
            [range_alts(v["exp_min"], v["exp_max"])],
            None,
        ),
        (
            "shipping-methods-and-delivery-times",
            ["what does overnight shipping cost"],
            [money_alts(num("on_fee"))],
            None,
        ),
        (
            "shipping-methods-and-delivery-times",
            ["If I pick standard shipping, how long will it take to get here?"],
            [range_alts(v["std_min"], v["std_max"])],
            None,
        ),
        (
            "international-shipping",
            ["Do you ship to Canada? How long would it take?"],
            [range_alts(v["intl_min"], v["intl_max"])],
            None,
        ),
        (
            "order-processing-and-cutoff",
            ["What time do I have to order by for it to ship the same day?"],
            [["2 p.m.", "2 pm", "2pm", "2:00", "14:00"]],
            None,
        ),
        (
            "refund-timeline",
            ["Once you refund me, how long until I see the money on my card?"],
            [range_alts(v["refund_min_days"], v["refund_max_days"])],
            None,
        ),
        (
            "electronics-warranty",
            ["What's the warranty on your headphones?"],
            [[*day_alts(v["w_electronics"], "months"), "one year", "1 year", "1-year", "one-year"]],
            None,
        ),
        (
            "kitchen-appliance-warranty",
            ["how long is the espresso machine covered for if it breaks"],
            [[*day_alts(v["w_appliances"], "months"), "two years", "2 years", "2-year", "two-year"]],
            None,
        ),
        (
            "furniture-warranty",
            ["Is there a warranty on the desk chair?"],
            [[*day_alts(v["w_furniture"], "months"), "three years", "3 years", "3-year", "three-year"]],
            None,
        ),
        (
            "quality-guarantee",
            ["The seam on my flannel shirt split after two months. Is that covered by anything?"],
            [day_alts(v["guarantee_days"])],
            None,
        ),
        (
            "reset-your-password",
            ["How long does the password reset link stay valid?"],
            [[*day_alts(v["reset_minutes"], "minutes"), "1 hour", "one hour"]],
            None,
        ),
        (
            "account-locked",
            ["I typed my password wrong a bunch and now I'm locked out. How long does that last?"],
            [day_alts(v["lockout_minutes"], "minutes")],
            None,
        ),
        (
            "pay-in-installments",
            ["Can I split my payment into installments?"],
            [
                [
                    f"{v['inst_count']} installments",
                    f"{v['inst_count']} payments",
                    f"{v['inst_count']} interest-free",
                    f"Pay in {v['inst_count']}",
                    "four",
                ]
            ],
            None,
        ),
        (
            "pay-in-installments",
            ["whats the minimum order to pay in installments"],
            [money_alts(num("inst_min"))],
            None,
        ),
        (
            "using-gift-cards",
            ["Do your gift cards expire?"],
            [
                [
                    "never expire",
                    "don't expire",
                    "do not expire",
                    "no expiration",
                    "never expires",
                    "doesn't expire",
                ]
            ],
            None,
        ),
        (
            "promo-code-rules",
            ["Can I stack two promo codes on the same order?"],
            [
                [
                    "one promo code",
                    "one code",
                    "only one",
                    "1 promo code",
                    "single promo code",
                    "one per order",
                ]
            ],
            None,
        ),
        (
            "price-adjustments",
            ["The chair I bought last week just went on sale. Can I get the difference back?"],
            [day_alts(v["price_adjust_days"])],
            None,
        ),
        ("welcome-discount", ["Is there a discount for my first order?"], [["WELCOME10"]], None),
        ("referral-program", ["What do I get for referring a friend?"], [money_alts(num("referral"))], None),
        (
            "loyalty-points",
            ["How many points do I need before I can get a reward?"],
            [[v["points_block"]]],
            None,
        ),
        (
            "delete-your-data",
            ["If I ask you to delete my data, how long does it take?"],
            [day_alts(v["data_days"])],
            None,
        ),
        (
            "data-retention",
            ["How long do you keep my order records?"],
            [[*day_alts(v["retention_years"], "years"), "seven years"]],
            None,
        ),
        (
            "contact-customer-support",
            ["What are your support hours on Saturday?"],
            [["9 a.m.", "9 am", "9am", "9:00"]],
            None,
        ),
        (
            "contact-customer-support",
            ["If I email you, how soon will someone reply?"],
            [day_alts(v["email_hours"], "hours")],
            None,
        ),
        (
            "damaged-package-on-arrival",
            ["How long do I have to report that something arrived broken?"],
            [day_alts(v["damage_days"])],
            None,
        ),
        (
            "lost-package-trace",
            ["When do you consider a package lost?"],
            [day_alts(v["trace_days"], "business days")],
            None,
        ),
        (
            "signature-required-deliveries",
            ["Why does my delivery need a signature?"],
            [money_alts(num("signature_over"))],
            None,
        ),
        (
            "refund-approval-over-threshold",
            ["Why do some refunds need a supervisor to approve them?"],
            [money_alts(num("refund_threshold"))],
            None,
        ),
        (
            "membership-tiers",
            ["How much do I have to spend in a year to reach Premier?"],
            [[v["premier_spend"], v["premier_spend"].replace(",", "")]],
            None,
        ),
        ("care-cast-iron-skillet", ["Can I put the cast iron skillet in the dishwasher?"], [["rust"]], None),
        (
            "earbuds-wont-pair",
            ["How do I factory reset the Driftwood earbuds?"],
            [day_alts(15, "seconds")],
            None,
        ),
        (
            "smart-lamp-wifi",
            ["my beacon lamp wont connect to my wifi"],
            [["2.4 GHz", "2.4GHz", "2.4 ghz", "2.4ghz"]],
            None,
        ),
        (
            "blender-wont-start",
            ["The blender just stopped in the middle of a smoothie and won't restart."],
            [day_alts(20, "minutes")],
            None,
        ),
        ("gift-wrapping-and-messages", ["How much is gift wrap?"], [money_alts(num("gift_wrap"))], None),
        ("cancel-an-order", ["Can I cancel an order after it has shipped?"], [["return"]], None),
    ]


def _followups(v: dict[str, str]) -> list[tuple[str, list[str], list[list[str]], list[str]]]:
    """Two-turn FAQs: (slug, turns, must-contain groups, extra gold slugs)."""
    return [
        (
            "return-policy",
            ["What's your return policy?", "And what if the item was on clearance?"],
            [day_alts(v["return_days"]), ["final sale", "final-sale"]],
            ["final-sale-items"],
        ),
        (
            "shipping-methods-and-delivery-times",
            ["How fast is overnight shipping?", "ok and how much is it?"],
            [money_alts(float(v["on_fee"]))],
            [],
        ),
        (
            "reset-your-password",
            ["I can't remember my password", "ok how long do I have to use the link?"],
            [[*day_alts(v["reset_minutes"], "minutes"), "1 hour", "one hour"]],
            [],
        ),
        (
            "warranty-overview",
            ["Do your products come with a warranty?", "what about furniture specifically?"],
            [[*day_alts(v["w_furniture"], "months"), "three years", "3 years"]],
            ["furniture-warranty"],
        ),
        (
            "pay-in-installments",
            ["do you have buy now pay later", "how often are the payments taken?"],
            [[*day_alts(v["inst_weeks"], "weeks"), "two weeks", "every other week", "biweekly"]],
            [],
        ),
    ]


def faq(world: World, rng: random.Random) -> list[dict[str, Any]]:
    """Single- and two-turn policy questions; each names the gold article and the fact to state."""
    v = world.values
    out: list[dict[str, Any]] = []
    forbidden = [t for t in SIDE_EFFECT_TOOLS if t != "escalate"]
    for slug, turns, groups, tier in _facts(v):
        pool = world.tier_customers(tier) if tier else world.customers
        art = world.article(slug)
        out.append(
            scenario(
                f"faq-{len(out) + 1:03d}",
                "faq",
                rng.choice(pool)["id"],
                turns,
                title=f"FAQ: {art.title}",
                tags=["policy"] if art.placeholders else ["how_to"],
                context={"article": art.id, **({"customer_tier": tier} if tier else {})},
                tool_calls=[call("search_knowledge_base")],
                forbidden=forbidden,
                must_contain=[g if len(g) > 1 else g[0] for g in groups],
                must_not_escalate=True,
                kb_articles=[art.id],
            )
        )
    for slug, turns, groups, extra in _followups(v):
        art = world.article(slug)
        out.append(
            scenario(
                f"faq-{len(out) + 1:03d}",
                "faq",
                rng.choice(world.customers)["id"],
                turns,
                title=f"FAQ follow-up: {art.title}",
                tags=["policy", "follow_up"],
                context={"article": art.id},
                tool_calls=[call("search_knowledge_base")],
                forbidden=forbidden,
                must_contain=[g if len(g) > 1 else g[0] for g in groups],
                must_not_escalate=True,
                kb_articles=[art.id, *(world.article(s).id for s in extra)],
            )
        )
    return out
