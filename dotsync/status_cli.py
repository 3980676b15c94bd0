"""``dotsync status``, ``rejects`` and ``replay``: what the ledger holds, and queueing
records again."""

from __future__ import annotations

import click

from dotsync.cli_support import cut, echo_json, ledger_writer_of, open_store, read_settings, table


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status_command(as_json: bool) -> None:
    """Counts per entity and state (pending, synced, rejected, failed, in doubt)."""
    from dotsync.store.status import status as compute

    result = compute(open_store(read_settings()))
    if as_json:
        echo_json(result)
        return
    headers = ["entity", "pending", "synced", "rejected", "failed", "in_doubt"]
    rows = [
        [name] + [counts.get(h, 0) for h in headers[1:]]
        for name, counts in result["entities"].items()
    ]
    click.echo(table(headers, rows))
    warned = result.get("warnings") or {}
    if warned:
        click.echo("\nSent with a field left out (warnings; `dotsync rejects --warnings`): "
                   + ", ".join(f"{entity} {n}" for entity, n in sorted(warned.items())))
    if result["in_doubt"]:
        click.echo("\nIn doubt (sent or not: check Dotdigital, then `dotsync resend` if needed):")
        for item in result["in_doubt"]:
            click.echo(f"  {item['entity']} {item['key']} since {item['since']}")


@click.command("rejects")
@click.option(
    "--entity",
    type=click.Choice(["customers", "contacts", "orders", "confirmations", "certificates",
                       "carts", "cart_enrolments", "program_enrolments"]),
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--warnings", "show_warnings", is_flag=True,
              help="Records sent with a field left out, and why.")
def rejects_command(entity: str | None, as_json: bool, show_warnings: bool) -> None:
    """Every rejected, failed, in-doubt or waiting record: entity, id, field, reason
    (for a waiting record, what it waits for); with ``--warnings``, the records sent
    with a field left out."""
    from dotsync.store.status import rejects as compute

    if show_warnings:
        _print_warnings(entity, as_json)
        return
    items = compute(open_store(read_settings()), entity)
    if as_json:
        echo_json({"rejects": items, "count": len(items)})
        return
    if not items:
        click.echo("No rejected, failed, in-doubt or waiting records.")
        return
    click.echo(
        table(
            ["entity", "id", "state", "field", "reason"],
            [
                [i["entity"], i["id"], i["state"], i["field"] or "", i["reason"] or ""]
                for i in items
            ],
        )
    )


def _print_warnings(entity: str | None, as_json: bool) -> None:
    from dotsync.store.status import warnings as compute

    items = compute(open_store(read_settings()), entity)
    if as_json:
        echo_json({"warnings": items, "count": len(items),
                    "records": len({(i["entity"], i["id"]) for i in items})})
        return
    if not items:
        click.echo("No record was sent with a field left out.")
        return
    click.echo(table(["entity", "id", "field", "value", "reason"],
                      [[i["entity"], i["id"], i["field"] or "", cut(i["value"], 30),
                        cut(i["reason"], 110)] for i in items]))



@click.command("replay")
@click.option("--entity", type=click.Choice(
    ["customers", "contacts", "orders", "confirmations", "certificates", "carts",
     "cart_enrolments", "program_enrolments", "products"]))
@click.option("--ids", default=None, help="Comma-separated record ids (default: all); a "
              "product as `store / sku`, as status and rejects show it.")
def replay_command(entity: str | None, ids: str | None) -> None:
    """Queue rejected and failed records again for the next run.

    As the account ledger's one writer (:mod:`dotsync.store.writer`): a sync or backfill
    of the account settling those rows meanwhile could otherwise have its outcome
    overwritten, so the command waits for it, and says so."""
    from dotsync.store import Ledger
    from dotsync.store import keys as record_keys

    keys = [k.strip() for k in ids.split(",") if k.strip()] if ids else None
    if keys is not None and entity == "products":
        keys = [record_keys.of_shown(entity, k) for k in keys]
    elif keys is not None and entity is None:  # a product id as shown: store / sku
        keys = [*keys, *(record_keys.of_shown("products", k) for k in keys if " / " in k)]
    store = open_store(read_settings())
    with ledger_writer_of(store, "replay"):
        count = Ledger(store).replay(entity, keys)
    click.echo(f"{count} records queued again; they go out with the next `dotsync sync`.")
