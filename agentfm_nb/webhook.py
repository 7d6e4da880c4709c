"""The SDK's ``agentfm.webhook`` module under our name (``import agentfm_nb.webhook``)."""

from agentfm_nb.client.webhook import (
    DEFAULT_MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    WebhookCallback,
    WebhookPayload,
    WebhookReceiver,
)

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "SIGNATURE_HEADER",
    "WebhookCallback",
    "WebhookPayload",
    "WebhookReceiver",
]
