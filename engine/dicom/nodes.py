"""DICOM network nodes (PACS, modalities) as IT configures them.

A node is a setting ``dicom.nodes.NAME`` whose value is ``AET@host:port``:
the remote Application Entity title, its host name or address (an IPv6
address in brackets) and its TCP port.  NAME is what commands take (``main.py
echo NAME``).  AE titles follow PS3.5's AE value representation: 1 to 16
characters, no backslash and no control characters, not only spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import MammoDeskError

NODE_PREFIX = "dicom.nodes."
DEFAULT_AE_TITLE = "MAMMODESK"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")


@dataclass(frozen=True)
class Node:
    name: str
    ae_title: str
    host: str  # without brackets
    port: int

    def describe(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.name} ({self.ae_title}@{host}:{self.port})"


def check_ae_title(value: str, what: str) -> str:
    """The AE title as sent (trailing spaces removed); one line when it is not one."""
    title = value.rstrip(" ")
    if not title or len(title) > 16 or "\\" in title or any(
            ord(c) < 32 or ord(c) > 126 for c in title):
        raise MammoDeskError(f"{what} must be an AE title: 1 to 16 printable ASCII "
                             "characters without a backslash")
    return title


def is_node_key(key: str) -> bool:
    return key.startswith(NODE_PREFIX) and bool(_NAME.fullmatch(key[len(NODE_PREFIX):]))


def parse_node(name: str, value: str) -> Node:
    """``AET@host:port`` -> Node; one line naming the setting when it is malformed."""
    key = f"{NODE_PREFIX}{name}"
    aet, at, address = value.strip().rpartition("@")
    host, colon, port_text = address.rpartition(":")
    if not (at and colon and _HOST.fullmatch(host) and port_text.isascii()
            and port_text.isdigit() and 0 < int(port_text) < 65536):
        raise MammoDeskError(f"{key} must be AET@host:port, e.g. PACS@pacs.hospital:104")
    return Node(name, check_ae_title(aet, f"the AE title of {key}"), host.strip("[]"),
                int(port_text))


def configured_nodes(settings: dict[str, str]) -> dict[str, Node]:
    """Every node the settings define, by name."""
    return {key[len(NODE_PREFIX):]: parse_node(key[len(NODE_PREFIX):], value)
            for key, value in sorted(settings.items()) if is_node_key(key) and value}


def find_node(settings: dict[str, str], name: str) -> Node:
    nodes = configured_nodes(settings)
    if name not in nodes:
        known = ", ".join(nodes) or "none yet"
        raise MammoDeskError(f"no DICOM node named {name!r} (known: {known}); define one with "
                             f"`config set {NODE_PREFIX}{name} AET@host:port`")
    return nodes[name]
