// Node, what is not the edit stream: API reads of a document (HTTP GET: tokens checked, a load
// from the primary or a replica, fencing), the title register (renames) and revocation.
#include "server/core/node.hpp"

#include "server/core/assert.hpp"

#include <algorithm>

namespace convlab {

namespace {
// The answer to an API read the node refuses: no body, and nothing a CDN may cache.
HttpResponse refused(const HttpGet& request, int status, std::string why) {
  HttpResponse r;
  r.id = request.id;
  r.doc = request.doc;
  r.status = status;
  r.why = std::move(why);
  r.no_store = true;
  return r;
}
}  // namespace

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
  r.no_store = config_.api_cache == NodeConfig::ApiCache::kNoStore;
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
  // A past version is replayed from the change log, which the primary holds.
  const bool primary = request.as_of > 0 || config_.api_read == R::kPrimary ||
                       (config_.api_read == R::kSessionPrimary && request.session_version > 0);
  http_read(request, !primary);
}

void Node::http_read(const HttpGet& request, bool from_replica) {
  if (http_.size() >= config_.http_reads_max) {
    return io_.respond(refused(request, 503, "overloaded: too many API reads waiting for the store"));
  }
  StoreRequest req;
  req.kind = StoreRequest::Kind::kLoad;
  req.id = next_request_++;
  req.doc = request.doc;
  req.replica = from_replica;
  req.upto = request.as_of;
  req.purpose = request.as_of > 0 ? "api_version" : from_replica ? "api_replica" : "api_primary";
  http_[req.id] = PendingHttp{request, from_replica};
  CONVLAB_ASSERT(http_.size() <= config_.http_reads_max);
  io_.store(std::move(req));
}

void Node::http_loaded(const StoreReply& reply) {
  auto it = http_.find(reply.id);
  CONVLAB_ASSERT(it != http_.end());
  const PendingHttp pending = std::move(it->second);
  http_.erase(it);
  if (!reply.ok) {
    // Not an empty document: no answer to cache. The reader may try again.
    io_.log_error("document " + std::to_string(pending.request.doc) + ": the store failed an API read; answered 503");
    return io_.respond(refused(pending.request, 503, "the store failed to read the document"));
  }
  const std::uint64_t as_of = pending.request.as_of;
  if (as_of > reply.latest) {
    return io_.respond(refused(pending.request, 404,
                               "version " + std::to_string(as_of) + " of document " + std::to_string(pending.request.doc) +
                                   " does not exist: its log has " + std::to_string(reply.latest) + " records"));
  }
  auto replica = strategy_.make_server();
  auto recovered = recover_replica(*replica, reply.has_snapshot, reply.snapshot, reply.snapshot_index, reply.records);
  if (!recovered) {
    // A stored log that does not replay is the store's fault or a strategy's bug, never a
    // reason to stop serving the other documents.
    io_.log_error("document " + std::to_string(pending.request.doc) + ": the stored log does not replay (" +
                  recovered.error().message + "); API read refused");
    return io_.respond(refused(pending.request, 500, "the document cannot be read: its stored log does not replay"));
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
  r.source = as_of > 0 ? "version" : pending.from_replica ? "replica" : "primary";
  // A past version has its own URL: not the document a cache keyed by it would serve.
  r.no_store = as_of > 0 || config_.api_cache == NodeConfig::ApiCache::kNoStore;
  io_.respond(r);
}

void Node::handle_rename(std::uint32_t doc, ConnId conn, std::span<const std::uint8_t> payload) {
  auto rename = decode_rename(payload);
  if (!rename) return refuse(conn, doc, "bad rename: " + rename.error().message);
  TitleReg& t = titles_[doc];
  TitleMsg answer;
  if (config_.rename == NodeConfig::Rename::kNotice && rename->base != t.version) {
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

}  // namespace convlab
