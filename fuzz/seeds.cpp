// convlab-fuzz-seeds DIR: writes the seed corpora of the binary targets (fuzz/corpus/NAME/ in the
// repository was made by it; docs/fuzzing.md) from real messages: what each strategy's client
// replicas send while two clients edit one document, the frames the tests use, a node message
// of each kind, tokens signed with the targets' secret. The YAML and history seeds are files of
// scenarios/ and histories the simulator wrote, copied by hand.
#include "server/auth/jwt.hpp"
#include "server/core/protocol.hpp"
#include "server/core/wire.hpp"
#include "server/net/frames.hpp"
#include "server/net/peer_wire.hpp"
#include "server/strategies/registry.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

using namespace convlab;
namespace fs = std::filesystem;

fs::path g_dir;

void write(const std::string& target, const std::string& name, std::span<const std::uint8_t> bytes) {
  const fs::path dir = g_dir / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
void write(const std::string& target, const std::string& name, std::uint8_t mode, std::string_view text) {
  Bytes b{mode};
  b.insert(b.end(), text.begin(), text.end());
  write(target, name, b);
}

struct Sent {
  AgentId agent;
  Bytes msg;
};

// Two clients of `s` edit one document through one server replica; every client message, in the
// order the server received it.
std::vector<Sent> session(const Strategy& s) {
  auto server = s.make_server();
  std::vector<std::unique_ptr<ClientReplica>> clients;
  clients.push_back(s.make_client(1));
  clients.push_back(s.make_client(2));
  std::vector<Sent> sent;
  std::int64_t clock = 1000;
  std::vector<std::pair<std::size_t, Bytes>> queue;  // (client index, message to the server)
  auto pump = [&] {
    while (!queue.empty()) {
      auto [c, msg] = queue.front();
      queue.erase(queue.begin());
      sent.push_back({clients[c]->agent(), msg});
      auto out = server->receive(clients[c]->agent(), msg, clock += 10);
      if (!out) continue;
      for (const Bytes& b : out->to_sender) {
        auto back = clients[c]->receive(b);
        if (back) for (Bytes& m : *back) queue.emplace_back(c, std::move(m));
      }
      for (const Bytes& b : out->broadcast) {
        auto back = clients[1 - c]->receive(b);
        if (back) for (Bytes& m : *back) queue.emplace_back(1 - c, std::move(m));
      }
    }
  };
  const Bytes welcome = server->welcome();
  for (auto& c : clients) (void)c->receive(welcome);
  const std::vector<std::pair<std::size_t, Splice>> edits = {
      {0, {0, 0, U"hello\n"}}, {1, {0, 0, U"wörld\n"}}, {0, {2, 2, U"LL"}}, {1, {1, 0, U"✓ é"}}, {0, {0, 3, U""}}};
  for (const auto& [c, e] : edits) {
    Splice fit = e;
    fit.pos = std::min<std::uint64_t>(fit.pos, clients[c]->length());
    fit.del = std::min<std::uint64_t>(fit.del, clients[c]->length() - fit.pos);
    for (Bytes& m : clients[c]->local_edit(fit, clock)) queue.emplace_back(c, std::move(m));
    pump();
  }
  return sent;
}

Bytes replica_input(std::size_t strategy_index, const std::vector<Sent>& sent, std::size_t n) {
  Writer w;
  w.u8(static_cast<std::uint8_t>(strategy_index));
  for (std::size_t i = 0; i < n && i < sent.size(); ++i) {
    w.varint(sent[i].agent);
    w.bytes(sent[i].msg);
  }
  return w.take();
}

void frame_seeds(const std::string& target) {
  const auto all = strategies();
  for (std::size_t si = 0; si < all.size(); ++si) {
    const Strategy& s = *all[si];
    const std::vector<Sent> sent = session(s);
    if (sent.empty()) continue;
    const auto mode = [&](bool batch, bool text) {
      return static_cast<std::uint8_t>((si << 2) | (text ? 2 : 0) | (batch ? 1 : 0));
    };
    std::vector<Frame> frames = {Frame{FrameKind::kHello, 3, {}, {}}, Frame{FrameKind::kEdit, 3, sent.front().msg, {}},
                                 Frame{FrameKind::kSubscribe, 3, encode_subscribe(41), {}},
                                 Frame{FrameKind::kSubscribe, 3, encode_subscribe(41, /*versions=*/true), {}},
                                 Frame{FrameKind::kRename, 3, encode_rename(RenameMsg{2, "Plan ✓"}), {}}};
    const std::string name(s.name);
    Bytes one{mode(false, false)};
    const Bytes edit = encode_frame(frames[1]);
    one.insert(one.end(), edit.begin(), edit.end());
    write(target, name + "-edit.bin", one);
    Bytes batch{mode(true, false)};
    const Bytes b = encode_batch(frames);
    batch.insert(batch.end(), b.begin(), b.end());
    write(target, name + "-batch.bin", batch);
    auto msg = s.to_json(sent.front().msg);
    if (msg) {
      boost::json::object o{{"type", "edit"}, {"doc", 3}, {"msg", *msg}};
      write(target, name + "-edit.json", mode(false, true), boost::json::serialize(o));
      boost::json::array a{boost::json::object{{"type", "hello"}, {"doc", 3}}, o,
                           boost::json::object{{"type", "subscribe"}, {"doc", 3}, {"version", 41}},
                           boost::json::object{{"type", "rename"}, {"doc", 3}, {"base", 2}, {"title", "Plan ✓"}}};
      write(target, name + "-batch.json", mode(true, true), boost::json::serialize(a));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: convlab-fuzz-seeds DIR (writes DIR/TARGET/...)\n");
    return 2;
  }
  g_dir = argv[1];
  frame_seeds("frames");
  frame_seeds("frames_diff");

  const auto all = strategies();
  for (std::size_t si = 0; si < all.size(); ++si) {
    const std::vector<Sent> sent = session(*all[si]);
    const std::string name(all[si]->name);
    write("replica", name + "-first", replica_input(si, sent, 1));
    write("replica", name + "-session", replica_input(si, sent, sent.size()));
    if (si == 0) {
      NodeMessage edit{NodeMessage::Kind::kForwardEdit, 1, 17, 5, 3, 0, sent.front().msg, {}};
      write("peer_wire", "forward-edit", net::encode_peer_message({"lww", edit}));
      NodeMessage reply{NodeMessage::Kind::kForwardReply, 0, 17, 5, 3, 9, {}, {sent.front().msg, Bytes{1, 2}}};
      write("peer_wire", "forward-reply", net::encode_peer_message({"ot", reply}));
      NodeMessage reset{NodeMessage::Kind::kDocReset, 2, 0, 0, 3, 0, {}, {}};
      write("peer_wire", "doc-reset", net::encode_peer_message({"seq", reset}));
    }
  }

  const std::string secret(32, 'k');  // fuzz/jwt.cpp's secret
  auth::Claims c;
  c.user = 7;
  c.sub = "ada";
  c.agent = 12;
  c.jti = "t-1";
  c.iss = "convlab";
  c.aud = "convlab";
  c.iat = 1'799'999'000;
  c.exp = 1'800'000'900;
  write("jwt", "valid-token", 0, auth::sign_hs256(c, secret));
  write("jwt", "none-token", 0, "eyJhbGciOiJub25lIn0.eyJ1aWQiOjF9.");
  const std::string payload =
      R"({"uid":7,"sub":"ada","agt":12,"jti":"t-1","iss":"convlab","aud":["x","convlab"],"iat":1799999000,"exp":1800000900})";
  write("jwt", "signed-claims", 1, std::string(R"({"alg":"HS256","typ":"JWT"})") + '\0' + payload);
  write("jwt", "signed-expired", 1, std::string(R"({"alg":"HS256"})") + '\0' + R"({"uid":1,"iss":"convlab","aud":"convlab","exp":5})");

  auto http = [&](const std::string& name, const std::string& text) {
    write("http_request", name, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  };
  http("ws-query", "GET /ws?doc=1&token=abc.def.ghi HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nOrigin: http://localhost:8080\r\n\r\n");
  http("cookie-foreign", "GET /ws HTTP/1.1\r\nHost: lab.example\r\nCookie: a=b; convlab_token=xyz\r\n"
                         "Origin: https://evil.example\r\n\r\n");
  http("login", "POST /login HTTP/1.1\r\nHost: lab.example\r\nContent-Type: application/json\r\nContent-Length: 34\r\n"
                "Origin: https://app.example\r\n\r\n{\"user\":\"ada\",\"password\":\"secret\"}");
  http("bearer", "GET /api/documents/3 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\n\r\n");
  return 0;
}
