"""The models of the `zhoukou_grid` app, defined in its two rooms: the territory tree,
network and roles (`territory.models`) and the framework's records (`core.models`).
Django loads an app's models from this module; code imports them from their rooms."""

from zhoukou_grid.core.models import AuditLog, ImportJob, LoginSession, Notification, Webhook, WebhookDelivery
from zhoukou_grid.territory.models import (
           County,
           Grid,
           LVLine,
           Role,
           RoleAssignment,
           Station,
           Transformer,
           UserProfile,
           Village,
)

__all__ = ["AuditLog", "County", "Grid", "ImportJob", "LVLine", "LoginSession", "Notification", "Role",
           "RoleAssignment", "Station", "Transformer", "UserProfile", "Village", "Webhook", "WebhookDelivery"]
