"""The labelled retrieval set of the RAG benchmark: 537 documents, 533 question → passage pairs.

How it is built (deterministic, ``random.Random(2026)``; nothing is downloaded):

1. **Bitext support KB** (``shared/data/support-kb``, CDLA-Sharing-1.0): the 27 canonical answer
   documents, one per intent. Questions: the 135 noisy customer questions of ``bitext_qa.jsonl``
   and the 108 of ``bitext_rich_responses_sample.jsonl``; the relevant passage of each is the
   document of its intent.
2. **A generated help centre** for a fictional home-electronics shop, written from templates with
   randomly drawn facts: 200 product guides (overview, specifications, warranty, care,
   troubleshooting), 120 error-code articles, 60 shipping-by-country pages, 80 store pages and
   50 firmware release notes, each a Markdown document with ``##`` sections. One question is drawn
   for most documents, phrased with synonyms the document does not use ("guarantee" for
   "warranty", "flashing" for "blinks", "shut" for "close"), sometimes without the brand; its
   relevant passage is one section of one document.

A retrieved chunk is relevant when it comes from the gold document and, for sectioned documents,
from the gold section (chunks never span sections).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from vocab import (
    BRANDS,
    CITIES,
    COLOURS,
    COUNTRIES,
    COVERS,
    DEVICES,
    EXCLUDES,
    FAULTS,
    FEATURES,
    KINDS,
    LIGHT_MEANINGS,
    NAMED,
    SOLVENTS,
)

from keel.rag import Document

SUPPORT_KB = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "support-kb"


@dataclass(frozen=True)
class Query:
    question: str
    source: str  # gold document
    section: str  # gold section heading ("" when the whole document counts)
    group: str  # where it comes from: bitext-qa, bitext-rich, product, error, shipping, store, firmware


def support_kb_dir() -> Path:
    for cand in (SUPPORT_KB.resolve(), Path("/work/shared/data/support-kb")):
        if (cand / "bitext_kb_documents.jsonl").exists():
            return cand
    raise FileNotFoundError("shared/data/support-kb not found next to the repository")


def _jsonl(name: str) -> list[dict[str, str]]:
    with open(support_kb_dir() / name, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def bitext_documents() -> list[Document]:
    return [
        Document(
            source=f"bitext/{d['doc_id']}",
            text=d["text"],
            title=d["title"].capitalize(),
            metadata={"tags": [d["category"].lower()]},
        )
        for d in _jsonl("bitext_kb_documents.jsonl")
    ]


def bitext_queries(rich: bool = True) -> list[Query]:
    out = [
        Query(q["question"], f"bitext/{q['gold_doc_id']}", "", "bitext-qa") for q in _jsonl("bitext_qa.jsonl")
    ]
    if rich:
        out += [
            Query(q["question"], f"bitext/{q['intent']}", "", "bitext-rich")
            for q in _jsonl("bitext_rich_responses_sample.jsonl")
        ]
    return out


def _product_question(rng: random.Random, short: str, part: str, light: str, source: str) -> Query:
    qtype = rng.choice(["Warranty", "Care and cleaning", "Troubleshooting", "Specifications", "Overview"])
    question = rng.choice(
        {
            "Warranty": [
                f"How long is the guarantee on the {short}?",
                f"for how many months can I get my {short} repaired for free",
                f"is the {short} still under guarantee after a year?",
            ],
            "Care and cleaning": [
                f"How often should I change the {part} on my {short}?",
                f"when do I need a new {part} for the {short}",
            ],
            "Troubleshooting": [
                f"my {short} keeps flashing {light}, what does that mean?",
                f"{short} {light} light flashing",
            ],
            "Specifications": [f"how heavy is the {short}?", f"what does the {short} weigh"],
            "Overview": [f"what colours can I get the {short} in?", f"which year did the {short} come out?"],
        }[qtype]
    )
    return Query(question, source, qtype, "product")


def _product_docs(rng: random.Random, n: int) -> tuple[list[Document], list[Query]]:
    docs: list[Document] = []
    queries: list[Query] = []
    seen: set[object] = set()
    while len(docs) < n:
        brand, (kind, part, use) = rng.choice(BRANDS), rng.choice(KINDS)
        model = f"{rng.choice('KMSTRXZ')}{rng.randint(1, 9)}" + rng.choice(["", "", " Pro", " Mini", " Max"])
        name = f"{brand} {model}"
        if name in seen or (model, kind) in seen:  # questions may drop the brand: keep them unambiguous
            continue
        seen.update([name, (model, kind)])
        months, weeks, year = (
            rng.choice([6, 12, 18, 24, 36, 48]),
            rng.choice([4, 6, 8, 12, 26, 52]),
            rng.randint(2019, 2025),
        )
        colours = ", ".join(rng.sample(["graphite", "sand", "sage", "white", "navy", "coral"], 2))
        light = rng.choice(COLOURS)
        meaning, fix = rng.choice(LIGHT_MEANINGS)
        weight = round(rng.uniform(0.2, 6.5), 1)
        title = f"{name} {kind}"
        text = (
            f"# {title}\n\n## Overview\n\nThe {name} is a {kind} made for {use}. It was released in {year} "
            f"and comes in {colours}.\n\n## Specifications\n\nWeight: {weight} kg. Power: {rng.randint(5, 1800)} W. "
            f"Cable length: {round(rng.uniform(0.8, 2.0), 1)} m.\n\n## Warranty\n\nEvery {name} is covered for "
            f"{months} months from the day it is delivered. The warranty covers {rng.choice(COVERS)} but not "
            f"{rng.choice(EXCLUDES)}. To make a claim, keep your order number and contact support.\n\n"
            f"## Care and cleaning\n\nReplace the {part} every {weeks} weeks, or sooner in heavy use. Wipe the "
            f"housing with a dry cloth and never use {rng.choice(SOLVENTS)}.\n\n## Troubleshooting\n\nIf the "
            f"status light blinks {light}, {meaning}. {fix}."
        )
        source = f"products/{name.lower().replace(' ', '-')}.md"
        docs.append(
            Document(
                source=source,
                text=text,
                title=title,
                format="markdown",
                metadata={"tags": ["product", kind.replace(" ", "-")]},
            )
        )
        if rng.random() < 0.6:
            short = rng.choice([name, f"{model} {kind}", f"{name} {kind}"])
            queries.append(_product_question(rng, short, part, light, source))
    return docs, queries


def _error_docs(rng: random.Random, n: int) -> tuple[list[Document], list[Query]]:
    docs, queries, codes = [], [], set()
    for i in range(n):
        family, device = DEVICES[i % len(DEVICES)]
        code = f"E{rng.randint(100, 999)}"
        while (family, code) in codes:
            code = f"E{rng.randint(100, 999)}"
        codes.add((family, code))
        fault, fix = rng.choice(FAULTS)
        hours = rng.choice([2, 6, 12, 24, 48])
        title = f"Error {code} on {family}"
        text = (
            f"# {title}\n\n## What it means\n\nWhen the display shows {code}, the {device} has {fault}.\n\n"
            f"## How to fix it\n\n{fix}. Most units clear the code by themselves once the cause is gone.\n\n"
            f"## When to contact support\n\nIf {code} comes back within {hours} hours, book a repair in the "
            f"app: the {device} probably needs a technician."
        )
        source = f"errors/{device.replace(' ', '-')}-{code.lower()}.md"
        docs.append(
            Document(
                source=source,
                text=text,
                title=title,
                format="markdown",
                metadata={"tags": ["error-code", device.replace(" ", "-")]},
            )
        )
        if rng.random() < 0.5:
            section = rng.choice(["What it means", "How to fix it"])
            question = (
                rng.choice(
                    [
                        f"my {device} shows {code}, what's wrong with it?",
                        f"what does {code} mean on the {device}",
                    ]
                )
                if section == "What it means"
                else rng.choice(
                    [f"how do I get rid of {code} on my {device}", f"{device} error {code} how to solve"]
                )
            )
            queries.append(Query(question, source, section, "error"))
    return docs, queries


def _shipping_docs(rng: random.Random, n: int) -> tuple[list[Document], list[Query]]:
    docs, queries = [], []
    for key in COUNTRIES[:n]:
        country = NAMED.get(key, key)
        lo = rng.randint(2, 9)
        hi, fee, free = (
            lo + rng.randint(2, 6),
            rng.choice([4.95, 7.5, 9.9, 14.0, 19.5]),
            rng.choice([50, 75, 100, 150]),
        )
        duties = rng.choice(
            [
                "are included in the price you pay at checkout",
                "are collected by the courier from the recipient on delivery",
            ]
        )
        batteries = rng.choice(["can be shipped", "cannot be shipped by air, so they go by road or sea"])
        title = f"Shipping to {country}"
        text = (
            f"# {title}\n\n## Delivery times\n\nStandard parcels arrive in {lo} to {hi} business days; express "
            f"takes {max(1, lo - 1)} days.\n\n## Costs\n\nStandard delivery costs {fee} euros and is free for "
            f"orders above {free} euros.\n\n## Customs and duties\n\nImport taxes {duties}.\n\n"
            f"## Restrictions\n\nProducts with lithium batteries {batteries}."
        )
        source = f"shipping/{key.lower()}.md"
        docs.append(
            Document(
                source=source, text=text, title=title, format="markdown", metadata={"tags": ["shipping"]}
            )
        )
        if rng.random() < 0.67:
            section = rng.choice(["Delivery times", "Costs", "Customs and duties"])
            question = rng.choice(
                {
                    "Delivery times": [
                        f"how many days until my parcel reaches {country}?",
                        f"how long does it take to deliver to {country}",
                    ],
                    "Costs": [
                        f"what's the postage to {country}",
                        f"do you send orders to {country} for free?",
                    ],
                    "Customs and duties": [
                        f"will I be charged import tax on a delivery to {country}?",
                        f"who pays customs fees when ordering to {country}",
                    ],
                }[section]
            )
            queries.append(Query(question, source, section, "shipping"))
    return docs, queries


def _store_docs(rng: random.Random, n: int) -> tuple[list[Document], list[Query]]:
    docs, queries = [], []
    streets = ["Market Street", "Harbour Road", "Station Square", "Mill Lane", "Park Avenue", "Castle Street"]
    for city in CITIES[:n]:
        wk_open, wk_close = rng.choice([8, 9, 10]), rng.choice([18, 19, 20, 21])
        sat_close, sun = rng.choice([16, 17, 18]), rng.choice(["closed", "open 11:00 to 16:00"])
        repair = rng.choice([True, False])
        parking = rng.choice(
            [
                "a multi-storey car park next door (first hour free)",
                "street parking only",
                "twenty customer spaces behind the shop",
            ]
        )
        title = f"{city} store"
        text = (
            f"# {title}\n\n## Address and parking\n\nYou will find us at {rng.randint(1, 220)} "
            f"{rng.choice(streets)}, {city}. There is {parking}.\n\n## Opening hours\n\nMonday to Friday "
            f"{wk_open:02d}:00 to {wk_close}:00, Saturday 09:00 to {sat_close}:00, Sunday {sun}.\n\n## Services\n\n"
            + (
                "A repair desk fixes phones and small appliances while you wait. "
                if repair
                else "Repairs are sent to our central workshop. "
            )
            + rng.choice(
                [
                    "Old devices can be dropped off for recycling.",
                    "Click and collect orders are ready within two hours.",
                ]
            )
        )
        source = f"stores/{city.lower()}.md"
        docs.append(
            Document(source=source, text=text, title=title, format="markdown", metadata={"tags": ["store"]})
        )
        if rng.random() < 0.5:
            section = rng.choice(["Opening hours", "Address and parking", "Services"])
            question = rng.choice(
                {
                    "Opening hours": [
                        f"what time does the {city} shop shut on saturday?",
                        f"is your {city} branch open on sundays",
                    ],
                    "Address and parking": [
                        f"where can I leave my car when visiting the {city} shop?",
                        f"what's the address of the {city} branch",
                    ],
                    "Services": [
                        f"can the {city} shop fix my phone while I wait?",
                        f"does the {city} branch take old electronics back",
                    ],
                }[section]
            )
            queries.append(Query(question, source, section, "store"))
    return docs, queries


def _firmware_docs(rng: random.Random, n: int) -> tuple[list[Document], list[Query]]:
    docs, queries = [], []
    unused = {device: rng.sample(FEATURES, len(FEATURES)) for _, device in DEVICES}
    for i in range(n):
        family, device = DEVICES[i % len(DEVICES)]
        version = f"{2 + i // len(DEVICES)}.{rng.randint(0, 9)}.{rng.randint(0, 20)}"
        new = [unused[device].pop(), unused[device].pop()]  # a feature arrives in one release only
        fixed = rng.choice(
            [
                "pairing failures",
                "clock drift",
                "slow start-up",
                "random reboots",
                "wrong temperature readings",
            ]
        )
        title = f"{family} firmware {version}"
        text = (
            f"# {title}\n\n## What's new\n\nThis release adds {new[0]} and {new[1]} to every {device}.\n\n"
            f"## Fixes\n\nResolves {fixed} reported since the previous version.\n\n## Known issues\n\n"
            f"The update can take up to {rng.choice([10, 20, 30])} minutes; keep the {device} powered."
        )
        source = f"firmware/{device.replace(' ', '-')}-{version}.md"
        docs.append(
            Document(
                source=source, text=text, title=title, format="markdown", metadata={"tags": ["firmware"]}
            )
        )
        if rng.random() < 0.6:
            queries.append(
                Query(
                    rng.choice(
                        [
                            f"which {device} update brought {new[0]}?",
                            f"when did my {device} get {new[1]} support",
                        ]
                    ),
                    source,
                    "What's new",
                    "firmware",
                )
            )
    return docs, queries


def build(seed: int = 2026) -> tuple[list[Document], list[Query]]:
    """The full benchmark corpus and its labelled questions."""
    rng = random.Random(seed)
    docs, queries = bitext_documents(), bitext_queries()
    for make, n in (
        (_product_docs, 200),
        (_error_docs, 120),
        (_shipping_docs, 60),
        (_store_docs, 80),
        (_firmware_docs, 50),
    ):
        d, q = make(rng, n)
        docs += d
        queries += q
    assert len({d.source for d in docs}) == len(docs), "duplicate document source"
    return docs, queries


def is_relevant(query: Query, source: str, section: str) -> bool:
    """Whether a chunk from ``source`` under heading path ``section`` answers ``query``."""
    if source != query.source:
        return False
    return not query.section or section.split(" > ")[-1] == query.section


def dev_split(query: Query) -> bool:
    """Half the questions (by a stable hash) tune the reranker; the other half measure it."""
    import hashlib

    return int(hashlib.md5(query.question.encode()).hexdigest(), 16) % 2 == 0


if __name__ == "__main__":
    d, q = build()
    from collections import Counter

    print(len(d), "documents;", len(q), "questions:", dict(Counter(x.group for x in q)))
