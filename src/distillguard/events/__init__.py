"""The event-log interchange format in code: records, file schemas, readers and writers."""

from distillguard.events.records import (
    AccountRecord,
    Action,
    Endpoint,
    Label,
    LabelRecord,
    Message,
    RequestEvent,
    Verdict,
    Verification,
)
from distillguard.events.schema import ACCOUNT_SCHEMA, EVENT_SCHEMA, LABEL_SCHEMA, VERDICT_SCHEMA
from distillguard.events.writers import TableWriter, open_writer, write_table

__all__ = [
    "ACCOUNT_SCHEMA",
    "EVENT_SCHEMA",
    "LABEL_SCHEMA",
    "VERDICT_SCHEMA",
    "AccountRecord",
    "Action",
    "Endpoint",
    "Label",
    "LabelRecord",
    "Message",
    "RequestEvent",
    "TableWriter",
    "Verdict",
    "Verification",
    "open_writer",
    "write_table",
]
