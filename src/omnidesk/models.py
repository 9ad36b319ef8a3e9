"""Imports every model module so that ``Base.metadata`` knows all tables (for Alembic and tests).

It lives at the top of the package, not in ``core/``: core imports no slice (see docs/architecture.md)."""

from omnidesk.accounts import models as accounts_models
from omnidesk.accounts import tenant_secrets as tenant_secrets_models
from omnidesk.analytics import models as analytics_models
from omnidesk.bot import models as bot_models
from omnidesk.channels import models as channels_models
from omnidesk.channels.email import models as email_models
from omnidesk.channels.providers import models as provider_channels_models
from omnidesk.channels.widget import models as widget_models
from omnidesk.compliance import models as compliance_models
from omnidesk.conversations import models as conversations_models
from omnidesk.core.db import Base
from omnidesk.customers import models as customers_models
from omnidesk.jobs import models as jobs_models
from omnidesk.knowledge import models as knowledge_models
from omnidesk.quality import models as quality_models
from omnidesk.routing import models as routing_models
from omnidesk.tickets import models as tickets_models
from omnidesk.webhooks import models as webhooks_models
from omnidesk.wfm import models as wfm_models

__all__ = [
    "Base",
    "accounts_models",
    "analytics_models",
    "bot_models",
    "channels_models",
    "compliance_models",
    "conversations_models",
    "customers_models",
    "email_models",
    "jobs_models",
    "knowledge_models",
    "provider_channels_models",
    "quality_models",
    "routing_models",
    "tenant_secrets_models",
    "tickets_models",
    "webhooks_models",
    "wfm_models",
    "widget_models",
]
