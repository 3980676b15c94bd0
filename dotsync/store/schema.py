"""Tables of the staging store (SPEC §1) and of dotsync's own bookkeeping.

Staged columns are stored as text. Source systems write whatever they have; the
data contracts then judge each value and report a bad one against its record,
instead of a typed column refusing a whole batch at insert time.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: The columns of each staged entity, in SPEC order, and its key.
ENTITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": (
        "customer_id",
        "email",
        "first_name",
        "last_name",
        "mobile_number",
        "country",
        "email_type",
        "opt_in_type",
        "email_consent",
        "sms_consent",
        "store",
        "locale",
        "data_fields",
        "updated_at",
        "deleted_at",
        "consent_text",
        "consent_url",
        "consent_at",
        "consent_ip",
        "consent_user_agent",
    ),
    "orders": (
        "order_id",
        "customer_id",
        "customer_email",
        "status",
        "currency",
        "total",
        "subtotal",
        "tax",
        "shipping",
        "discount",
        "refunded",
        "placed_at",
        "updated_at",
        "lines",
        "store",
        "coupon_code",
    ),
    "certificates": (
        "certificate_id",
        "recipient_email",
        "code",
        "amount",
        "currency",
        "link",
        "expires_at",
        "campaign_id",
        "updated_at",
    ),
    # SPEC §1 (issue 16): abandoned carts and the product catalogue.
    "carts": (
        "cart_id",
        "customer_id",
        "customer_email",
        "currency",
        "lines",
        "subtotal",
        "total",
        "url",
        "created_at",
        "updated_at",
        "converted_order_id",
        "converted_at",
    ),
    "products": (
        "sku",
        "store",
        "name",
        "price",
        "sale_price",
        "currency",
        "url",
        "image_url",
        "categories",
        "stock",
        "status",
        "updated_at",
    ),
}
#: Columns added after a store's first version. A row that leaves them all empty keeps
#: the fingerprint it had before they existed, so an upgrade does not make every
#: staged record look changed.
LATER_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("consent_text", "consent_url", "consent_at", "consent_ip",
                  "consent_user_agent"),
}
#: The key column of each staged entity with a one-column key. ``products`` is keyed
#: by two columns (:data:`KEY_COLUMNS`); :mod:`dotsync.store.keys` gives every entity's
#: key as one text.
ENTITY_KEYS: dict[str, str] = {
    "customers": "customer_id",
    "orders": "order_id",
    "certificates": "certificate_id",
    "carts": "cart_id",
}
#: The columns of each staged entity's key, in the order they make its text key.
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    **{entity: (key,) for entity, key in ENTITY_KEYS.items()},
    "products": ("store", "sku"),
}
#: The entities the sync's steps process today (and ``dotsync status`` counts).
ENTITIES: tuple[str, ...] = ("customers", "orders", "certificates", "carts")
#: Staged entities whose steps are still to come (issue 16): they are loaded and
#: change-stamped like the others, not synced yet.
LATER_ENTITIES: tuple[str, ...] = ("products",)
#: Every staging table.
STAGED_ENTITIES: tuple[str, ...] = (*ENTITIES, *LATER_ENTITIES)


def _staging_table(name: str) -> sa.Table:
    keys = KEY_COLUMNS[name]
    cols = [sa.Column(k, sa.Text, primary_key=True, nullable=False) for k in keys]
    cols += [sa.Column(c, sa.Text, nullable=True) for c in ENTITY_COLUMNS[name]
             if c not in keys]
    return sa.Table(name, metadata, *cols)


customers = _staging_table("customers")
#: Customers are found by e-mail (trimmed, lower-cased) to merge every row of one contact.
sa.Index("ix_customers_email_norm", sa.func.lower(sa.func.trim(customers.c.email)))
orders = _staging_table("orders")
certificates = _staging_table("certificates")
carts = _staging_table("carts")
#: Carts are matched to the contact they belong to and to the order they became.
sa.Index("ix_carts_customer_email", carts.c.customer_email)
sa.Index("ix_carts_converted_order_id", carts.c.converted_order_id)
products = _staging_table("products")
#: The one-text key of a product (store, U+001F, sku: a character no staged value may
#: hold, see :mod:`dotsync.store.keys`), indexed so the change stamps and the ledger,
#: which key records by one text, find a product without a scan.
sa.Index("ix_products_key", products.c.store + "\x1f" + products.c.sku)
STAGING_TABLES: dict[str, sa.Table] = {
    "customers": customers,
    "orders": orders,
    "certificates": certificates,
    "carts": carts,
    "products": products,
}

#: One row per (entity, key) that dotsync has seen. Entities: the staged ones plus
#: ``contacts`` (keyed by normalised e-mail, what Dotdigital holds), ``confirmations``
#: (order-confirmation e-mails, keyed by order id) and ``erasures``.
ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("entity", sa.String(32), primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("source_hash", sa.String(32)),
    sa.Column("payload_hash", sa.String(32)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("error_code", sa.Text),
    sa.Column("error_field", sa.Text),
    sa.Column("error_message", sa.Text),
    sa.Column("dotdigital_ref", sa.Text),
    sa.Column("detail", sa.Text),
    sa.Column("run_id", sa.String(64)),
    sa.Column("first_seen_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    # Records to retry (pending, failed) are read a page at a time in key order; any
    # question by (entity, state) reads it too (an (entity, state) index of its own
    # only cost every write a b-tree more: dropped by revision 0003).
    sa.Index("ix_ledger_entity_state_key", "entity", "state", "key"),
)
#: Records whose last outcome carries a code (errors, waits, enrolments still
#: processing), found by it: every run reads back its earlier enrolments by
#: ``error_code`` (:mod:`dotsync.sync.steps.enrolment_reads`), which through the
#: (entity, state) indexes walked every synced record of the entity; most records have
#: no code, so the index stays small and the read follows what is unfinished.
LEDGER_CODED = ledger.c.error_code.isnot(None)
sa.Index("ix_ledger_entity_error_code", ledger.c.entity, ledger.c.error_code,
         sqlite_where=LEDGER_CODED, postgresql_where=LEDGER_CODED)

#: Fields left out of what was sent (SPEC §1 optional fields), per record: the
#: warnings of its last validation (replaced, not accumulated, when it is validated
#: again), for ``dotsync rejects --warnings`` and ``dotsync status``. Values are masked
#: where personal.
warnings = sa.Table(
    "warnings",
    metadata,
    # No auto-increment id: `dotsync migrate` copies rows as they are, and a copied id
    # would collide with the target's own sequence.
    sa.Column("entity", sa.String(32), primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("field", sa.Text),
    sa.Column("check", sa.Text),
    sa.Column("value", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("run_id", sa.String(64)),
    sa.Column("recorded_at", sa.DateTime(timezone=True)),
)

#: Every attempt to deliver a record (SPEC §4 ``dotsync trace``), appended where the
#: ledger settles an outcome, never updated: the ledger keeps only the last error,
#: this keeps the story. Contact attempts are logged against the customer rows behind
#: the contact (a guest contact, which has none, under ``contacts`` by e-mail, forgotten
#: with it on erasure). Answers are scrubbed of e-mails, numbers and secrets before they
#: are written. Rows older than ``DOTSYNC_ATTEMPT_RETENTION_DAYS`` are pruned at the end
#: of each run through the index on ``at``. No auto-increment id: ``dotsync migrate``
#: copies rows as they are.
attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("entity", sa.String(32), nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("operation", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("error_code", sa.Text),
    sa.Column("error_message", sa.Text),
    sa.Column("reference", sa.Text),
    # trace reads one record's attempts in time order; retention deletes by age.
    sa.Index("ix_attempts_entity_key_at", "entity", "key", "at"),
    sa.Index("ix_attempts_at", "at"),
)

#: One row per flow run: its outcome and report, for ``dotsync status`` and replays.
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("flow", sa.String(32), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String(16)),
    sa.Column("summary", sa.Text),
)

#: Contacts Dotdigital reports as suppressed or unsubscribed (consent read-back).
suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("email", sa.String(512), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("date_removed", sa.DateTime(timezone=True)),
    sa.Column("recorded_at", sa.DateTime(timezone=True)),
)

meta = sa.Table(
    "dotsync_meta",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text),
)


#: One row per staged record: the change stamp of its last insert or update, written
#: by triggers on the staging tables (see :mod:`dotsync.store.changes`), so a source
#: system writing them with plain SQL is seen as surely as ``dotsync load``.
#: ``deleted`` marks a record whose staged row is gone.
changes = sa.Table(
    "dotsync_changes",
    metadata,
    sa.Column("entity", sa.String(32), primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("stamp", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Index("ix_dotsync_changes_stamp", "entity", "stamp", "key"),
    sa.Index("ix_dotsync_changes_deleted", "entity", "deleted"),
)

#: SQLite's change clock: one row, bumped by the triggers (PostgreSQL stamps with the
#: writing transaction's id instead).
clock = sa.Table(
    "dotsync_clock",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("stamp", sa.BigInteger, nullable=False),
)

#: Per staged entity: every record stamped below ``mark`` was processed by a run that
#: finished its step (its outcome is in the ledger).
change_marks = sa.Table(
    "dotsync_change_marks",
    metadata,
    sa.Column("entity", sa.String(32), primary_key=True),
    sa.Column("mark", sa.BigInteger, nullable=False),
)

#: Windows over the change stamps that runs hold open (see :mod:`dotsync.store.changes`):
#: no mark moves past one while its run may still write outcomes.
change_readers = sa.Table(
    "dotsync_change_readers",
    metadata,
    sa.Column("reader_id", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(32), nullable=False),
    sa.Column("mark", sa.BigInteger, nullable=False),
    sa.Column("host", sa.Text),
    sa.Column("pid", sa.Integer),
    sa.Column("opened_at", sa.DateTime(timezone=True)),
)

#: Tables that describe the database they live in, not the store's content: a copy of
#: the store to another database (``dotsync migrate``) leaves them out.
LOCAL_TABLES: frozenset[str] = frozenset({
    "dotsync_changes", "dotsync_clock", "dotsync_change_marks", "dotsync_change_readers"})


# -- connectors' bookkeeping (``dotsync.sources.state`` explains each) --------------------

source_watermarks = sa.Table(
    "source_watermarks",
    metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(32), primary_key=True),
    sa.Column("watermark", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)

source_keys = sa.Table(
    "source_keys",
    metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(32), primary_key=True),
    sa.Column("platform_id", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, nullable=False),
)

source_refunds = sa.Table(
    "source_refunds",
    metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("refund_id", sa.Text, primary_key=True),
    sa.Column("order_ref", sa.Text, nullable=False),
    sa.Column("amount", sa.Text, nullable=False),
    sa.Index("ix_source_refunds_order", "source", "order_ref"),
)

source_shipments = sa.Table(
    "source_shipments",
    metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("shipment_id", sa.Text, primary_key=True),
    sa.Column("order_ref", sa.Text, nullable=False),
    sa.Column("qty", sa.Text, nullable=False),
    sa.Column("shipped_at", sa.Text, nullable=False),
    sa.Index("ix_source_shipments_order", "source", "order_ref"),
)
