#!/usr/bin/env python3
"""Per-edit figures from a callgrind dump of convlab-server (CALLGRIND=DIR bench/server/run.sh).

    bench/server/cg_per_edit.py DIR/callgrind.out.PID.1

Divides by the edits the server handled inside the dump (calls of Node::handle_edit), not by the
load client's steady acks: a server that lags handles fewer edits in the window than were sent.
Prints total instructions per edit and, for each function below, its calls and inclusive
instructions per edit (callgrind's compressed names resolved; calls summed over every caller).
"""
import re
import sys

FUNCTIONS = [
    r"^operator new\(",
    r"^convlab::Node::handle_edit\(",
    r"^convlab::Node::deliver_local\(",
    r"^convlab::net::NodeSlot::send\(",
    r"^convlab::append_frame\(std::vector<unsigned char, std::allocator<unsigned char> >&, convlab::Frame const&\)",
    r"^convlab::net::WsSession::do_write\(",
    r"^convlab::net::WsSession::on_write\(",
    r"^convlab::net::App::flush_sessions\(",
    r"^convlab::net::WsSession::on_read\(",
    r"^convlab::net::App::drain_inbox\(",
    r"^convlab::ot::check\(",
    r"^convlab::ot::transform\(",
]


def main(path: str) -> int:
    names: dict[str, str] = {}

    def name_of(token: str) -> str:
        m = re.match(r"\((\d+)\)(?:\s+(.*))?", token)
        if not m:
            return token
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), "?")

    calls = {f: 0 for f in FUNCTIONS}
    inclusive = {f: 0 for f in FUNCTIONS}
    total = None
    callee = ""
    pending = None
    with open(path, encoding="utf-8", errors="replace") as dump:
        for line in dump:
            if line.startswith("fn="):
                name_of(line[3:].strip())
            elif line.startswith("cfn="):
                callee = name_of(line[4:].strip())
            elif line.startswith("calls="):
                pending = int(line[6:].split()[0])
            elif line.startswith(("summary:", "totals:")) and total is None:
                total = int(line.split()[1])
            elif pending is not None:
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                for f in FUNCTIONS:
                    if re.search(f, callee):
                        calls[f] += pending
                        inclusive[f] += cost
                pending = None
    edits = calls[FUNCTIONS[1]]
    if not edits or total is None:
        print(f"{path}: no Node::handle_edit calls or no totals in the dump", file=sys.stderr)
        return 1
    print(f"{path}: {total} instructions, {edits} edits handled, {total / edits:.0f} instructions per edit")
    for f in FUNCTIONS:
        per_call = inclusive[f] / calls[f] if calls[f] else 0
        print(f"  {f[1:]}: {calls[f] / edits:.2f} calls per edit, {inclusive[f] / edits:.0f} inclusive per edit,"
              f" {per_call:.0f} per call")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
