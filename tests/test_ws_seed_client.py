"""Seed 002's own Python client, copied as the seed gives it (comments translated), against katya-tui's feed."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import websockets
from ws_support import TOKEN, make_settings, running, wait_for

# ---- seed 002, "Python клиент" (verbatim but for the translated comments and type hints) -------------------------


class KatyaWebSocketClient:
    def __init__(
        self,
        url: str = "wss://api.katya.wtf/v1/ws",
        token: str = None,
        channels: list[str] = None,
        events: list[str] = None,
    ):
        self.url = url
        self.token = token
        self.channels = channels or []
        self.events = events or []
        self.websocket = None
        self.event_handlers = {}
        self.is_connected = False

    async def connect(self):
        """Connect to the WebSocket"""
        try:
            uri = self.url
            if self.token:
                uri += f"?token={self.token}"

            self.websocket = await websockets.connect(uri)
            self.is_connected = True
            logging.info("Connected to Katya WebSocket")

            # Subscribe to channels and events
            if self.channels:
                await self.subscribe(self.channels)

            if self.events:
                await self.subscribe_to_events(self.events)

            # Process messages
            await self.handle_messages()

        except Exception as e:
            logging.error(f"Failed to connect to WebSocket: {e}")
            self.is_connected = False

    async def handle_messages(self):
        """Process incoming messages"""
        async for message in self.websocket:
            try:
                data = json.loads(message)
                await self.process_message(data)
            except json.JSONDecodeError as e:
                logging.error(f"Failed to parse message: {e}")
            except Exception as e:
                logging.error(f"Error processing message: {e}")

    async def process_message(self, message: dict[str, Any]):
        """Handle a message according to its type"""
        message_type = message.get("type")

        if message_type == "event":
            await self.handle_event(message)
        elif message_type == "ping":
            await self.send({"type": "pong"})
        elif message_type == "response":
            await self.handle_response(message)
        elif message_type == "error":
            logging.error(f"WebSocket error: {message.get('data')}")
            await self.emit("error", message.get("data"))

    async def handle_event(self, message: dict[str, Any]):
        """Handle an event"""
        event = message.get("event")
        data = message.get("data")

        await self.emit("event", message)
        await self.emit(event, data)

    async def handle_response(self, message: dict[str, Any]):
        """Handle a response"""
        await self.emit("response", message)

    async def send(self, data: dict[str, Any]):
        """Send a message"""
        if self.websocket and self.is_connected:
            await self.websocket.send(json.dumps(data))

    async def subscribe(self, channels: list[str]):
        """Subscribe to channels"""
        await self.send({"type": "subscribe", "channels": channels})

    async def unsubscribe(self, channels: list[str]):
        """Unsubscribe from channels"""
        await self.send({"type": "unsubscribe", "channels": channels})

    async def subscribe_to_events(self, events: list[str]):
        """Subscribe to events"""
        await self.send({"type": "subscribe", "events": events})

    def on(self, event: str, handler: Callable):
        """Register an event handler"""
        if event not in self.event_handlers:
            self.event_handlers[event] = []
        self.event_handlers[event].append(handler)

    async def emit(self, event: str, data: Any = None):
        """Call the event's handlers"""
        if event in self.event_handlers:
            for handler in self.event_handlers[event]:
                try:
                    if asyncio.iscoroutinefunction(handler):
                        await handler(data)
                    else:
                        handler(data)
                except Exception as e:
                    logging.error(f"Error in event handler for {event}: {e}")

    async def close(self):
        """Close the connection"""
        self.is_connected = False
        if self.websocket:
            await self.websocket.close()


# ---- the tests -----------------------------------------------------------------------------------------------------


async def test_the_seed_example_connects_subscribes_and_receives(data_dir):
    async with running(make_settings(data_dir)) as service:
        # the seed's own example, pointed at katya-tui; `alerts` and `metrics` are not channels (error 4005)
        client = KatyaWebSocketClient(
            url=service.ws_url,
            token=TOKEN,
            channels=["messages", "alerts", "metrics"],
            events=["message.created", "security.alert.created"],
        )
        errors, responses, alerts, messages = [], [], [], []
        client.on("error", errors.append)
        client.on("response", responses.append)
        client.on("security.alert.created", alerts.append)

        async def on_message_created(message):
            messages.append(message)

        client.on("message.created", on_message_created)
        task = asyncio.create_task(client.connect())
        await wait_for(lambda: errors and responses)
        assert errors[0]["code"] == "4005" and "alerts, metrics" in errors[0]["message"]
        assert responses[0]["data"]["events"] == ["message.created", "security.alert.created"]

        service.publish_event("message.created", {"content": "Hello, world!"}, source="test")
        service.publish_event("security.alert.created", {"severity": "high"}, source="test")
        service.publish_event("room.created", {}, source="test")
        await wait_for(lambda: messages and alerts)
        assert messages == [{"content": "Hello, world!"}] and alerts == [{"severity": "high"}]
        await client.close()
        await task
        assert not client.is_connected


async def test_the_seed_client_answers_server_pings_and_stays(data_dir):
    async with running(make_settings(data_dir, ws_ping_interval=0.05)) as service:
        client = KatyaWebSocketClient(url=service.ws_url, token=TOKEN, channels=["system"])
        task = asyncio.create_task(client.connect())
        await wait_for(lambda: service.feed.pings >= 6)
        assert service.feed.client_count == 1 and service.feed.dropped_silent == 0
        got = []
        client.on("system.status.changed", got.append)
        service.publish_event("system.status.changed", {"status": "ok"}, source="test")
        await wait_for(lambda: got)
        await client.close()
        await task
