"""``python -m core models``: every known model and whether it can be used here, one line each
(``--json``: with everything its record says: display name, colour, labels, preprocessing,
capabilities, provenance)."""
from __future__ import annotations

import json


def run(args) -> int:
    from core.models import registry

    status = registry.known()
    if args.ready:
        print(" ".join(name for name, s in status.items() if s.ready))
        return 0
    if args.json:
        print(json.dumps([{**registry.describe(name).to_dict(), "name": name, "ready": s.ready,
                           "status": "ready" if s.ready else "unavailable", "reason": s.reason or None,
                           "location": s.location or None}
                          for name, s in status.items()], indent=2))
        return 0
    width = max(len(name) for name in status)
    for name, s in status.items():
        print(f"{name:<{width}}  " + (f"ready  {s.location}" if s.ready else f"unavailable: {s.reason}"))
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("models", help="list every known model and whether it is ready here",
                              description="One line per known model: ready (and where), or unavailable and why.")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.add_argument("--ready", action="store_true", help="print only the names of the ready models, on one line "
                                                           "(for scripts such as make evaluate-all)")
    p.set_defaults(func=run)
