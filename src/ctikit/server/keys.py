"""Typed keys for what the application holds."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..config import Config
from ..connectors.webrtc import WebrtcConnector
from .addresses import TrustedProxies
from .auth import Authenticator
from .hub import Hub
from .service import CtiService

CONFIG = web.AppKey("config", Config)
SERVICE = web.AppKey("service", CtiService)
HUB = web.AppKey("hub", Hub)
SCENARIO = web.AppKey("scenario", asyncio.Task)
AUTH = web.AppKey("auth", Authenticator)
TRUSTED_PROXIES = web.AppKey("trusted_proxies", TrustedProxies)
#: The browser phones, when the connector is ``webrtc`` (docs/webrtc.md).
PHONES = web.AppKey("phones", WebrtcConnector)
