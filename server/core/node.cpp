// The node's front: construction and timers, connections (connect, the rate limit at the door,
// disconnect), client frames and their dispatch, edits (applied at the home or forwarded to it),
// messages from other nodes, dropping a document (reset_doc, refuse_doc), and the observers for
// checkers and tests. The rest of Node is in node_outbox.cpp (what goes to a connection, in
// order, and the limits' refusals), node_store.cpp (store replies, committed records, catch-up,
// snapshots) and node_api.cpp (API reads, titles, revocation).
#include "server/core/node.hpp"

#include "server/core/assert.hpp"

#include <algorithm>

namespace convlab {

namespace {
// Timer ids: the periodic timers of a node.
constexpr std::uint64_t kPollTimer = 1;
constexpr std::uint64_t kSnapshotTimer = 2;
constexpr std::uint64_t kAntiEntropyTimer = 3;
constexpr std::uint64_t kLeaseTimer = 4;
}  // namespace

Node::Node(NodeConfig config, const Strategy& strategy, NodeIo& io)
    : config_(config), strategy_(strategy), io_(io) {
  CONVLAB_ASSERT(config_.nodes >= 1 && config_.id < config_.nodes);
  CONVLAB_ASSERT(config_.poll_interval_ms > 0 && config_.snapshot_interval_ms > 0);
  CONVLAB_ASSERT(config_.loading_frames_max > 0 && config_.loading_forwards_max > 0 && config_.pending_remote_max > 0);
  CONVLAB_ASSERT(config_.hello_waiting_max > 0 && config_.held_frames_max > 0);
  CONVLAB_ASSERT(config_.outbox_items_max > 0 && config_.forwards_max > 0 && config_.appends_max > 0);
  CONVLAB_ASSERT(config_.snapshot_writes_max > 0 && config_.http_reads_max > 0);
  CONVLAB_ASSERT(config_.home == NodeConfig::Home::kFixed || config_.lease_ms >= 4);
}

void Node::start() {
  if (config_.propagation == NodeConfig::Propagation::kPoll && config_.nodes > 1) {
    io_.start_timer(config_.poll_interval_ms, kPollTimer);
  }
  if (config_.persistence == NodeConfig::Persistence::kSnapshot) {
    io_.start_timer(config_.snapshot_interval_ms, kSnapshotTimer);
  }
  if (config_.propagation == NodeConfig::Propagation::kBus && config_.nodes > 1 && config_.anti_entropy_ms > 0 &&
      bus_versioned()) {
    io_.start_timer(config_.anti_entropy_ms, kAntiEntropyTimer);
  }
  if (leased()) {
    ask_leases();
    io_.start_timer(config_.lease_ms / 4, kLeaseTimer);
  }
}

bool Node::leased() const {
  return config_.home == NodeConfig::Home::kLease && !strategy_.multi_master && config_.nodes > 1;
}

bool Node::is_home(std::uint32_t doc) const {
  if (strategy_.multi_master) return true;
  if (!leased()) return doc % config_.nodes == config_.id;
  auto it = docs_.find(doc);
  return it != docs_.end() && it->second.lease && it->second.lease->holder == config_.id;
}

std::optional<NodeId> Node::home_of(std::uint32_t doc) const {
  if (strategy_.multi_master) return config_.id;
  if (!leased()) return doc % config_.nodes;
  if (auto it = docs_.find(doc); it != docs_.end() && it->second.lease) return it->second.lease->holder;
  return homes_.home(doc);
}

void Node::ask_leases() {
  if (lease_request_ != 0) {
    lease_again_ = true;
    return;
  }
  StoreRequest req;
  req.kind = StoreRequest::Kind::kLease;
  req.id = next_request_++;
  req.node = config_.id;
  req.lease_ms = config_.lease_ms;
  for (const auto& [doc, d] : docs_) req.lease_docs.push_back(doc);
  req.purpose = "lease";
  lease_request_ = req.id;
  io_.store(std::move(req));
}

void Node::on_leases(const StoreReply& reply) {
  lease_request_ = 0;
  if (reply.ok) {
    homes_.update(reply.leases);
    std::vector<std::uint32_t> docs;
    for (const auto& [doc, d] : docs_) docs.push_back(doc);
    for (std::uint32_t doc : docs) {
      auto it = docs_.find(doc);
      if (it == docs_.end()) continue;  // dropped by an earlier reset
      Doc& d = it->second;
      const std::optional<DocLease> now = homes_.lease(doc);
      if (d.awaiting_lease) {
        if (!homes_.home(doc)) continue;  // not named yet, or not live: claimed by the next request
        d.awaiting_lease = false;
        d.lease = now;
        request_load(doc);
      } else if (now && d.lease && (now->holder != d.lease->holder || now->epoch != d.lease->epoch)) {
        // The document's home moved (its holder stopped renewing and a live node claimed it, or
        // this node's own lease lapsed): what this replica assumed about the log may be wrong.
        reset_doc(doc, "the document's home moved to node " + std::to_string(now->holder));
      }
    }
  }
  if (lease_again_) {
    lease_again_ = false;
    ask_leases();
  }
}

Node::Doc& Node::doc_state(std::uint32_t doc) {
  auto [it, inserted] = docs_.try_emplace(doc);
  if (inserted) begin_load(doc);
  return it->second;
}

void Node::on_connect(ConnId conn, AgentId agent, Token token) {
  CONVLAB_ASSERT(!conns_.contains(conn));
  conns_[conn].agent = agent;
  conns_[conn].token = token;
  if (token.expires_ms <= io_.now_ms()) {
    conns_.erase(conn);
    return io_.close(conn, "token expired");
  }
  if (config_.check_revocation && revoked(token.user)) {
    conns_.erase(conn);
    return io_.close(conn, "token revoked");
  }
}

bool Node::admit(ConnId conn, std::span<const std::uint8_t> bytes) {
  if (config_.rate_limit_per_s <= 0) return true;
  auto c = conns_.find(conn);
  if (c == conns_.end() || bytes.empty() || bytes[0] != static_cast<std::uint8_t>(FrameKind::kEdit)) return true;
  const std::int64_t now = io_.now_ms();
  auto [it, fresh] = buckets_.try_emplace(c->second.token.user);
  Bucket& b = it->second;
  const double burst = static_cast<double>(config_.rate_burst);
  if (fresh) {
    b.tokens = burst;
    b.last_ms = now;
  }
  // A clock that jumped back refills nothing (and never drains).
  const std::int64_t elapsed_ms = std::max<std::int64_t>(0, now - b.last_ms);
  b.last_ms = std::max(b.last_ms, now);
  b.tokens = std::min(burst, b.tokens + static_cast<double>(elapsed_ms) * config_.rate_limit_per_s / 1000.0);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  auto frame = decode_frame(bytes);
  refuse(conn, frame ? frame->doc : 0, "rate limited: edit not applied");
  return false;
}

void Node::on_disconnect(ConnId conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  for (std::uint32_t doc : it->second.docs) {
    if (auto d = docs_.find(doc); d != docs_.end()) d->second.conns.erase(conn);
  }
  conns_.erase(it);
  awareness_closed(conn);
}

void Node::refuse(ConnId conn, std::uint32_t doc, std::string why) {
  io_.send(conn, Frame{FrameKind::kRefused, doc, {}, std::move(why)});
}

void Node::on_frame(ConnId conn, std::span<const std::uint8_t> bytes) {
  const CloseOverloaded closing{*this};
  auto c = conns_.find(conn);
  if (c == conns_.end()) return;  // closed meanwhile
  if (c->second.overloaded) return;  // closing
  auto frame = decode_frame_view(bytes);
  if (!frame) return refuse(conn, 0, "bad frame: " + frame.error().message);
  if (config_.check_revocation && revoked(c->second.token.user)) {
    on_disconnect(conn);
    return io_.close(conn, "token revoked");
  }
  const std::uint32_t doc = frame->doc;
  // Presence is relayed among the document's viewers here, and never loads a document.
  if (frame->kind == FrameKind::kAwareness) return handle_awareness(doc, conn, c->second.agent, frame->payload);
  Doc& d = doc_state(doc);
  if (d.loading) {
    if (d.waiting.size() >= config_.loading_frames_max) {
      return overload(conn, doc, "too many frames waiting for the document to load");
    }
    d.waiting.emplace_back(conn, Bytes(bytes.begin(), bytes.end()));
    return;
  }
  if ((frame->kind == FrameKind::kEdit || frame->kind == FrameKind::kRename) && !d.conns.contains(conn) &&
      std::find(d.hello_waiting.begin(), d.hello_waiting.end(), conn) != d.hello_waiting.end()) {
    if (d.held_frames.size() >= config_.held_frames_max) {
      return overload(conn, doc, "too many edits waiting for the welcome");
    }
    d.held_frames.emplace_back(conn, Bytes(bytes.begin(), bytes.end()));
    return;
  }
  switch (frame->kind) {
    case FrameKind::kHello:
      c->second.docs.insert(doc);
      // Any other payload is ignored, as before kVersion existed.
      if (frame->payload.size() == 1 && frame->payload[0] == kHelloVersions) c->second.versions = true;
      if (config_.catch_up && config_.nodes > 1) {
        if (d.hello_waiting.size() >= config_.hello_waiting_max) {
          return overload(conn, doc, "too many sessions waiting for a catch-up");
        }
        d.hello_waiting.push_back(conn);
        request_catch_up(doc, "catchup");
        return;
      }
      return welcome(conn, doc);
    case FrameKind::kSubscribe: {
      // The client shows a state it loaded over the API; from here on it gets what changes.
      // With catch-up, a client whose load is older than this node's state (or than the log,
      // on several nodes) is brought up to date by a welcome first: nothing between its load
      // and its subscription is missed.
      auto sub = decode_subscribe_msg(frame->payload);
      if (!sub) return refuse(conn, doc, "bad subscribe: " + sub.error().message);
      const std::optional<std::uint64_t> loaded = sub->version;
      // A subscriber may ask for version frames as a hello does (an adopted reload's new session).
      if (sub->versions) c->second.versions = true;
      c->second.docs.insert(doc);
      if (config_.catch_up && config_.nodes > 1) {
        if (d.hello_waiting.size() >= config_.hello_waiting_max) {
          return overload(conn, doc, "too many sessions waiting for a catch-up");
        }
        d.hello_waiting.push_back(conn);
        request_catch_up(doc, "catchup");
        return;
      }
      // Under snapshots there is no log: versions do not move, so nothing tells how old the
      // load is. The node's memory is the newest state there is; it welcomes every subscriber.
      // So it does while it holds records not yet committed: the load (from the store) cannot
      // have them, and their broadcast went out before this subscription.
      const bool versioned = config_.persistence == NodeConfig::Persistence::kChangeLog;
      if (config_.catch_up && (d.applied > *loaded || d.uncommitted > 0 || !versioned)) {
        return welcome(conn, doc);
      }
      d.conns.insert(conn);
      return;
    }
    case FrameKind::kRename:
      if (!d.conns.contains(conn)) return refuse(conn, doc, "rename of a document this connection has not opened");
      return handle_rename(doc, conn, frame->payload);
    case FrameKind::kEdit:
      if (!d.conns.contains(conn)) return refuse(conn, doc, "edit for a document this connection has not opened");
      return handle_edit(doc, conn, c->second.agent, frame->payload, std::nullopt);
    default:
      return refuse(conn, doc, "a client may send only hello, subscribe, edit, rename and awareness frames");
  }
}

void Node::welcome(ConnId conn, std::uint32_t doc) {
  if (!conns_.contains(conn)) return;
  // Only from here on does the connection receive the document's changes: nothing may reach a
  // client before the state those changes apply to.
  Doc& d = docs_.at(doc);
  d.conns.insert(conn);
  // Every log index up to `applied` is in the state the welcome carries.
  if (conns_.at(conn).versions) io_.send(conn, Frame{FrameKind::kVersion, doc, encode_version(d.applied), {}});
  io_.send(conn, Frame{FrameKind::kWelcome, doc, d.replica->welcome(), {}});
}

void Node::reset_doc(std::uint32_t doc, const std::string& why) {
  auto it = docs_.find(doc);
  if (it == docs_.end()) return;
  const bool was_home = is_home(doc);  // under leases, known only while the document is here
  // Every session of the document: the welcomed ones and those waiting for their welcome (a
  // catch-up or the load in flight), whose held frames go with the replica.
  std::set<ConnId> conns = it->second.conns;
  conns.insert(it->second.hello_waiting.begin(), it->second.hello_waiting.end());
  for (const auto& [conn, frame] : it->second.waiting) conns.insert(conn);
  for (ConnId conn : conns) {
    auto c = conns_.find(conn);
    if (c == conns_.end()) continue;  // closed meanwhile
    c->second.docs.erase(doc);
    io_.close(conn, why);
    conns_.erase(conn);
  }
  // Replies still owed for this document go nowhere now.
  std::erase_if(appends_, [&](const auto& kv) { return kv.second.doc == doc; });
  forget_requests(doc);
  docs_.erase(it);
  io_.observe_replica(doc, nullptr, NodeIo::ReplicaChange::kDropped, 0, {}, 0);
  // The home of a single-writer document: other nodes' clients may have edits forwarded here
  // that are now gone (and replies on their way that name log indexes the log will give to
  // other records). Their sessions start over as this one's did.
  if (!strategy_.multi_master && was_home && config_.nodes > 1) {
    for (NodeId n = 0; n < config_.nodes; ++n) {
      if (n == config_.id) continue;
      NodeMessage m;
      m.kind = NodeMessage::Kind::kDocReset;
      m.from = config_.id;
      m.doc = doc;
      io_.to_node(n, std::move(m));
    }
  }
}

void Node::refuse_forwarded(NodeId node, ConnId conn, AgentId agent, std::uint32_t doc, std::string why) {
  CONVLAB_ASSERT(node != config_.id && !why.empty());
  io_.to_node(node, NodeMessage{NodeMessage::Kind::kForwardReply, config_.id, conn, agent, doc, 0,
                                Bytes(why.begin(), why.end()), {}});
}

void Node::refuse_doc(std::uint32_t doc, const std::string& cause, const std::string& detail) {
  const std::string refusal = "document " + std::to_string(doc) + " cannot be loaded: " + cause;
  io_.log_error(refusal + (detail.empty() ? "" : " (" + detail + ")") + "; refusing the document, serving the others");
  auto it = docs_.find(doc);
  CONVLAB_ASSERT(it != docs_.end());
  Doc& d = it->second;
  CONVLAB_ASSERT(d.loading && d.conns.empty() && d.hello_waiting.empty());
  // Whoever waits for it is disconnected (and may try again: the next access loads it anew).
  std::set<ConnId> waiting;
  for (const auto& [conn, frame] : d.waiting) waiting.insert(conn);
  for (ConnId conn : waiting) {
    auto c = conns_.find(conn);
    if (c == conns_.end()) continue;
    c->second.docs.erase(doc);
    io_.close(conn, refusal);
    conns_.erase(conn);
  }
  // Edits forwarded to it are refused as an edit of this node's own client would be.
  const std::vector<NodeMessage> forwards = std::move(d.waiting_forwards);
  forget_requests(doc);
  docs_.erase(it);
  for (const NodeMessage& m : forwards) refuse_forwarded(m.from, m.conn, m.agent, doc, "edit refused: " + refusal);
}

void Node::handle_edit(std::uint32_t doc, ConnId conn, AgentId agent, std::span<const std::uint8_t> payload,
                       std::optional<NodeId> forwarded_from) {
  if (!forwarded_from) {
    const Conn& c = conns_.at(conn);
    if (c.overloaded) return;
    // Its acknowledgement will need a place in the outbox.
    if (outbox_full(c, doc)) return overload(conn, doc, "too many messages queued behind an acknowledgement");
  }
  if (!is_home(doc)) {
    const Outbox& box = conns_.at(conn).out[doc];
    if (box.forwards_in_flight + box.forward_replies.size() >= config_.forwards_max) {
      return overload(conn, doc, "too many forwarded edits not yet acknowledged");
    }
    // Not multi-master and not this document's home: the home orders the change.
    NodeMessage m;
    m.kind = NodeMessage::Kind::kForwardEdit;
    m.from = config_.id;
    m.conn = conn;
    m.agent = agent;
    m.doc = doc;
    m.payload.assign(payload.begin(), payload.end());
    ++conns_.at(conn).out[doc].forwards_in_flight;
    const std::optional<NodeId> home = home_of(doc);
    CONVLAB_ASSERT(home && *home != config_.id);  // a document's lease is read before it loads
    io_.to_node(*home, std::move(m));
    return;
  }
  if (config_.persistence == NodeConfig::Persistence::kChangeLog && appends_.size() >= config_.appends_max) {
    // Refused before it applies: nothing of it is anywhere yet.
    if (forwarded_from) return reset_forwarder(*forwarded_from, doc, "too many changes waiting for the store");
    return overload(conn, doc, "too many changes waiting for the store");
  }
  Doc& d = docs_.at(doc);
  // One clock reading for the strategy and the records' audit stamp (the simulator's output
  // does not depend on how often the clock is read, but one reading keeps them consistent).
  const std::int64_t now_ms = io_.now_ms();
  auto out = d.replica->receive(agent, payload, now_ms);
  if (!out) {
    std::string why = "edit refused: " + out.error().message;
    // A forwarding node's client waits for an answer, as this node's own would.
    if (forwarded_from) return refuse_forwarded(*forwarded_from, conn, agent, doc, std::move(why));
    return refuse(conn, doc, std::move(why));
  }
  io_.observe_replica(doc, d.replica.get(), NodeIo::ReplicaChange::kClientEdit, agent, payload, 0);
  d.dirty = true;
  deliver_local(doc, agent, std::move(out->broadcast));

  const bool logged = config_.persistence == NodeConfig::Persistence::kChangeLog;
  const bool hold = logged && config_.ack == NodeConfig::Ack::kAfterCommit;
  std::optional<NodeMessage> reply;
  if (forwarded_from) {
    reply = NodeMessage{NodeMessage::Kind::kForwardReply, config_.id, conn, agent, doc, 0, {}, std::move(out->to_sender)};
    // This home is the document's only writer, so it knows where the edit's records land.
    reply->after_index = d.assigned + out->records.size();
  }
  if (!strategy_.multi_master) d.assigned += out->records.size();
  if (!hold) {
    if (reply) {
      io_.to_node(*forwarded_from, std::move(*reply));
      reply.reset();
    } else {
      post(conn, doc, std::move(out->to_sender), true);
    }
  }
  if (!logged) return;

  StoreRequest req;
  req.kind = StoreRequest::Kind::kAppend;
  req.id = next_request_++;
  req.doc = doc;
  req.purpose = "commit";
  if (!strategy_.multi_master) req.expect_first_index = d.assigned - out->records.size() + 1;
  if (leased()) {
    // The fence: the store commits it only while this node holds the lease it loaded under.
    req.lease_epoch = d.lease->epoch;
    req.node = config_.id;
  }
  req.notify = config_.propagation == NodeConfig::Propagation::kBus && config_.nodes > 1;
  PendingAppend pending;
  pending.doc = doc;
  for (Bytes& r : out->records) {
    LogRecord rec{0, agent, std::move(r)};
    rec.server_ms = now_ms;
    req.records.push_back(std::move(rec));
  }
  pending.records = req.records.size();
  if (hold) {
    if (reply) {
      pending.forward_reply = std::move(*reply);
      pending.forward_to = *forwarded_from;
    } else {
      pending.local_slot = std::make_pair(conn, reserve(conn, doc));
      pending.local_replies = std::move(out->to_sender);
    }
  }
  if (req.records.empty()) {
    // Nothing to make durable (e.g. a no-op edit): answer now.
    if (pending.forward_reply) io_.to_node(*forwarded_from, std::move(*pending.forward_reply));
    if (pending.local_slot) fill(pending.local_slot->first, doc, pending.local_slot->second, std::move(pending.local_replies));
    return;
  }
  requests_[req.id] = {req.kind, doc};
  d.uncommitted += pending.records;
  appends_[req.id] = std::move(pending);
  CONVLAB_ASSERT(appends_.size() <= config_.appends_max);
  io_.store(std::move(req));
}

void Node::on_node(const NodeMessage& m) {
  const CloseOverloaded closing{*this};
  switch (m.kind) {
    case NodeMessage::Kind::kDocReset:
      if (!is_home(m.doc)) reset_doc(m.doc, "the document's home started over");
      return;
    case NodeMessage::Kind::kForwardEdit: {
      Doc& d = doc_state(m.doc);
      if (d.loading) {
        if (d.waiting_forwards.size() >= config_.loading_forwards_max) {
          return reset_forwarder(m.from, m.doc, "too many forwarded edits waiting for the document to load");
        }
        d.waiting_forwards.push_back(m);
        return;
      }
      // Under leases the forwarding node may have read an old holder (or sent it to a home that
      // died, and this is its successor): this node is not the document's home, so that node
      // starts its sessions of the document over and reads the lease anew. The normal course
      // of a failover, not an error to log.
      if (!is_home(m.doc)) {
        io_.to_node(m.from, NodeMessage{NodeMessage::Kind::kDocReset, config_.id, 0, 0, m.doc, 0, {}, {}});
        return;
      }
      handle_edit(m.doc, m.conn, m.agent, m.payload, m.from);
      return;
    }
    case NodeMessage::Kind::kForwardReply: {
      auto c = conns_.find(m.conn);
      if (c == conns_.end()) return;
      // The acknowledgement takes the place of the edit's own record in this client's stream:
      // fill the slot if the record was already applied here, else keep it until it is.
      Outbox& box = c->second.out[m.doc];
      if (box.forwards_in_flight > 0) --box.forwards_in_flight;
      if (!m.payload.empty()) {
        // The home refused the edit: nothing of it is in the log, so the refusal has no place to
        // wait for. The client hears it now, as a refusal at this node goes out at once.
        CONVLAB_ASSERT(m.replies.empty());
        if (c->second.overloaded) return;  // closing
        refuse(m.conn, m.doc, std::string(m.payload.begin(), m.payload.end()));
        if (box.forwards_in_flight == 0 && box.forward_replies.empty()) release_anchors(m.conn, m.doc);
        return;
      }
      box.forward_replies.emplace_back(m.after_index, m.replies);
      ++queued_forward_replies_;
      if (!docs_.contains(m.doc)) return;
      release_forward_replies(m.doc);
      // The home has committed records this node has not applied. On a bus they are on their
      // way, unless the bus lost them; read the log rather than leave the client waiting.
      if (config_.propagation == NodeConfig::Propagation::kBus && bus_versioned() &&
          m.after_index > docs_.at(m.doc).applied) {
        request_catch_up(m.doc, "catchup");
      }
      return;
    }
  }
}

void Node::on_timer(std::uint64_t timer) {
  const CloseOverloaded closing{*this};
  if (timer == kPollTimer) {
    // The naive design's load: one query per active document per server per interval.
    for (auto& [doc, d] : docs_) {
      if (!d.conns.empty() && !d.loading) request_catch_up(doc, "poll");
    }
    io_.start_timer(config_.poll_interval_ms, kPollTimer);
  } else if (timer == kAntiEntropyTimer) {
    // A cheap read of the log tail (usually empty) per document with clients here.
    for (auto& [doc, d] : docs_) {
      if (!d.conns.empty() && !d.loading) request_catch_up(doc, "antientropy");
    }
    io_.start_timer(config_.anti_entropy_ms, kAntiEntropyTimer);
  } else if (timer == kSnapshotTimer) {
    for (auto& [doc, d] : docs_) {
      if (!d.dirty || d.loading) continue;
      if (write_snapshot(doc)) d.dirty = false;
    }
    io_.start_timer(config_.snapshot_interval_ms, kSnapshotTimer);
  } else if (timer == kLeaseTimer) {
    ask_leases();
    io_.start_timer(config_.lease_ms / 4, kLeaseTimer);
  } else if (timer == kAwarenessTimer) {
    awareness_timer_ = false;
    awareness_tick();
  } else if (timer == kBusFallbackTimer) {
    bus_fallback_timer_ = false;
    if (bus_up_ || !bus_versioned()) return;
    // The bus is down: what other nodes commit reaches this one only through the log.
    for (auto& [doc, d] : docs_) {
      if (!d.conns.empty() && !d.loading) request_catch_up(doc, "busfallback");
    }
    bus_fallback_timer_ = true;
    io_.start_timer(config_.poll_interval_ms, kBusFallbackTimer);
  }
}

void Node::on_bus_state(bool up) {
  const CloseOverloaded closing{*this};
  if (up == bus_up_) return;
  bus_up_ = up;
  if (!bus_versioned()) return;  // unversioned: nothing tells what was missed
  if (up) {
    // Resubscribed: whatever was published while away is in the log after what was applied.
    for (auto& [doc, d] : docs_) {
      if (!d.loading) request_catch_up(doc, "resubscribe");
    }
    return;
  }
  if (!bus_fallback_timer_) {
    bus_fallback_timer_ = true;
    io_.start_timer(config_.poll_interval_ms, kBusFallbackTimer);
  }
}

std::optional<std::u32string> Node::text(std::uint32_t doc) const {
  auto it = docs_.find(doc);
  if (it == docs_.end() || it->second.loading) return std::nullopt;
  return it->second.replica->text();
}

std::vector<CharId> Node::char_ids(std::uint32_t doc) const {
  auto it = docs_.find(doc);
  if (it == docs_.end() || it->second.loading) return {};
  return it->second.replica->char_ids();
}

std::uint64_t Node::applied(std::uint32_t doc) const {
  auto it = docs_.find(doc);
  return it == docs_.end() ? 0 : it->second.applied;
}

std::optional<std::size_t> Node::state_bytes(std::uint32_t doc) const {
  auto it = docs_.find(doc);
  if (it == docs_.end() || it->second.loading) return std::nullopt;
  return it->second.replica->snapshot().size();
}

bool Node::serving(std::uint32_t doc) const {
  auto it = docs_.find(doc);
  return it != docs_.end() && !it->second.loading && !it->second.conns.empty();
}

std::vector<std::uint32_t> Node::loaded_docs() const {
  std::vector<std::uint32_t> out;
  for (const auto& [doc, d] : docs_) {
    if (!d.loading) out.push_back(doc);
  }
  return out;
}

}  // namespace convlab
