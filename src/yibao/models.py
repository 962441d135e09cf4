"""Every mapped class, imported once so that ``Base.metadata`` knows all tables."""

# The station-work slices register their tables by being imported.
import yibao.attachments.models
import yibao.audit.witness_models
import yibao.disputes.models
import yibao.filings.models
import yibao.inspections.models
import yibao.leads.models
import yibao.questionnaires.models
import yibao.ratings.models
import yibao.throttle.models  # noqa: F401
from yibao.accounts.models import User, WebSession
from yibao.audit.models import AuditRecord
from yibao.calendar.models import CalendarDay, CalendarYear
from yibao.cases.models import Case, CaseEvent, IdempotencyRecord
from yibao.catalog.models import Material, Service
from yibao.db import Base
from yibao.field.models import FieldDevice, FieldQueue, FieldReceipt, FieldState
from yibao.stations.models import Agency, Station, Town
from yibao.transfers.models import OutboxMessage, SeenNonce, Transfer, TransferMessage
from yibao.visits.models import Village, Visit, VisitEvent

__all__ = [
    "Agency",
    "AuditRecord",
    "Base",
    "CalendarDay",
    "CalendarYear",
    "Case",
    "CaseEvent",
    "FieldDevice",
    "FieldQueue",
    "FieldReceipt",
    "FieldState",
    "IdempotencyRecord",
    "Material",
    "OutboxMessage",
    "SeenNonce",
    "Service",
    "Station",
    "Town",
    "Transfer",
    "TransferMessage",
    "User",
    "Village",
    "Visit",
    "VisitEvent",
    "WebSession",
]
