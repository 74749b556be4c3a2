"""asyncio under the sans-I/O core: sockets, one timer, and a request/response API."""

from endpoint.aio.stack import SipStack

__all__ = ["SipStack"]
