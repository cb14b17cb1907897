#include "workload/replay.hpp"

#include <deque>

namespace convlab {

namespace {

Error patch_error(const SequentialTrace&, std::uint64_t n, const Splice& p, std::size_t len) {
  return make_error("patch " + std::to_string(n) + " [" + std::to_string(p.pos) + ", " + std::to_string(p.del) +
                    "] does not fit a document of " + std::to_string(len) + " characters");
}

}  // namespace

Result<ReplayResult> replay_local(const Strategy& s, const SequentialTrace& t) {
  if (!t.start_content.empty()) return make_error("traces with a non-empty startContent are not supported");
  auto client = s.make_client(0);
  ReplayResult r;
  std::int64_t clock_ms = 0;
  for (const Splice& p : t.patches) {
    const std::size_t len = client->length();
    if (p.pos > len || p.del > len - p.pos) return patch_error(t, r.patches, p, len);
    client->local_edit(p, ++clock_ms);
    ++r.patches;
  }
  r.text = client->text();
  return r;
}

Result<ReplayResult> replay_relayed(const Strategy& s, const SequentialTrace& t) {
  if (!t.start_content.empty()) return make_error("traces with a non-empty startContent are not supported");
  auto a = s.make_client(0);
  auto b = s.make_client(1);
  auto server = s.make_server();
  ReplayResult r;

  // Messages queued per link, delivered in FIFO order once A's edit is made.
  std::deque<Bytes> a_to_server;
  auto pump = [&]() -> Result<void> {
    while (!a_to_server.empty()) {
      Bytes m = std::move(a_to_server.front());
      a_to_server.pop_front();
      ++r.messages;
      r.wire_bytes += m.size();
      auto out = server->receive(a->agent(), m, static_cast<std::int64_t>(r.patches));
      if (!out) return make_error("server refused a message from A: " + out.error().message);
      for (Bytes& x : out->broadcast) {
        ++r.messages;
        r.wire_bytes += x.size();
        auto back = b->receive(x);
        if (!back) return make_error("B refused a message: " + back.error().message);
        // B made no edits, so it has nothing to say back; anything it says goes to the server.
        for (Bytes& y : *back) {
          auto o2 = server->receive(b->agent(), y, static_cast<std::int64_t>(r.patches));
          if (!o2) return make_error("server refused a message from B: " + o2.error().message);
        }
      }
      for (Bytes& x : out->to_sender) {
        ++r.messages;
        r.wire_bytes += x.size();
        auto back = a->receive(x);
        if (!back) return make_error("A refused a reply: " + back.error().message);
        for (Bytes& y : *back) a_to_server.push_back(std::move(y));
      }
    }
    return {};
  };

  // B starts from the server's welcome, as a client joining the document would.
  if (auto w = b->receive(server->welcome()); !w) return make_error("B refused the welcome: " + w.error().message);

  std::int64_t clock_ms = 0;
  for (const Splice& p : t.patches) {
    const std::size_t len = a->length();
    if (p.pos > len || p.del > len - p.pos) return patch_error(t, r.patches, p, len);
    for (Bytes& m : a->local_edit(p, ++clock_ms)) a_to_server.push_back(std::move(m));
    ++r.patches;
    if (auto ok = pump(); !ok) return ok.error();
  }
  if (auto ok = pump(); !ok) return ok.error();
  r.text = b->text();
  if (!a->synced()) return make_error("A still has unacknowledged edits after every message was delivered");
  if (a->text() != r.text) return make_error("A and B differ after every message was delivered");
  if (server->text() != r.text) return make_error("the server and B differ after every message was delivered");
  return r;
}

}  // namespace convlab
