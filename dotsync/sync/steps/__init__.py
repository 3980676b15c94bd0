"""The sync's steps, one per entity, over a shared run context.

* :mod:`.context` — :class:`~.context.RunContext`: store, ledger, client, report,
  options, and what the steps tell each other within a run;
* :mod:`.contacts` (with :mod:`.contact_send`, :mod:`.contact_import`,
  :mod:`.contact_settle`, :mod:`.erasures`), :mod:`.orders` (with :mod:`.order_send`),
  :mod:`.confirmations`, :mod:`.certificates` — one step per entity;
* :mod:`.bulk_import` — the bulk-import pipeline (chunk, submit, poll, settle) that
  contacts and orders share; :mod:`.exactly_once` — the claim-send-settle sender that
  confirmations and certificates share; :mod:`.send_cap` — the cap decided before
  any send;
* :mod:`.outcome`, :mod:`.items` — the one outcome type and the typed records;
* :mod:`.options` — a run's options and the defaults every entry point uses.
"""
