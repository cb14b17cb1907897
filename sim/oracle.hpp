#pragma once
// Ground truth for the checker (docs/history.md, "Ground truth"): the simulator sees every
// removal of a character when it happens — from a server's replica, from the durable text, from
// a client's view — and what caused it (the write of which edit, a crash, a dropped document, a
// write the server refused). The world feeds an Oracle while it runs (RunOptions::oracle) and
// gets back, for every acknowledged character lost from the durable text, its true cause. Nothing
// here reads the history, and nothing here writes to it: a normal run's bytes do not change.
#include "server/core/strategy.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace convlab::sim {

// One lost acknowledged character and its true cause.
struct TruthChar {
  std::uint32_t doc = 0;
  CharId id;
  std::uint32_t author = 0;  // the client whose acknowledged edit inserted it
  std::uint32_t author_op = 0;
  std::string cause;          // clock_skew, concurrent, stale_base, crash, db_lost, unknown
  std::int64_t by_client = -1;  // the edit blamed, when one is
  std::uint32_t by_op = 0;
  std::string why;  // which rule decided, for people reading a disagreement
};

class Oracle {
 public:
  struct EditTag {
    std::uint32_t client = 0;
    std::uint32_t op = 0;
  };

  // A client made edit (client, op): the ids it inserted and deleted, and the edits it had shown
  // (author -> highest op).
  void edit(std::uint32_t client, std::uint32_t doc, std::uint32_t op, std::vector<CharId> inserted,
            const std::vector<CharId>& deleted, std::map<std::uint32_t, std::uint32_t> seen_ops);
  // A paragraph register write stamped (agent, counter) belongs to edit `tag`.
  void stamp(AgentId agent, std::uint64_t counter, EditTag tag);
  void acked(std::int64_t t_us, std::uint32_t client, std::uint32_t op);
  // Client `client` showed edit (author, op) of another client's (a `seen` line).
  void shown(std::uint32_t author, std::uint32_t op);
  // Client `tag.client` sent `msg` as `agent`, its newest edit being `tag.op`, while showing
  // `view` (ids in document order).
  void sent(std::int64_t t_us, AgentId agent, std::span<const std::uint8_t> msg, EditTag tag, std::vector<CharId> view);
  // A client's state was replaced by a load (a welcome or an API read) of the document as of
  // durable index `version`.
  // `api`: an API read (the durable text as of `version`, from the primary, a replica or a
  // CDN), whose state shows `ids` (sorted); else a server's welcome (ids not kept).
  void client_loaded(std::int64_t t_us, std::uint32_t client, std::uint64_t version, bool api = false,
                     std::vector<CharId> ids = {});

  // Server s's replica of `doc` now shows `ids` (in document order), after applying a client's
  // message.
  // `paragraphs`: the replica, when it is a paragraph-register one (for a refused write's holder).
  void server_edit(std::int64_t t_us, std::uint32_t s, std::uint32_t doc, std::vector<CharId> ids, AgentId agent,
                   std::span<const std::uint8_t> payload, const ServerReplica* replica);
  // ... after applying the committed record `index` of `doc`.
  void server_record(std::int64_t t_us, std::uint32_t s, std::uint32_t doc, std::vector<CharId> ids, std::uint64_t index);
  // ... after a load (ids), a crash or a drop (none): memory replaced, not a write.
  void server_memory(std::int64_t t_us, std::uint32_t s, std::uint32_t doc, std::vector<CharId> ids);
  // Server s asks the store to append records: they come from the last message it applied.
  void append_requested(std::uint32_t s, std::uint64_t request);
  // Record `index` of `doc` committed from server s's append `request`.
  void record_committed(std::uint32_t s, std::uint64_t request, std::uint32_t doc, std::uint64_t index);
  // The durable text of `doc` changed: by committed record `index`, or (snapshot_server) by a
  // snapshot of that server's memory.
  void durable(std::int64_t t_us, std::uint32_t doc, const std::vector<CharId>& added, const std::vector<CharId>& removed,
               std::optional<std::uint64_t> index, std::optional<std::uint32_t> snapshot_server);

  // Committed record `index` of `doc`, replayed in log order, had a register write refused: the
  // register kept the write stamped (holder_agent, holder_counter), and `ids` (sorted), which that
  // write carried, are not in the durable text after it. Kept as refusals at place -2 (the
  // durable order's), apart from the durable text's additions and removals.
  void durable_refused(std::int64_t t_us, std::uint32_t doc, std::uint64_t index, AgentId holder_agent,
                       std::uint64_t holder_counter, const std::vector<CharId>& ids);

  // The database lost `doc` (a db_lost fault): its durable text is now what the backups
  // restored, `removed` taken out of it (and `added` back: removed after the archive point).
  void database_lost(std::int64_t t_us, std::uint32_t doc, const std::vector<CharId>& added,
                     const std::vector<CharId>& removed);

  // Every acknowledged character absent from `final_durable[doc]` (sorted ids) that no edit
  // deleted on purpose, with its cause, in (doc, id) order.
  // REQUIRES: each document's final durable ids sorted.
  std::vector<TruthChar> finish(const std::vector<std::vector<CharId>>& final_durable) const;

 private:
  // CONVLAB_ORACLE_TRACE=DOC:AGENT:SEQ prints that character's events to stderr in finish(),
  // for people reading a disagreement (nothing else reads it; a run's output does not change).
  static std::optional<std::pair<std::uint32_t, CharId>> trace_from_env();
  std::optional<std::pair<std::uint32_t, CharId>> trace_ = trace_from_env();
  struct Msg {
    EditTag tag;
    std::int64_t t_us = 0;
    std::uint32_t epoch = 0;  // its author's welcomes before it was sent: which connection carried it
    // The ids its author showed, as sorted ranges of consecutive ids (an author's visible
    // characters are mostly consecutive by id though scattered in the text): a copy of every
    // view, id by id, was 20 GiB in a 20 s world of 12,000 characters and 12,500 edits.
    struct Range {
      CharId first;
      std::uint32_t count = 0;
    };
    std::vector<Range> view;
    bool shows(CharId id) const;
  };
  // A server's replica of a document: its ids in document order, and how many times each shows
  // (lookup only, never iterated). A change is found by trimming what the two orders share at
  // both ends and sorting only the middles.
  struct IdHash {
    std::size_t operator()(const CharId& id) const noexcept {
      return std::hash<std::uint64_t>{}((static_cast<std::uint64_t>(id.agent) << 32) ^ id.seq);
    }
  };
  struct ServerView {
    std::vector<CharId> order;
    std::unordered_map<CharId, std::uint32_t, IdHash> count;
  };
  struct Change {
    std::vector<CharId> added;
    std::vector<CharId> removed;
  };
  // What changed from v.order to `now` (both in document order); v becomes `now`.
  static Change advance(ServerView& v, std::vector<CharId> now);
  struct EditRec {
    std::uint32_t doc = 0;
    std::vector<CharId> inserted;
    std::map<std::uint32_t, std::uint32_t> seen_ops;
    bool acked = false;
    std::int64_t ack_us = 0;
    std::uint32_t epoch = 0;  // its author's welcomes before it was made
  };
  enum class How { kWrite, kMemory, kRefused, kSnapshot, kLost };
  // One change of one character's presence in one place (-1: the durable text; else a server).
  struct CharEv {
    std::int64_t t_us = 0;
    int place = -1;
    bool added = false;
    How how = How::kWrite;
    const Msg* by = nullptr;       // kWrite: the message whose applying removed it
    std::optional<EditTag> holder; // kRefused: the register's holder
    std::uint32_t server = 0;      // kSnapshot
    std::uint64_t index = 0;       // place -1, added: the durable index that put it there
  };
  struct Verdict {
    std::string cause;
    std::optional<EditTag> by;
    std::string why;
  };
  struct Load {
    std::int64_t t_us = 0;
    std::uint64_t version = 0;
    bool api = false;
    std::vector<CharId> ids;  // api: what it showed
  };

  const Msg* find_msg(AgentId agent, std::span<const std::uint8_t> msg) const;
  void record(std::int64_t t_us, int place, std::uint32_t doc, const Change& c, How how, const Msg* by,
              std::uint32_t server);
  bool saw(const EditTag& e, const EditTag& w) const;
  // Whether the applying of `w` left a trace anyone could see: its edit, or a later one its
  // author sent on the same connection (a server applies one connection's messages in order),
  // acknowledged, shown by another client, or its record committed. A write with none went with
  // the memory that applied it (a crash, a change that did not commit) before anyone saw its
  // effect.
  bool traced(const Msg* w) const;
  Verdict judge(const std::vector<CharEv>& evs, const CharEv& removal, CharId x, const EditTag& e, int depth) const;

  // (agent, payload size, payload hash) -> the message: keyed by a 64-bit hash, not the
  // payload's bytes (whole paragraphs under lww and seq, kept for every message sent).
  std::map<std::tuple<AgentId, std::size_t, std::size_t>, std::unique_ptr<Msg>> msgs_;
  std::vector<std::unique_ptr<Msg>> retired_;  // replaced in msgs_, still pointed at
  std::map<std::pair<std::uint32_t, std::uint32_t>, EditRec> edits_;  // (client, op)
  std::map<std::pair<AgentId, std::uint64_t>, EditTag> stamps_;
  std::map<std::uint32_t, std::vector<Load>> loads_;                    // client -> loads in time order
  std::map<std::pair<std::uint32_t, std::uint32_t>, ServerView> servers_;  // (server, doc) -> its replica
  std::map<std::uint32_t, const Msg*> last_applied_;                   // server -> last client message applied
  std::map<std::pair<std::uint32_t, std::uint64_t>, const Msg*> appends_;  // (server, request) -> message
  std::map<std::pair<std::uint32_t, std::uint64_t>, const Msg*> records_;  // (doc, index) -> message
  std::set<std::pair<std::uint32_t, std::uint32_t>> shown_;      // (author, op) some other client showed
  std::set<std::pair<std::uint32_t, std::uint32_t>> committed_;  // (client, op) of messages a record came from
  std::map<std::uint32_t, std::uint32_t> welcomes_;              // client -> welcomes so far
  mutable std::map<const Msg*, bool> traced_;                    // traced()'s answers
  // (server, doc) -> when its memory was replaced (a crash, a drop, a load), in time order.
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<std::int64_t>> memory_replaced_;
  struct DocIdHash {
    std::size_t operator()(const std::pair<std::uint32_t, CharId>& k) const noexcept {
      std::uint64_t h = (static_cast<std::uint64_t>(k.second.agent) << 32) ^ k.second.seq;
      h ^= static_cast<std::uint64_t>(k.first) * 0x9e3779b97f4a7c15ull;
      h ^= h >> 31;
      return static_cast<std::size_t>(h * 0xbf58476d1ce4e5b9ull);
    }
  };
  // (doc, id) -> its events. Hashed: found or added for every character a change touches
  // (a fifth of a long world's oracle time as a std::map); lookup only, never iterated.
  std::unordered_map<std::pair<std::uint32_t, CharId>, std::vector<CharEv>, DocIdHash> chars_;
  std::map<std::uint32_t, std::vector<CharId>> deleted_;  // doc -> ids some edit deleted on purpose
};

}  // namespace convlab::sim
