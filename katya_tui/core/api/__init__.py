"""The HTTP surfaces on one port: `/healthz`, the `/v1` management API; `/hooks` lives in the receiver."""
