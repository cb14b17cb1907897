#!/usr/bin/env python3
"""The soak's outside audit (scripts/soak.sh): what convlab-load saw acknowledged against what
PostgreSQL's `changes` table holds, without convlab's checker.

  soak_audit.py HISTORY RECORDS EVENTS NODES PG_LOG SQL_IDENTICAL SQL_GAPS REPLAY_RC > summary.json

HISTORY  convlab-load's --history file (docs/history.md): its `edit`, `ack` and `overruled`
         lines, the `final` texts of the clients and of a server's API (`durable`), the
         `commit` lines' t (only to place the kills on its clock).
RECORDS  convlab-log-replay's output: each row of `changes` (doc, seq, node, author, client_ms,
         server_ms) with its record decoded to JSON, then each document's text replayed from
         the whole log.
EVENTS   the schedule as run: wall_ms, kind (kill|pg|cut), target, down_ms — one a line.
NODES    the servers and their home policy, NODES:fixed or NODES:lease (fixed: an ot/seq
         document's home is doc % NODES; lease: any server may hold any document's lease).
PG_LOG   PostgreSQL's log: a kill that caught a transaction open (a group commit under way) shows
         as "unexpected EOF on client connection with an open transaction" within a second.
SQL_IDENTICAL, SQL_GAPS  what soak.sh's SQL found: rows repeating another row of the same
         author and document byte for byte, documents whose log does not run 1..log_length.
REPLAY_RC  convlab-log-replay's exit: not 0 when the log does not decode or apply.

Every acknowledged edit that inserted characters must be in the log exactly once (but for an lww
write acknowledged with a correction, an `overruled` line before the run's `commit` lines: the
register kept a write with a later stamp and nothing of the losing one is logged, by design): a row whose
`author` is the edit's agent (the agent of the ids it gave its characters) carries each of them,
with the same character; no character id, CRDT deletion or paragraph write stamp is carried by
two rows (a resubmit after a lost acknowledgement would be). An acknowledged deletion (ot, crdt)
must have taken its characters out of the replayed text. Every client's final text must equal
the log's replay, and so must the text a server's API served at the end. Exit 1 when any of
that fails.
"""
import datetime
import json
import sys
from collections import defaultdict


def expand(runs):
    for agent, seq, count in runs:
        for i in range(count):
            yield (agent, seq + i)


def carried(rec):
    """(id -> character) a record carries, and the keys that name what it does exactly once."""
    chars, keys = {}, []
    t = rec.get("type")
    if "writes" in rec:  # lww, seq: paragraph register writes
        for w in rec["writes"]:
            for ch, cid in zip(w["text"], expand(w["ids"])):
                chars[cid] = ch
            if w.get("exists"):
                chars[tuple(w["term"])] = "\n"
            s = w["stamp"]
            keys.append(("write", s["agent"], s["counter"]))
    elif isinstance(rec.get("op"), dict):  # crdt
        op = rec["op"]
        if op["type"] == "insert":
            a, s = op["id"]
            for i, ch in enumerate(op["text"]):
                chars[(a, s + i)] = ch
            keys.append(("insert", a, s))
        else:
            keys.append(("delete", rec.get("from"), json.dumps(op["ranges"])))
    elif isinstance(rec.get("op"), list):  # ot
        text = "".join(c for c in rec["op"] if isinstance(c, str))
        for ch, cid in zip(text, expand(rec["ids"])):
            chars[cid] = ch
            keys.append(("char",) + cid)
    else:
        raise SystemExit(f"soak_audit: a record of unknown shape (type {t!r})")
    return chars, keys


def main():
    if len(sys.argv) != 9:
        raise SystemExit(__doc__)
    history, records_path, events_path = sys.argv[1], sys.argv[2], sys.argv[3]
    nodes_arg, _, home = sys.argv[4].partition(":")
    nodes, home = int(nodes_arg), home or "fixed"
    if home not in ("fixed", "lease"):
        sys.exit(f"soak_audit.py: NODES: home policy must be fixed or lease, got {home!r}")
    open_tx_ms = []  # when PostgreSQL lost a client in the middle of a transaction
    with open(sys.argv[5], encoding="utf-8", errors="replace") as f:
        for line in f:
            if "with an open transaction" in line:
                stamp = " ".join(line.split()[:2])  # log_line_prefix '%m ': 2026-12-06 20:45:01.123
                t = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
                open_tx_ms.append(t.timestamp() * 1000)

    edits, acks, finals, commits, overruled = {}, {}, defaultdict(dict), [], set()
    deleted_later = defaultdict(set)  # client -> ids it deleted itself
    strategy = "?"
    with open(history, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            e = json.loads(line)
            ty = e["type"]
            if ty == "meta":
                strategy = e["meta"].get("strategy", "?")
            elif ty == "edit":
                edits[(e["client"], e["op"])] = e
                deleted_later[e["client"]].update(expand(e["deleted"]))
            elif ty == "ack":
                acks.setdefault((e["client"], e["op"]), e)
            elif ty == "final" and (e["replica"].startswith("client:") or e["replica"] == "durable"):
                # The clients' texts, and what a server's GET /api/documents/{id} answered.
                finals[e["doc"]][e["replica"]] = e["text"]
            elif ty == "commit":
                commits.append(e)
            elif ty == "overruled" and not commits:
                # Answered with a correction (lww): the register kept another write, and the
                # server logged nothing for this one. Those after the first commit line are
                # the log's own refusals, of writes it holds.
                overruled.add((e["client"], e["op"]))

    # The log, in order: the first row (by seq) of the character's own author carrying it.
    first_carrier = {}  # (doc, id) -> (seq, author, char)
    key_rows = defaultdict(list)  # (doc, key) -> seqs
    replay, final_ids, server_ms = {}, {}, {}
    rows = 0
    with open(records_path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if "final" in r:
                replay[r["doc"]] = r["final"]
                final_ids[r["doc"]] = set(expand(r["ids"]))
                continue
            rows += 1
            server_ms[(r["doc"], r["seq"])] = r["server_ms"]
            chars, keys = carried(r["record"])
            for cid, ch in chars.items():
                if cid[0] == r["author"] and (r["doc"], cid) not in first_carrier:
                    first_carrier[(r["doc"], cid)] = (r["seq"], r["author"], ch)
            for k in keys:
                key_rows[(r["doc"], k)].append(r["seq"])

    missing, wrong_bytes, deletions_undone, checked_inserts, checked_deletes, unchecked = [], [], [], 0, 0, 0
    refused = 0
    for (client, op), a in sorted(acks.items()):
        e = edits.get((client, op))
        if e is None:
            raise SystemExit(f"soak_audit: {history}: ack of client {client} op {op} without its edit")
        doc = e["doc"]
        ids = list(expand(e["inserted"]))
        if ids:
            checked_inserts += 1
            for cid, ch in zip(ids, e["ins"]):
                if cid in deleted_later[client]:
                    continue  # its author took it back (possibly before the message went out)
                got = first_carrier.get((doc, cid))
                if got is None and (client, op) in overruled:
                    refused += 1
                    break
                if got is None:
                    missing.append({"client": client, "op": op, "doc": doc, "id": list(cid), "ins": e["ins"]})
                    break
                if got[2] != ch:
                    wrong_bytes.append({"client": client, "op": op, "doc": doc, "id": list(cid), "want": ch, "row": got[0], "got": got[2]})
                    break
        elif strategy in ("ot", "crdt") and e["deleted"]:
            checked_deletes += 1
            back = [list(c) for c in expand(e["deleted"]) if c in final_ids.get(doc, set())]
            if back:
                deletions_undone.append({"client": client, "op": op, "doc": doc, "ids": back[:5]})
        else:
            unchecked += 1  # a paragraph strategy's deletion: later writes may bring text back by design

    duplicates = [{"doc": d, "key": list(k), "seqs": s} for (d, k), s in sorted(key_rows.items(), key=str) if len(s) > 1]

    diverged = []
    docs = sorted(set(finals) | set(replay))
    for d in docs:
        for replica, text in sorted(finals.get(d, {}).items()):
            if text != replay.get(d):
                diverged.append({"doc": d, "replica": replica, "replica_len": len(text), "log_len": len(replay.get(d) or "")})
    converged = not diverged and all(finals.get(d) for d in replay)

    # Unavailability after each kill: from the kill to the first acknowledgement of an edit made
    # after it, per document (every document: an ot/seq document homed on the killed server
    # waits for its restart; the others only for their clients' reconnections).
    start_wall_ms = None
    for c in commits:
        if c["t"] > 0 and (c["doc"], c["index"]) in server_ms:
            start_wall_ms = server_ms[(c["doc"], c["index"])] - c["t"] // 1000
            break
    ack_times = defaultdict(list)  # doc -> (edit t, ack t)
    for (client, op), a in acks.items():
        e = edits[(client, op)]
        ack_times[e["doc"]].append((e["t"], a["t"]))
    kills, pg_stops, cuts, unavailable, mid_tx = 0, 0, 0, [], 0
    with open(events_path, encoding="utf-8") as f:
        for line in f:
            wall_ms, kind, target, _down = line.split()
            kills += kind == "kill"
            pg_stops += kind == "pg"
            cuts += kind == "cut"
            if kind == "kill":
                mid_tx += any(0 <= t - int(wall_ms) < 1000 for t in open_tx_ms)
            if kind != "kill" or start_wall_ms is None:
                continue
            t_us = (int(wall_ms) - start_wall_ms) * 1000
            # Under leases any document may have been homed on the killed server: each counts.
            homed = [d for d in docs if home == "lease" or d % nodes == int(target)]
            worst = 0
            for d in homed:
                after = [at for et, at in ack_times[d] if et >= t_us]
                if after:
                    worst = max(worst, (min(after) - t_us) / 1000)
            unavailable.append(round(worst))

    def pct(v, p):
        if not v:
            return 0
        s = sorted(v)
        return s[min(len(s) - 1, max(0, -(-p * len(s) // 100) - 1))]

    summary = {
        "strategy": strategy,
        "home": home,
        "kills": kills,
        "pg_stops": pg_stops,
        "cuts": cuts,
        "kills_mid_transaction": mid_tx,
        "log_rows": rows,
        "acked_edits": len(acks),
        "acked_inserts_checked": checked_inserts,
        "acked_deletions_checked": checked_deletes,
        "acked_unchecked": unchecked,
        "acked_overruled_not_logged": refused,
        "sql_identical_rows": int(sys.argv[6]),
        "sql_log_gaps": int(sys.argv[7]),
        "log_replays": sys.argv[8] == "0",
        "missing": len(missing),
        "wrong_bytes": len(wrong_bytes),
        "duplicates": len(duplicates),
        "deletions_undone": len(deletions_undone),
        "converged": converged,
        "unavailable_ms_after_kill": {"p50": pct(unavailable, 50), "p99": pct(unavailable, 99),
                                      "max": max(unavailable, default=0), "n": len(unavailable), "each": unavailable},
        "examples": {"missing": missing[:5], "wrong_bytes": wrong_bytes[:5], "duplicates": duplicates[:5],
                     "deletions_undone": deletions_undone[:5], "diverged": diverged[:5]},
    }
    json.dump(summary, sys.stdout, indent=1)
    sys.stdout.write("\n")
    bad = (missing or wrong_bytes or duplicates or deletions_undone or not converged or not acks
           or int(sys.argv[6]) or int(sys.argv[7]) or sys.argv[8] != "0")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
