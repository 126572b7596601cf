"""The HTTP surfaces on one port, as route tables the service adds: `/healthz`, `/hooks` (handled by the receiver),
the `/v1` management API and the WebSocket feed. Handlers reach the components through `appkeys`."""
