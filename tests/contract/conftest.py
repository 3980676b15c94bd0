from tests.dotdigital.fakes import api, client, clock

__all__ = ["api", "client", "clock"]
