"""Option values given as text: lists of numbers, --location."""

from __future__ import annotations

from .errors import CLIError


def parse_floats(text: str, what: str) -> list[float]:
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise CLIError(f"{what}: expected comma-separated numbers, got {text!r}") from None
    if not vals:
        raise CLIError(f"{what}: expected comma-separated numbers, got {text!r}")
    return vals


def parse_location(text: str):
    if text == "max":
        return "max", "max"
    if text == "all":
        return None, "all"
    parts = text.split(",")
    try:
        h, w = (int(p) for p in parts)
    except ValueError:
        raise CLIError(f"--location: expected max, all or H,W (e.g. 3,4), got {text!r}") from None
    return (h, w), "at"
