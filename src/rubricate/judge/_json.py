"""Incremental JSON scanning for replies that stream or get cut off."""

from __future__ import annotations

__all__ = ["JsonEnd"]


class JsonEnd:
    """Finds where the first top-level JSON object of a byte stream closes."""

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = False
        self.escaped = False

    def feed(self, data: bytes) -> bool:
        for byte in data:
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif byte == 0x5C:
                    self.escaped = True
                elif byte == 0x22:
                    self.in_string = False
            elif byte == 0x22 and self.depth:  # quotes in prose before the object are not JSON
                self.in_string = True
            elif byte == 0x7B:
                self.depth += 1
            elif byte == 0x7D and self.depth:
                self.depth -= 1
                if self.depth == 0:
                    return True
        return False
