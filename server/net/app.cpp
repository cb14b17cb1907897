// The App's own work (app.hpp): flushing sessions, strategy claims, what the store's threads
// hand over, messages from peers, revocations, the drain at shutdown.
//
// Owns: App's member functions and the small helpers app.hpp declares.
// May call: the nodes, the store, WsSession and PeerLink (their public members), the metrics.
// Runs on the App's thread, except from_store() (the store's threads).
#include "server/net/log_line.hpp"
#include "server/net/app.hpp"

#include "server/net/peer_link.hpp"
#include "server/net/ws_session.hpp"

#include <openssl/rand.h>

#include <iostream>
#include <stdexcept>

namespace convlab::net {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::int64_t wall_s() { return wall_ms() / 1000; }

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string node_audience(const auth::JwtConfig& jwt) { return jwt.audience + "/node"; }

const char* node_message_label(NodeMessage::Kind kind) {
  switch (kind) {
    case NodeMessage::Kind::kForwardEdit: return "edit";
    case NodeMessage::Kind::kForwardReply: return "reply";
    case NodeMessage::Kind::kDocReset: return "reset";
  }
  return "?";
}

// ----------------------------------------------------------------------------- flushing
void App::schedule_flush(std::shared_ptr<WsSession> s) {
  to_flush.push_back(std::move(s));
  if (to_flush.size() == 1) asio::post(ioc, [this] { flush_sessions(); });
}

void App::hold_flush(std::shared_ptr<WsSession> s, Clock::time_point due) {
  held.push_back(std::move(s));
  if (hold_armed) return;
  hold_armed = true;
  hold_timer.expires_at(due);
  hold_timer.async_wait([this](boost::system::error_code) {
    hold_armed = false;
    flush_held();
  });
}

void App::flush_held() {
  std::vector<std::shared_ptr<WsSession>> now;
  now.swap(held);
  for (auto& s : now) s->flush();
}

void App::flush_sessions() {
  std::vector<std::shared_ptr<WsSession>> now;
  now.swap(to_flush);
  for (auto& s : now) s->flush();
}

const std::string& App::json_of(const Frame& f, const Strategy& strategy) {
  JsonCache& c = json_cache;
  if (c.strategy != &strategy || c.kind != f.kind || c.doc != f.doc || c.payload != f.payload || c.text != f.text) {
    c.strategy = &strategy;
    c.kind = f.kind;
    c.doc = f.doc;
    c.payload = f.payload;
    c.text = f.text;
    c.json = frame_to_json(f, strategy);
  }
  return c.json;
}

void App::disconnect(ConnId conn) {
  if (sessions.erase(conn) == 0) return;
  for (auto& [peer, conns] : forwarded) conns.erase(conn);
  // Its edits still queued for a peer whose link is down: its client gave them up with the
  // connection (it resends what was not acknowledged). Written later, to a peer that restarted,
  // they would be applied behind the client's back; under home: lease that peer may even be the
  // document's home again by then.
  for (auto& [peer, link] : links) link->drop_edits_of({conn});
  for (auto& [name, s] : slots) s->node->on_disconnect(conn);
  after_node_call();
  metrics.set_connections(sessions.size());
}

void App::close_conn(ConnId conn, std::uint16_t code, std::string reason) {
  asio::post(ioc, [this, conn, code, reason = std::move(reason)] {
    if (auto it = sessions.find(conn); it != sessions.end()) it->second->close(code, reason);
  });
}

// ---------------------------------------------------------------------------------- peers
bool App::links_flushed() const {
  for (const auto& [id, link] : links) {
    if (!link->flushed()) return false;
  }
  return true;
}

void App::abandon(NodeId peer, const std::string& why) {
  auto it = forwarded.find(peer);
  if (it == forwarded.end() || it->second.empty()) return;
  std::set<ConnId> conns;
  for (const auto& [conn, n] : it->second) conns.insert(conn);
  forwarded.erase(it);
  if (auto l = links.find(peer); l != links.end()) l->second->drop_edits_of(conns);
  metrics.link_abandoned(std::to_string(peer), conns.size());
  LogLine{} << "closing " << conns.size() << " connection(s) whose edits wait on node " << peer << ": "
            << why << "\n";
  for (ConnId conn : conns) close_conn(conn, close_code::kHomeUnreachable, "home node " + std::to_string(peer) + " unreachable");
}

void App::on_peer_message(NodeId peer, PeerMessage pm) {
  NodeMessage& m = pm.message;
  const bool edit = m.kind == NodeMessage::Kind::kForwardEdit;
  metrics.node_message(node_message_label(m.kind), "received");
  auto s = slots.find(pm.strategy);
  if (s == slots.end() || configured_strategy(m.doc) != pm.strategy ||
      (edit && !may_take_forward(m.doc))) {
    // A cluster whose servers disagree on strategies or on `nodes`: never feed the wrong node.
    metrics.node_refused("strategy");
    LogLine{} << "dropped a message from node " << peer << " for document " << m.doc << " ("
              << pm.strategy << "): this server has it as " << configured_strategy(m.doc) << " with home node "
              << m.doc % cfg.node.nodes << "\n";
    return;
  }
  NodeSlot* slot = s->second.get();
  if (!edit) {
    auto f = forwarded.find(peer);
    if (f != forwarded.end()) {
      auto c = f->second.find(m.conn);
      if (c != f->second.end() && --c->second == 0) f->second.erase(c);
    }
    slot->node->on_node(m);
    after_node_call();
    return;
  }
  with_claim(m.doc, [this, slot, m = std::move(m)](const std::string* error) {
    if (error != nullptr) {
      // Refused as the home refuses an edit it cannot take: the forwarding server answers its
      // client, which reloads (a dropped edit would leave it waiting for an answer forever).
      LogLine{} << "forwarded edit of document " << m.doc << " refused: " << *error << "\n";
      NodeMessage reply;
      reply.kind = NodeMessage::Kind::kForwardReply;
      reply.from = cfg.node.id;
      reply.conn = m.conn;
      reply.agent = m.agent;
      reply.doc = m.doc;
      const std::string refusal = "edit refused: " + *error;
      reply.payload.assign(refusal.begin(), refusal.end());
      slot->to_node(m.from, std::move(reply));
      return;
    }
    slot->node->on_node(m);
    after_node_call();
  });
}

// ---------------------------------------------------------------------------------- store
void App::with_claim(std::uint32_t doc, std::function<void(const std::string* error)> then) {
  auto known = claimed.find(doc);
  if (known != claimed.end()) {
    if (known->second == configured_strategy(doc)) return then(nullptr);
    const std::string why = "strategy mismatch: document " + std::to_string(doc) + " uses " + known->second +
                            ", this server is configured with " + configured_strategy(doc);
    return then(&why);
  }
  if (claim_waiters >= kClaimWaitersMax) {
    const std::string why = "server busy: " + std::to_string(kClaimWaitersMax) + " requests wait for strategy claims";
    return then(&why);
  }
  auto& waiting = claiming[doc];
  waiting.push_back(std::move(then));
  ++claim_waiters;
  if (waiting.size() > 1) return;  // a claim is on its way
  start_claim(doc, std::chrono::milliseconds(100));
}

void App::start_claim(std::uint32_t doc, std::chrono::milliseconds backoff) {
  // One pool task per document being claimed: bounded by `claiming`, not by kPoolTasksMax.
  asio::post(pool, [this, doc, backoff, name = configured_strategy(doc)] {
    auto got = store->claim_strategy(doc, name);
    asio::post(ioc, [this, doc, backoff, ok = got.has_value(), value = got.has_value() ? *got : got.error().message] {
      if (!ok) {
        // The store cannot answer now (down, starting up): the callers wait and the claim is
        // asked again, unless it has failed for kClaimRetryFor already.
        const auto now = std::chrono::steady_clock::now();
        const auto since = claim_failing_since.try_emplace(doc, now).first->second;
        if (now - since < kClaimRetryFor) {
          auto timer = std::make_shared<asio::steady_timer>(ioc, backoff);
          timer->async_wait([this, doc, backoff, timer](boost::system::error_code ec) {
            if (ec) return;
            start_claim(doc, std::min(backoff * 2, kClaimBackoffMax));
          });
          return;
        }
      }
      claim_failing_since.erase(doc);
      auto callbacks = std::move(claiming[doc]);
      claiming.erase(doc);
      CONVLAB_ASSERT(claim_waiters >= callbacks.size());
      claim_waiters -= callbacks.size();
      if (!ok) {
        const std::string why = "store unavailable: " + value;
        for (auto& cb : callbacks) cb(&why);
        return;
      }
      claimed[doc] = value;
      for (auto& cb : callbacks) with_claim(doc, std::move(cb));
    });
  });
}

void App::on_store_reply(StoreReply reply) {
  auto it = store_calls.find(reply.id);
  if (it == store_calls.end()) return;
  const StoreCall call = it->second;
  store_calls.erase(it);
  if (call.kind == StoreRequest::Kind::kAppend) {
    CONVLAB_ASSERT(appends_in_flight > 0);
    --appends_in_flight;
    if (!reply.ok) metrics.append_failed();
    // bus: redis: published after the commit, as the simulator's Redis::publish_after_commit.
    if (reply.ok && redis && !call.publish.empty()) {
      redis->publish(call.doc, reply.first_index, wall_ms() * 1000, call.publish);
    }
  }
  reply.id = call.local_id;
  call.slot->node->on_store(reply);
  after_node_call();
}

void App::from_store(FromStore item) {
  bool first = false;
  {
    std::lock_guard lock(inbox_mu);
    if (std::holds_alternative<BusRecord>(item)) {
      if (inbox_records >= kInboxRecordsMax) {
        ++inbox_dropped;
        return;
      }
      ++inbox_records;
    }
    first = inbox.empty();
    inbox.push_back(std::move(item));
  }
  if (first) asio::post(ioc, [this] { drain_inbox(); });
}

void App::drain_inbox() {
  inbox_now.clear();
  std::size_t dropped = 0;
  {
    std::lock_guard lock(inbox_mu);
    inbox_now.swap(inbox);
    inbox_records = 0;
    dropped = inbox_dropped;
    inbox_dropped = 0;
  }
  if (dropped > 0) {
    LogLine{} << "dropped " << dropped << " record(s) from other servers: over " << kInboxRecordsMax
              << " waiting (the documents catch up from the log)\n";
  }
  for (FromStore& item : inbox_now) {
    if (auto* r = std::get_if<StoreReply>(&item)) {
      on_store_reply(std::move(*r));
    } else if (auto* b = std::get_if<BusRecord>(&item)) {
      on_bus(*b);
    } else {
      on_bus_state(std::get<BusState>(item));
    }
  }
  inbox_now.clear();
}

void App::on_bus(const BusRecord& r) {
  auto c = claimed.find(r.doc);
  if (c == claimed.end()) return;  // never opened here: it loads from the store when needed
  auto s = slots.find(c->second);
  if (s == slots.end()) return;
  s->second->node->on_bus(r.doc, r.record);
  after_node_call();
}

void App::on_bus_state(BusState s) {
  metrics.bus_up(s.up);
  for (auto& [name, slot] : slots) {
    slot->node->on_bus_state(s.up);
    after_node_call();
  }
}

void App::on_revoked(const std::string& jti) {
  if (revoked_jtis.insert(jti).second) {
    revoked_order.push_back(jti);
    if (revoked_order.size() > kRevokedJtisMax) {
      revoked_jtis.erase(revoked_order.front());
      revoked_order.pop_front();
    }
  }
  CONVLAB_ASSERT(revoked_jtis.size() == revoked_order.size() && revoked_jtis.size() <= kRevokedJtisMax);
  if (!cfg.node.check_revocation) return;
  for (auto& [conn, s] : sessions) {
    if (s->jti() == jti) {
      metrics.token_refused("revoked");
      s->close(close_code::kTokenRevoked, "token revoked");
    }
  }
}

// ---------------------------------------------------------------------------------- drain
void App::start_drain() {
  if (draining) return;
  draining = true;
  LogLine{} << "draining (" << appends_in_flight << " appends in flight, " << sessions.size()
            << " connections)\n";
  boost::system::error_code ignored;
  acceptor.close(ignored);
  const auto deadline = Clock::now() + std::chrono::milliseconds(cfg.limits.shutdown_grace_ms);
  auto timer = std::make_shared<asio::steady_timer>(ioc);
  // The check re-arms itself; the pending wait's handler is what keeps it alive, so it ends
  // when it stops re-arming.
  auto check = std::make_shared<std::function<void()>>();
  *check = [this, timer, weak = std::weak_ptr(check), deadline, closed = false]() mutable {
    const bool late = Clock::now() >= deadline;
    if (!closed) {
      bool flushed = appends_in_flight == 0 && claiming.empty();
      for (auto& [conn, s] : sessions) flushed = flushed && s->idle_out();
      // Forwarded edits still waiting for their home's answer.
      for (auto& [peer, conns] : forwarded) flushed = flushed && conns.empty();
      if (flushed || late) {
        if (late) LogLine{} << "grace period over with " << appends_in_flight << " appends in flight\n";
        closed = true;
        for (auto& [conn, s] : std::map(sessions)) s->close(close_code::kGoingAway, "server shutting down");
      }
    } else if ((sessions.empty() && links_flushed()) || late) {
      ioc.stop();
      return;
    }
    timer->expires_after(std::chrono::milliseconds(10));
    timer->async_wait([again = weak.lock()](boost::system::error_code ec) {
      if (!ec && again) (*again)();
    });
  };
  (*check)();
}

}  // namespace convlab::net
