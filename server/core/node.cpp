#include "server/core/node.hpp"

#include "server/core/assert.hpp"

#include <algorithm>

namespace convlab {

namespace {
// Timer ids: the two periodic timers of a node.
constexpr std::uint64_t kPollTimer = 1;
constexpr std::uint64_t kSnapshotTimer = 2;
constexpr std::uint64_t kAntiEntropyTimer = 3;
}  // namespace

Result<std::uint64_t> recover_replica(ServerReplica& replica, bool has_snapshot, std::span<const std::uint8_t> snapshot,
                                      std::uint64_t snapshot_index, std::span<const LogRecord> records) {
  std::uint64_t applied = 0;
  if (has_snapshot) {
    if (auto ok = replica.restore(snapshot); !ok) return make_error("snapshot: " + ok.error().message);
    applied = snapshot_index;
  }
  for (const LogRecord& r : records) {
    if (r.index <= applied) continue;
    if (auto ok = replica.apply_record(r.record); !ok) {
      return make_error("record " + std::to_string(r.index) + " does not apply: " + ok.error().message);
    }
    applied = r.index;
  }
  return applied;
}

Node::Node(NodeConfig config, const Strategy& strategy, NodeIo& io)
    : config_(config), strategy_(strategy), io_(io) {
  CONVLAB_ASSERT(config_.nodes >= 1 && config_.id < config_.nodes);
  CONVLAB_ASSERT(config_.poll_interval_ms > 0 && config_.snapshot_interval_ms > 0);
  CONVLAB_ASSERT(config_.loading_frames_max > 0 && config_.loading_forwards_max > 0 && config_.pending_remote_max > 0);
  CONVLAB_ASSERT(config_.hello_waiting_max > 0 && config_.held_frames_max > 0);
  CONVLAB_ASSERT(config_.outbox_items_max > 0 && config_.forwards_max > 0 && config_.appends_max > 0);
  CONVLAB_ASSERT(config_.snapshot_writes_max > 0 && config_.http_reads_max > 0);
}

void Node::start() {
  if (config_.propagation == NodeConfig::Propagation::kPoll && config_.nodes > 1) {
    io_.start_timer(config_.poll_interval_ms, kPollTimer);
  }
  if (config_.persistence == NodeConfig::Persistence::kSnapshot) {
    io_.start_timer(config_.snapshot_interval_ms, kSnapshotTimer);
  }
  if (config_.propagation == NodeConfig::Propagation::kBus && config_.nodes > 1 && config_.anti_entropy_ms > 0) {
    io_.start_timer(config_.anti_entropy_ms, kAntiEntropyTimer);
  }
}

bool Node::is_home(std::uint32_t doc) const {
  return strategy_.multi_master || doc % config_.nodes == config_.id;
}

Node::Doc& Node::doc_state(std::uint32_t doc) {
  auto [it, inserted] = docs_.try_emplace(doc);
  if (inserted) begin_load(doc);
  return it->second;
}

void Node::begin_load(std::uint32_t doc) {
  Doc& d = docs_.at(doc);
  d.loading = true;
  StoreRequest req;
  req.kind = StoreRequest::Kind::kLoad;
  req.id = next_request_++;
  req.doc = doc;
  req.purpose = "load";
  requests_[req.id] = {req.kind, doc};
  io_.store(std::move(req));
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

void Node::on_revoke(std::uint32_t user) {
  revoked_.insert(user);
  if (!config_.check_revocation) return;
  std::vector<ConnId> closing;
  for (const auto& [conn, c] : conns_) {
    if (c.token.user == user) closing.push_back(conn);
  }
  for (ConnId conn : closing) {
    on_disconnect(conn);
    io_.close(conn, "token revoked");
  }
}

void Node::on_http_get(const HttpGet& request) {
  HttpResponse r;
  r.id = request.id;
  r.doc = request.doc;
  r.no_store = config_.api_no_store;
  // The naive server trusts any unexpired token: its signature is all it checks.
  if (request.token.expires_ms <= io_.now_ms()) {
    r.status = 401;
    r.why = "token expired";
    return io_.respond(r);
  }
  if (config_.check_revocation && revoked(request.token.user)) {
    r.status = 403;
    r.why = "token revoked";
    return io_.respond(r);
  }
  using R = NodeConfig::ApiRead;
  const bool primary = config_.api_read == R::kPrimary ||
                       (config_.api_read == R::kSessionPrimary && request.session_version > 0);
  http_read(request, !primary);
}

void Node::http_read(const HttpGet& request, bool from_replica) {
  if (http_.size() >= config_.http_reads_max) {
    HttpResponse r;
    r.id = request.id;
    r.doc = request.doc;
    r.status = 503;
    r.why = "overloaded: too many API reads waiting for the store";
    return io_.respond(r);
  }
  StoreRequest req;
  req.kind = StoreRequest::Kind::kLoad;
  req.id = next_request_++;
  req.doc = request.doc;
  req.replica = from_replica;
  req.purpose = from_replica ? "api_replica" : "api_primary";
  http_[req.id] = PendingHttp{request, from_replica};
  CONVLAB_ASSERT(http_.size() <= config_.http_reads_max);
  io_.store(std::move(req));
}

void Node::http_loaded(const StoreReply& reply) {
  auto it = http_.find(reply.id);
  CONVLAB_ASSERT(it != http_.end());
  const PendingHttp pending = std::move(it->second);
  http_.erase(it);
  auto replica = strategy_.make_server();
  auto recovered = recover_replica(*replica, reply.has_snapshot, reply.snapshot, reply.snapshot_index, reply.records);
  if (!recovered) {
    // A stored log that does not replay is the store's fault or a strategy's bug, never a
    // reason to stop serving the other documents.
    io_.log_error("document " + std::to_string(pending.request.doc) + ": the stored log does not replay (" +
                  recovered.error().message + "); API read refused");
    HttpResponse r;
    r.id = pending.request.id;
    r.doc = pending.request.doc;
    r.status = 500;
    r.why = "the document cannot be read: its stored log does not replay";
    r.no_store = true;
    return io_.respond(r);
  }
  const std::uint64_t version = *recovered;
  // Fencing: a replica that has not reached the session's last write is not good enough.
  if (pending.from_replica && config_.api_read == NodeConfig::ApiRead::kFenced &&
      version < pending.request.session_version) {
    return http_read(pending.request, false);
  }
  HttpResponse r;
  r.id = pending.request.id;
  r.doc = pending.request.doc;
  r.body = replica->welcome();
  r.version = version;
  r.latest = std::max(reply.latest, version);
  r.source = pending.from_replica ? "replica" : "primary";
  r.no_store = config_.api_no_store;
  io_.respond(r);
}

void Node::handle_rename(std::uint32_t doc, ConnId conn, std::span<const std::uint8_t> payload) {
  auto rename = decode_rename(payload);
  if (!rename) return refuse(conn, doc, "bad rename: " + rename.error().message);
  TitleReg& t = titles_[doc];
  TitleMsg answer;
  if (config_.rename_notice && rename->base != t.version) {
    // A register with a sequence: a rename made on an older title loses, and its sender is told
    // what won instead of finding out (or not) later.
    answer = TitleMsg{t.version, t.title, 2};
    return io_.send(conn, Frame{FrameKind::kTitle, doc, encode_title(answer), {}});
  }
  ++t.version;
  t.title = rename->title;
  answer = TitleMsg{t.version, t.title, 1};
  io_.send(conn, Frame{FrameKind::kTitle, doc, encode_title(answer), {}});
  const Bytes others = encode_title(TitleMsg{t.version, t.title, 0});
  for (ConnId other : docs_.at(doc).conns) {
    if (other != conn) io_.send(other, Frame{FrameKind::kTitle, doc, others, {}});
  }
}

void Node::on_disconnect(ConnId conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  for (std::uint32_t doc : it->second.docs) {
    if (auto d = docs_.find(doc); d != docs_.end()) d->second.conns.erase(conn);
  }
  conns_.erase(it);
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
      if (config_.catch_up_on_hello && config_.nodes > 1) {
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
      auto loaded = decode_subscribe(frame->payload);
      if (!loaded) return refuse(conn, doc, "bad subscribe: " + loaded.error().message);
      c->second.docs.insert(doc);
      if (config_.catch_up_on_hello && config_.nodes > 1) {
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
      if (config_.catch_up_on_hello && (d.applied > *loaded || d.uncommitted > 0 || !versioned)) {
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
      return refuse(conn, doc, "a client may send only hello, subscribe, edit and rename frames");
  }
}

void Node::welcome(ConnId conn, std::uint32_t doc) {
  if (!conns_.contains(conn)) return;
  // Only from here on does the connection receive the document's changes: nothing may reach a
  // client before the state those changes apply to.
  Doc& d = docs_.at(doc);
  d.conns.insert(conn);
  io_.send(conn, Frame{FrameKind::kWelcome, doc, d.replica->welcome(), {}});
}

void Node::reset_doc(std::uint32_t doc, const std::string& why) {
  auto it = docs_.find(doc);
  if (it == docs_.end()) return;
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
  if (!strategy_.multi_master && is_home(doc) && config_.nodes > 1) {
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

void Node::refuse_doc(std::uint32_t doc, const std::string& why) {
  io_.log_error("document " + std::to_string(doc) + ": the stored log does not replay (" + why +
                "); refusing the document, serving the others");
  Doc& d = docs_.at(doc);
  CONVLAB_ASSERT(d.loading && d.conns.empty());
  // Whoever waits for it is disconnected (and may try again: the next access loads it anew).
  std::set<ConnId> waiting;
  for (const auto& [conn, frame] : d.waiting) waiting.insert(conn);
  for (ConnId conn : waiting) {
    auto c = conns_.find(conn);
    if (c == conns_.end()) continue;
    c->second.docs.erase(doc);
    io_.close(conn, "document " + std::to_string(doc) + " cannot be loaded: its stored log does not replay");
    conns_.erase(conn);
  }
  forget_requests(doc);
  docs_.erase(doc);
}

void Node::deliver_local(std::uint32_t doc, AgentId except_author, std::vector<Bytes> msgs) {
  if (msgs.empty()) return;
  const Doc& d = docs_.at(doc);
  // Each recipient gets its copy; the last one takes `msgs` itself.
  ConnId last = 0;
  bool any = false;
  for (ConnId conn : d.conns) {
    if (conns_.at(conn).agent == except_author) continue;
    if (any) post(last, doc, msgs);
    last = conn;
    any = true;
  }
  if (any) post(last, doc, std::move(msgs));
}

void Node::post(ConnId conn, std::uint32_t doc, std::vector<Bytes> msgs, bool ack) {
  auto c = conns_.find(conn);
  if (c == conns_.end() || c->second.overloaded) return;
  if (outbox_full(c->second, doc)) return overload(conn, doc, "too many messages queued behind an acknowledgement");
  Outbox& box = c->second.out[doc];
  box.items.push_back(OutItem{std::move(msgs), true, ack});
  flush(conn, doc);
}

std::size_t Node::reserve(ConnId conn, std::uint32_t doc) {
  Outbox& box = conns_.at(conn).out[doc];
  box.items.push_back(OutItem{{}, false, true});
  // handle_edit checked outbox_full before the edit applied.
  CONVLAB_ASSERT(box.items.size() - box.head <= config_.outbox_items_max);
  return box.items.size() - 1;
}

void Node::fill(ConnId conn, std::uint32_t doc, std::size_t slot, std::vector<Bytes> msgs) {
  auto c = conns_.find(conn);
  if (c == conns_.end() || c->second.overloaded) return;
  Outbox& box = c->second.out[doc];
  CONVLAB_ASSERT(slot < box.items.size() && !box.items[slot].ready);
  box.items[slot].msgs = std::move(msgs);
  box.items[slot].ready = true;
  flush(conn, doc);
}

void Node::flush(ConnId conn, std::uint32_t doc) {
  Outbox& box = conns_.at(conn).out[doc];
  while (box.head < box.items.size() && box.items[box.head].ready) {
    OutItem& item = box.items[box.head];
    for (Bytes& m : item.msgs) io_.send(conn, Frame{FrameKind::kDeliver, doc, std::move(m), {}});
    if (item.ack) io_.acknowledged(conn, doc, item.msgs.size());
    ++box.head;
  }
  if (box.head == box.items.size()) {
    box.items.clear();
    box.head = 0;
  }
}

void Node::release_forward_replies(std::uint32_t doc) {
  if (queued_forward_replies_ == 0) return;
  const std::uint64_t applied = docs_.at(doc).applied;
  for (auto& [conn, c] : conns_) {
    auto box = c.out.find(doc);
    if (box == c.out.end()) continue;
    auto& q = box->second.forward_replies;
    while (!q.empty() && q.front().first <= applied) {
      const std::uint64_t after = q.front().first;
      std::vector<Bytes> msgs = std::move(q.front().second);
      q.pop_front();
      --queued_forward_replies_;
      deliver_forward_reply(conn, doc, after, std::move(msgs));
    }
  }
}

void Node::anchor_own_record(std::uint32_t doc, AgentId author, std::uint64_t index) {
  for (ConnId conn : docs_.at(doc).conns) {
    Conn& c = conns_.at(conn);
    if (c.agent != author || c.overloaded) continue;
    auto box = c.out.find(doc);
    if (box == c.out.end() || box->second.forwards_in_flight == 0) continue;
    if (outbox_full(c, doc)) {
      overload(conn, doc, "too many messages queued behind an acknowledgement");
      continue;
    }
    box->second.items.push_back(OutItem{{}, false, false});
    box->second.anchors[index] = box->second.items.size() - 1;
  }
}

void Node::deliver_forward_reply(ConnId conn, std::uint32_t doc, std::uint64_t after, std::vector<Bytes> msgs) {
  auto c = conns_.find(conn);
  if (c == conns_.end() || c->second.overloaded) return;
  Outbox& box = c->second.out[doc];
  // Anchors up to `after` are this edit's records (or records of the agent's other
  // connections): they hold nothing but the reply.
  bool placed = false;
  for (auto it = box.anchors.begin(); it != box.anchors.end() && it->first <= after;) {
    OutItem& item = box.items[it->second];
    item.ready = true;
    if (it->first == after) {
      item.msgs = std::move(msgs);
      item.ack = true;
      placed = true;
    }
    it = box.anchors.erase(it);
  }
  if (!placed) {
    if (outbox_full(c->second, doc)) return overload(conn, doc, "too many messages queued behind an acknowledgement");
    box.items.push_back(OutItem{std::move(msgs), true, true});
  }
  if (box.forwards_in_flight == 0) {
    // No reply is owed any more: an anchor left is another connection's record.
    for (const auto& [index, slot] : box.anchors) box.items[slot].ready = true;
    box.anchors.clear();
  }
  flush(conn, doc);
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
    io_.to_node(doc % config_.nodes, std::move(m));
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
    if (forwarded_from) return;  // the forwarding node's client never hears: it will resync
    return refuse(conn, doc, "edit refused: " + out.error().message);
  }
  io_.observe_replica(doc, d.replica.get(), NodeIo::ReplicaChange::kClientEdit, agent, payload, 0);
  d.dirty = true;
  deliver_local(doc, agent, std::move(out->broadcast));

  const bool logged = config_.persistence == NodeConfig::Persistence::kChangeLog;
  const bool hold = logged && config_.ack_after_commit;
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

void Node::mark_applied(Doc& d, std::uint64_t index) {
  if (index <= d.applied) return;
  d.ahead.insert(index);
  while (d.ahead.contains(d.applied + 1)) {
    d.ahead.erase(d.applied + 1);
    ++d.applied;
  }
}

void Node::accept_remote(std::uint32_t doc, const LogRecord& record) {
  Doc& d = docs_.at(doc);
  if (d.loading || record.index <= d.applied || d.ahead.contains(record.index)) return;
  if (record.index != d.applied + 1 && d.pending_remote.size() >= config_.pending_remote_max) {
    // Past the gap and no room: the log has it.
    d.remote_dropped = true;
    return request_catch_up(doc, "catchup");
  }
  d.pending_remote.emplace(record.index, record);
  drain_remote(doc);
  if (!d.pending_remote.empty()) request_catch_up(doc, "catchup");
}

void Node::drain_remote(std::uint32_t doc) {
  Doc& d = docs_.at(doc);
  while (!d.pending_remote.empty()) {
    auto it = d.pending_remote.begin();
    if (it->first <= d.applied || d.ahead.contains(it->first)) {
      d.pending_remote.erase(it);
      continue;
    }
    if (it->first != d.applied + 1) return;  // a gap: wait for catch-up
    apply_remote(doc, d, it->second);
    d.pending_remote.erase(it);
    release_forward_replies(doc);
  }
}

void Node::apply_remote(std::uint32_t doc, Doc& d, const LogRecord& record) {
  auto msgs = d.replica->apply_remote_record(record.record);
  // A record the log holds but this replica refuses means the replicas have split; the
  // convergence checker will show it. Skip it rather than stop the node.
  if (msgs) deliver_local(doc, record.author, std::move(*msgs));
  io_.observe_replica(doc, d.replica.get(), NodeIo::ReplicaChange::kRecord, record.author, record.record, record.index);
  anchor_own_record(doc, record.author, record.index);
  d.dirty = true;
  mark_applied(d, record.index);
}

void Node::request_catch_up(std::uint32_t doc, const char* purpose) {
  Doc& d = docs_.at(doc);
  if (d.catching_up || d.loading) return;
  d.catching_up = true;
  StoreRequest req;
  req.kind = StoreRequest::Kind::kReadLog;
  req.id = next_request_++;
  req.doc = doc;
  req.after = d.applied;
  req.purpose = purpose;
  requests_[req.id] = {req.kind, doc};
  io_.store(std::move(req));
}

void Node::maybe_snapshot(std::uint32_t doc) {
  Doc& d = docs_.at(doc);
  // A snapshot labelled with log index `applied` must hold exactly the log up to there: not
  // while records of this node are uncommitted or committed out of order.
  if (d.changes_since_snapshot < config_.snapshot_every_changes || !d.ahead.empty() || d.uncommitted > 0) return;
  if (write_snapshot(doc)) d.changes_since_snapshot = 0;
}

bool Node::write_snapshot(std::uint32_t doc) {
  if (snapshot_writes_ >= config_.snapshot_writes_max) {
    io_.log_error("document " + std::to_string(doc) + ": snapshot not written now: too many snapshot writes waiting "
                  "for the store");
    return false;
  }
  ++snapshot_writes_;
  const Doc& d = docs_.at(doc);
  StoreRequest req;
  req.kind = StoreRequest::Kind::kWriteSnapshot;
  req.id = next_request_++;
  req.doc = doc;
  req.after = d.applied;
  req.snapshot = d.replica->snapshot();
  req.purpose = "snapshot";
  requests_[req.id] = {req.kind, doc};
  io_.store(std::move(req));
  return true;
}

void Node::on_store(const StoreReply& reply) {
  const CloseOverloaded closing{*this};
  if (http_.contains(reply.id)) return http_loaded(reply);
  auto rq = requests_.find(reply.id);
  if (rq == requests_.end()) return;
  const auto [kind, doc] = rq->second;
  requests_.erase(rq);
  Doc& d = docs_.at(doc);
  switch (kind) {
    case StoreRequest::Kind::kLoad: {
      d.replica = strategy_.make_server();
      // The store holds only snapshots and records replicas wrote: they should always apply.
      auto applied = recover_replica(*d.replica, reply.has_snapshot, reply.snapshot, reply.snapshot_index, reply.records);
      if (!applied) return refuse_doc(doc, applied.error().message);
      io_.observe_replica(doc, d.replica.get(), NodeIo::ReplicaChange::kLoaded, 0, {}, *applied);
      d.applied = *applied;
      d.assigned = d.applied;
      d.loading = false;
      auto waiting = std::move(d.waiting);
      d.waiting.clear();
      for (auto& [conn, frame] : waiting) on_frame(conn, frame);
      auto forwards = std::move(d.waiting_forwards);
      d.waiting_forwards.clear();
      for (const NodeMessage& m : forwards) on_node(m);
      return;
    }
    case StoreRequest::Kind::kAppend: {
      auto ap = appends_.find(reply.id);
      CONVLAB_ASSERT(ap != appends_.end());
      PendingAppend pending = std::move(ap->second);
      appends_.erase(ap);
      d.uncommitted -= pending.records;
      if (!reply.ok) {
        // Not durable. What was held is never acknowledged, and this replica is ahead of the
        // log: start the document over from what is durable. So is every other document with
        // appends in flight: a failed append may be a connection the database's crash broke,
        // and its transactions in flight went with it; a later edit of such a replica would
        // commit on top of a record the log never got (a log that no longer replays).
        std::vector<std::uint32_t> ahead{doc};
        for (const auto& [other, od] : docs_) {
          if (other != doc && od.uncommitted > 0) ahead.push_back(other);
        }
        for (std::uint32_t k : ahead) reset_doc(k, "a change did not commit");
        return;
      }
      for (std::size_t i = 0; i < pending.records; ++i) {
        const std::uint64_t index = reply.first_index + i;
        // A single-writer document's log has no other writer: the index is the one predicted.
        CONVLAB_ASSERT(strategy_.multi_master || index <= d.assigned);
        mark_applied(d, index);
      }
      d.changes_since_snapshot += pending.records;
      if (pending.forward_reply) io_.to_node(pending.forward_to, std::move(*pending.forward_reply));
      if (pending.local_slot && conns_.contains(pending.local_slot->first)) {
        fill(pending.local_slot->first, doc, pending.local_slot->second, std::move(pending.local_replies));
      }
      drain_remote(doc);
      maybe_snapshot(doc);
      return;
    }
    case StoreRequest::Kind::kReadLog: {
      d.catching_up = false;
      if (reply.ok) {
        for (const LogRecord& r : reply.records) {
          if (r.index <= d.applied || d.ahead.contains(r.index)) continue;
          if (d.pending_remote.empty() && r.index == d.applied + 1) {
            // Next in line with nothing waiting: applied as drain_remote would, without
            // queueing a copy first.
            apply_remote(doc, d, r);
            release_forward_replies(doc);
            continue;
          }
          if (r.index != d.applied + 1 && d.pending_remote.size() >= config_.pending_remote_max) {
            d.remote_dropped = true;  // past the gap and no room: read again below
            continue;
          }
          d.pending_remote.emplace(r.index, r);
        }
        drain_remote(doc);
        if (d.remote_dropped) {
          d.remote_dropped = false;
          request_catch_up(doc, "catchup");
        }
      }
      auto hellos = std::move(d.hello_waiting);
      d.hello_waiting.clear();
      auto held = std::move(d.held_frames);
      d.held_frames.clear();
      for (ConnId conn : hellos) welcome(conn, doc);
      for (auto& [conn, frame] : held) on_frame(conn, frame);
      return;
    }
    case StoreRequest::Kind::kWriteSnapshot:
      CONVLAB_ASSERT(snapshot_writes_ > 0);
      --snapshot_writes_;
      return;
  }
}

void Node::on_bus(std::uint32_t doc, const LogRecord& record) {
  const CloseOverloaded closing{*this};
  auto it = docs_.find(doc);
  if (it == docs_.end()) return;  // not loaded here: it will load from the store when needed
  accept_remote(doc, record);
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
      box.forward_replies.emplace_back(m.after_index, m.replies);
      ++queued_forward_replies_;
      if (!docs_.contains(m.doc)) return;
      release_forward_replies(m.doc);
      // The home has committed records this node has not applied. On a bus they are on their
      // way, unless the bus lost them; read the log rather than leave the client waiting.
      if (config_.propagation == NodeConfig::Propagation::kBus && m.after_index > docs_.at(m.doc).applied) {
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

bool Node::outbox_full(const Conn& c, std::uint32_t doc) const {
  auto box = c.out.find(doc);
  return box != c.out.end() && box->second.items.size() - box->second.head >= config_.outbox_items_max;
}

void Node::overload(ConnId conn, std::uint32_t doc, const std::string& what) {
  auto c = conns_.find(conn);
  if (c == conns_.end() || c->second.overloaded) return;
  c->second.overloaded = true;
  overloaded_.emplace_back(conn, "overloaded: " + what + " (document " + std::to_string(doc) + ")");
}

void Node::close_overloaded() {
  auto closing = std::move(overloaded_);
  overloaded_.clear();
  for (const auto& [conn, why] : closing) {
    if (!conns_.contains(conn)) continue;
    io_.log_error("connection " + std::to_string(conn) + " closed: " + why);
    on_disconnect(conn);
    io_.close(conn, why);
  }
}

void Node::reset_forwarder(NodeId node, std::uint32_t doc, const std::string& why) {
  io_.log_error("document " + std::to_string(doc) + ": an edit forwarded by node " + std::to_string(node) +
                " dropped (" + why + "); that node starts the document over");
  NodeMessage m;
  m.kind = NodeMessage::Kind::kDocReset;
  m.from = config_.id;
  m.doc = doc;
  io_.to_node(node, std::move(m));
}

void Node::forget_requests(std::uint32_t doc) {
  std::erase_if(requests_, [&](const auto& kv) {
    if (kv.second.second != doc) return false;
    if (kv.second.first == StoreRequest::Kind::kWriteSnapshot) --snapshot_writes_;
    return true;
  });
}

}  // namespace convlab
