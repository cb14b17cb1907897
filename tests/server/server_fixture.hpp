#pragma once
// What the tests of the real convlab-server share (server_*_test.cpp): the config they start it
// with, a client replica on a WebSocket (Editor), tokens made up on the spot, and reading
// /api/documents and /metrics. The binary runs as a child process (client.hpp).
#include "tests/server/client.hpp"

#include "server/auth/jwt.hpp"
#include "server/core/protocol.hpp"
#include "server/core/utf8.hpp"
#include "server/net/peer_wire.hpp"
#include "server/strategies/registry.hpp"
#include "tests/pg/pg_fixture.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <span>
#include <string>
#include <utility>
#include <sstream>
#include <thread>

namespace convlab::test {

inline constexpr const char* kSecret = "test-secret-0123456789abcdef-0123456789";

inline std::string yaml_for(const std::string& url, const std::string& strategy, const std::string& extra = {}) {
  return "listen: 127.0.0.1:0\n"
         "database: \"" + url + "\"\n"
         "strategy: " + strategy + "\n"
         "jwt:\n"
         "  secret: \"" + kSecret + "\"\n"
         "users:\n"
         "  alice: alice-pw\n"
         "  bob: bob-pw\n"
         "lab_password: lab-pw\n" + extra;
}

inline Bytes frame_bytes(FrameKind kind, std::uint32_t doc, Bytes payload = {}) {
  return encode_frame(Frame{kind, doc, std::move(payload), {}});
}

// A client replica of one document on one WebSocket, speaking binary or JSON frames; with
// `ask_versions` its hello asks for `version` frames (docs/protocol.md, "Versions"), each kept in
// `versions` with the kind of the frame it came before.
class Editor {
 public:
  Editor(unsigned short port, const Login& l, const Strategy& s, std::uint32_t doc, bool json_form = false,
         bool ask_versions = false)
      : ws(port, l.token), strategy_(s), doc_(doc), json_(json_form), ask_(ask_versions),
        replica_(s.make_client(l.agent)) {}

  // Each `version` frame's number with the kind of the frame that followed it (any that comes is
  // kept, asked for or not).
  std::vector<std::pair<FrameKind, std::uint64_t>> versions;

  // hello, then the welcome.
  ::testing::AssertionResult open() {
    if (json_) {
      ws.send_text(R"({"type":"hello","doc":)" + std::to_string(doc_) + (ask_ ? R"(,"versions":true})" : "}"));
    } else {
      ws.send_binary(frame_bytes(FrameKind::kHello, doc_, ask_ ? Bytes{kHelloVersions} : Bytes{}));
    }
    for (int i = 0; i < 100; ++i) {
      auto f = next();
      if (!f) return ::testing::AssertionFailure() << "no welcome; closed with " << ws.close_code();
      if (f->kind == FrameKind::kRefused) return ::testing::AssertionFailure() << "refused: " << f->text;
      if (f->kind == FrameKind::kWelcome) {
        auto back = replica_->receive(f->payload);
        if (!back) return ::testing::AssertionFailure() << "welcome does not apply: " << back.error().message;
        send_all(*back);
        return ::testing::AssertionSuccess();
      }
    }
    return ::testing::AssertionFailure() << "no welcome among 100 frames";
  }

  void insert(std::uint64_t pos, const std::u32string& text) {
    send_all(replica_->local_edit(Splice{pos, 0, text}, 1000));
  }

  // Reads and applies frames until every local edit is acknowledged (bounded).
  ::testing::AssertionResult sync() {
    for (int i = 0; i < 10000 && !replica_->synced(); ++i) {
      auto f = next();
      if (!f) return ::testing::AssertionFailure() << "connection ended (close " << ws.close_code() << " "
                                                   << ws.close_reason() << ") before the acknowledgement";
      if (auto r = apply(*f); !r) return r;
    }
    return replica_->synced() ? ::testing::AssertionSuccess() : ::testing::AssertionFailure() << "never synced";
  }

  // Reads and applies frames until the text is `want` (bounded).
  ::testing::AssertionResult wait_text(const std::u32string& want) {
    for (int i = 0; i < 10000 && replica_->text() != want; ++i) {
      auto f = next();
      if (!f) return ::testing::AssertionFailure() << "connection ended; text is '" << utf8_encode(replica_->text()) << "'";
      if (auto r = apply(*f); !r) return r;
    }
    if (replica_->text() == want) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "after 10000 frames the text is '" << utf8_encode(replica_->text())
                                         << "', not '" << utf8_encode(want) << "'";
  }

  std::u32string text() const { return replica_->text(); }
  bool synced() const { return replica_->synced(); }
  std::vector<std::string> refusals;

  // The next frame; a `version` frame is kept with the frame after it, which is returned.
  std::optional<Frame> next() {
    auto f = next_raw();
    if (f && f->kind == FrameKind::kVersion) {
      auto v = decode_version(f->payload);
      EXPECT_TRUE(v.has_value()) << "a version frame that does not decode";
      f = next_raw();
      EXPECT_TRUE(!f || f->kind != FrameKind::kVersion) << "two version frames in a row";
      if (f && v) versions.emplace_back(f->kind, *v);
    }
    return f;
  }

  std::optional<Frame> next_raw() {
    auto m = ws.read();
    if (!m) return std::nullopt;
    if (m->text != json_) {
      ADD_FAILURE() << "answer in the other form than the client's";
    }
    if (!m->text) {
      auto f = decode_frame(std::span(reinterpret_cast<const std::uint8_t*>(m->data.data()), m->data.size()));
      EXPECT_TRUE(f.has_value()) << "server sent an undecodable frame";
      return f ? std::optional<Frame>(std::move(*f)) : std::nullopt;
    }
    json::value v = json::parse(m->data);
    Frame f;
    f.doc = static_cast<std::uint32_t>(v.at("doc").to_number<std::uint64_t>());
    const std::string type(v.at("type").as_string());
    if (type == "welcome" || type == "deliver") {
      f.kind = type == "welcome" ? FrameKind::kWelcome : FrameKind::kDeliver;
      auto b = strategy_.from_json(v.at("msg"));
      EXPECT_TRUE(b.has_value());
      if (b) f.payload = std::move(*b);
    } else if (type == "version") {
      f.kind = FrameKind::kVersion;
      f.payload = encode_version(v.at("version").to_number<std::uint64_t>());
    } else if (type == "refused") {
      f.kind = FrameKind::kRefused;
      f.text = std::string(v.at("reason").as_string());
    } else {
      f.kind = FrameKind::kTitle;
    }
    return f;
  }

  Ws ws;

  ::testing::AssertionResult apply(const Frame& f) {
    if (f.kind == FrameKind::kRefused) {
      refusals.push_back(f.text);
      return ::testing::AssertionSuccess();
    }
    if (f.kind != FrameKind::kDeliver) return ::testing::AssertionSuccess();
    auto back = replica_->receive(f.payload);
    if (!back) return ::testing::AssertionFailure() << "deliver does not apply: " << back.error().message;
    send_all(*back);
    return ::testing::AssertionSuccess();
  }

 private:
  void send_all(const std::vector<Bytes>& msgs) {
    for (const Bytes& m : msgs) {
      if (json_) {
        auto j = strategy_.to_json(m);
        ASSERT_TRUE(j.has_value());
        json::object o;
        o["type"] = "edit";
        o["doc"] = doc_;
        o["msg"] = *j;
        ws.send_text(json::serialize(o));
      } else {
        ws.send_binary(frame_bytes(FrameKind::kEdit, doc_, m));
      }
    }
  }

  const Strategy& strategy_;
  std::uint32_t doc_;
  bool json_;
  bool ask_;
  std::unique_ptr<ClientReplica> replica_;
};

inline std::string document_text(unsigned short port, const std::string& token, std::uint32_t doc) {
  HttpAnswer a = http_request(port, http::verb::get, "/api/documents/" + std::to_string(doc), {}, token);
  EXPECT_EQ(a.status, 200) << a.body;
  if (a.status != 200) return {};
  return std::string(a.json().at("text").as_string());
}

// The value of a metric series (exact name with labels) in /metrics, or -1 when absent.
inline double metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

// What `promtool check metrics` says of a /metrics exposition: its exit status and its output
// (empty when the exposition lints clean).
inline std::pair<int, std::string> promtool_lint(const std::string& exposition) {
  const TempDir dir;
  const auto file = dir.path() / "metrics.txt";
  std::ofstream(file) << exposition;
  const std::string cmd = "promtool check metrics < " + file.string() + " > " + file.string() + ".out 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream out(file.string() + ".out");
  return {rc, std::string((std::istreambuf_iterator<char>(out)), {})};
}

inline std::string b64url(std::string_view in) { return auth::detail::base64url_encode(in); }

inline auth::Claims claims_now(std::int64_t exp_offset_s) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  auth::Claims c;
  c.user = 1;
  c.sub = "alice";
  c.agent = 999;
  c.jti = "forged-" + std::to_string(now) + std::to_string(exp_offset_s);
  c.iss = "convlab";
  c.aud = "convlab";
  c.iat = now - 100;
  c.nbf = now - 100;
  c.exp = now + exp_offset_s;
  return c;
}

// Alice's editor of `doc` with `text` acknowledged: what must stay whatever the edge tests try.
inline std::unique_ptr<Editor> acknowledged(unsigned short port, const Login& alice, std::uint32_t doc,
                                            const std::u32string& text) {
  auto e = std::make_unique<Editor>(port, alice, *find_strategy("crdt"), doc);
  EXPECT_TRUE(e->open());
  e->insert(0, text);
  EXPECT_TRUE(e->sync());
  return e;
}

inline int connect_close_code(unsigned short port, const std::string& token, Ws::Auth how = Ws::Auth::kBearer) {
  Ws ws(port, token, how);
  return ws.read_until_close();
}

inline Frame decode_message(const Ws::Message& m) {
  auto f = decode_frame(std::span(reinterpret_cast<const std::uint8_t*>(m.data.data()), m.data.size()));
  EXPECT_TRUE(f.has_value());
  return f ? *f : Frame{};
}

#define START_SERVER(var, yaml)                                                                   \
  ServerProcess var(yaml);                                                                         \
  ASSERT_TRUE(var.started()) << "first line '" << var.first_line() << "'; stderr:\n" << var.stderr_text()

}  // namespace convlab::test
