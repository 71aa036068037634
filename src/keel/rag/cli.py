"""``keel ingest`` and ``keel search``: build and query a knowledge base from the command line.

Indexes live in ``.keel/indexes/NAME.db`` (``--home`` changes the folder).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

__all__ = ["ingest", "search"]


def _index_path(home: str, name: str) -> Path:
    if not name.replace("-", "").replace("_", "").isalnum():
        raise click.BadParameter("use letters, digits, '-' and '_' only", param_hint="--index")
    return Path(home) / "indexes" / f"{name}.db"


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--index", "name", required=True, help="The knowledge base to add to.")
@click.option("--home", default=".keel", show_default=True)
def ingest(paths: tuple[str, ...], name: str, home: str) -> None:
    """Load, chunk, embed and index files, folders or URLs (bad inputs are reported and skipped)."""
    from keel.rag import KnowledgeBase, LocalEmbedder
    from keel.rag.loaders import IngestReport, load_paths

    path = _index_path(home, name)
    path.parent.mkdir(parents=True, exist_ok=True)

    async def go() -> None:
        kb = KnowledgeBase(path, embedder=LocalEmbedder())
        files = [p for p in paths if not p.startswith(("http://", "https://"))]
        urls = [p for p in paths if p.startswith(("http://", "https://"))]
        report = IngestReport()
        docs = load_paths(files, report=report) if files else []
        skipped = list(report.skipped)
        progress = click.progressbar(length=len(docs) + len(urls), label="ingesting", file=sys.stderr)
        with progress as bar:
            for doc in docs:
                r = await kb.ingest(doc)
                skipped += r.skipped
                bar.update(1)
            for url in urls:
                r = await kb.ingest(url)
                skipped += r.skipped
                bar.update(1)
        total = await kb.count()
        await kb.close()
        click.echo(
            f"index {name}: {total} chunks from {len(docs) + len(urls) - len(skipped)} inputs; {len(skipped)} skipped"
        )
        for s in skipped:
            click.echo(f"  skipped {s.source}: {s.reason}", err=True)

    asyncio.run(go())


@click.command()
@click.argument("query")
@click.option("--index", "name", required=True, help="The knowledge base to search.")
@click.option("-k", default=5, show_default=True, help="How many passages.")
@click.option("--home", default=".keel", show_default=True)
def search(query: str, name: str, k: int, home: str) -> None:
    """Hybrid search (BM25 + vectors, reranked) over an index built by ``keel ingest``."""
    from keel.rag import KnowledgeBase, LocalEmbedder

    path = _index_path(home, name)
    if not path.exists():
        raise click.ClickException(
            f"no index {name!r} under {home}: run `keel ingest PATH --index {name}` first"
        )

    async def go() -> None:
        kb = KnowledgeBase(path, embedder=LocalEmbedder())
        for i, hit in enumerate(await kb.search(query, k=k), 1):
            head = " > ".join(p for p in (hit.title, hit.section) if p) or hit.source
            click.echo(f"{i}. [{hit.id}] {head} ({hit.source})  score {hit.score:.3f}")
            click.echo("   " + hit.text.strip().replace("\n", " ")[:300])
        await kb.close()

    asyncio.run(go())
