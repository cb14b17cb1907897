// A quick local load against a running convlab-server (the real benchmark is convlab-load's):
// N WebSocket clients, logged in with the lab password, each on one of D documents, each typing
// one character, waiting for the acknowledgement, typing the next (closed loop) for T seconds.
// Prints edits/s and the client-side ack latency (p50, p99, max).
//
//   server_quick_load --port P [--connections 300] [--docs 30] [--seconds 10]
//                     [--password lab] [--strategy crdt]
#include "server/core/protocol.hpp"
#include "server/strategies/registry.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Totals {
  std::vector<double> latencies_ms;
  std::size_t acked = 0;
  std::size_t errors = 0;
  bool measuring = false;
  bool stopping = false;
};

struct LoginInfo {
  std::string token;
  std::uint32_t agent = 0;
};

LoginInfo login(asio::io_context& ioc, unsigned short port, const std::string& user, const std::string& password) {
  beast::tcp_stream s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req(http::verb::post, "/login", 11);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  req.body() = json::serialize(json::object{{"user", user}, {"password", password}});
  req.prepare_payload();
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  if (res.result_int() != 200) throw std::runtime_error("login failed: " + res.body());
  json::value v = json::parse(res.body());
  return {std::string(v.at("token").as_string()), static_cast<std::uint32_t>(v.at("agent").to_number<std::uint64_t>())};
}

class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(asio::io_context& ioc, const convlab::Strategy& s, LoginInfo l, std::uint32_t doc, Totals& t)
      : ws_(ioc), strategy_(s), login_(std::move(l)), doc_(doc), totals_(t), replica_(s.make_client(login_.agent)) {}

  void start(unsigned short port) {
    beast::get_lowest_layer(ws_).async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [self = shared_from_this()](beast::error_code ec) {
          if (ec) return self->fail("connect", ec);
          beast::get_lowest_layer(self->ws_).socket().set_option(tcp::no_delay(true));
          self->ws_.set_option(websocket::stream_base::decorator(
              [tok = self->login_.token](websocket::request_type& r) { r.set(http::field::authorization, "Bearer " + tok); }));
          self->ws_.async_handshake("127.0.0.1", "/ws", [self](beast::error_code e2) {
            if (e2) return self->fail("handshake", e2);
            self->ws_.binary(true);
            self->send(convlab::encode_frame(convlab::Frame{convlab::FrameKind::kHello, self->doc_, {}, {}}));
            self->read();
          });
        });
  }

 private:
  void fail(const char* what, beast::error_code ec) {
    if (totals_.stopping) return;
    ++totals_.errors;
    if (totals_.errors < 5) std::cerr << "client: " << what << ": " << ec.message() << "\n";
  }

  void send(convlab::Bytes bytes) {
    out_.push_back(std::move(bytes));
    if (out_.size() == 1) write();
  }
  void write() {
    ws_.async_write(asio::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail("write", ec);
      self->out_.pop_front();
      if (!self->out_.empty()) self->write();
    });
  }
  void read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail("read", ec);
      const auto d = self->in_.cdata();
      auto f = convlab::decode_frame(std::span(static_cast<const std::uint8_t*>(d.data()), d.size()));
      self->in_.consume(self->in_.size());
      if (f) self->on_frame(*f);
      self->read();
    });
  }
  void on_frame(const convlab::Frame& f) {
    if (f.kind == convlab::FrameKind::kRefused) {
      ++totals_.errors;
      return;
    }
    if (f.kind != convlab::FrameKind::kWelcome && f.kind != convlab::FrameKind::kDeliver) return;
    auto back = replica_->receive(f.payload);
    if (!back) return;
    for (auto& b : *back) send(convlab::encode_frame(convlab::Frame{convlab::FrameKind::kEdit, doc_, std::move(b), {}}));
    if (f.kind == convlab::FrameKind::kWelcome) return type();
    if (waiting_ && replica_->synced()) {
      waiting_ = false;
      if (totals_.measuring) {
        totals_.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent_at_).count());
        ++totals_.acked;
      }
      type();
    }
  }
  void type() {
    if (totals_.stopping) return;
    // Keep the document small: delete when it grows past 200 characters.
    const std::size_t len = replica_->length();
    convlab::Splice e{len > 200 ? 0 : len, len > 200 ? 100u : 0u, len > 200 ? U"" : U"a"};
    sent_at_ = Clock::now();
    waiting_ = true;
    for (auto& b : replica_->local_edit(e, 0)) {
      send(convlab::encode_frame(convlab::Frame{convlab::FrameKind::kEdit, doc_, std::move(b), {}}));
    }
  }

  websocket::stream<beast::tcp_stream> ws_;
  const convlab::Strategy& strategy_;
  LoginInfo login_;
  std::uint32_t doc_;
  Totals& totals_;
  std::unique_ptr<convlab::ClientReplica> replica_;
  beast::flat_buffer in_;
  std::deque<convlab::Bytes> out_;
  bool waiting_ = false;
  Clock::time_point sent_at_;
};

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  std::size_t connections = 300;
  std::uint32_t docs = 30;
  int seconds = 10;
  std::string password = "lab";
  std::string strategy = "crdt";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--port") port = static_cast<unsigned short>(std::stoi(v));
    else if (k == "--connections") connections = std::stoul(v);
    else if (k == "--docs") docs = static_cast<std::uint32_t>(std::stoul(v));
    else if (k == "--seconds") seconds = std::stoi(v);
    else if (k == "--password") password = v;
    else if (k == "--strategy") strategy = v;
    else {
      std::cerr << "server_quick_load: unknown flag " << k << "\n";
      return 2;
    }
  }
  const convlab::Strategy* s = convlab::find_strategy(strategy);
  if (port == 0 || s == nullptr || docs == 0) {
    std::cerr << "usage: server_quick_load --port P [--connections N] [--docs D] [--seconds T] [--password P] "
                 "[--strategy lww|seq|ot|crdt]\n";
    return 2;
  }
  asio::io_context ioc;
  Totals totals;
  std::cerr << "logging in " << connections << " clients...\n";
  std::vector<std::shared_ptr<Client>> clients;
  for (std::size_t i = 0; i < connections; ++i) {
    LoginInfo l = login(ioc, port, "load" + std::to_string(i), password);
    clients.push_back(std::make_shared<Client>(ioc, *s, std::move(l), 1000 + static_cast<std::uint32_t>(i % docs), totals));
  }
  for (auto& c : clients) c->start(port);
  // Two seconds of warm-up, then the measured window.
  asio::steady_timer timer(ioc, std::chrono::seconds(2));
  Clock::time_point began;
  timer.async_wait([&](beast::error_code) {
    totals.measuring = true;
    began = Clock::now();
    std::cerr << "measuring for " << seconds << " s...\n";
    timer.expires_after(std::chrono::seconds(seconds));
    timer.async_wait([&](beast::error_code) {
      totals.measuring = false;
      totals.stopping = true;
      ioc.stop();
    });
  });
  ioc.run();
  const double elapsed = std::chrono::duration<double>(Clock::now() - began).count();
  auto& l = totals.latencies_ms;
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) { return l.empty() ? 0.0 : l[std::min(l.size() - 1, static_cast<std::size_t>(p * static_cast<double>(l.size())))]; };
  std::printf("strategy=%s connections=%zu docs=%u seconds=%.1f acked_edits=%zu edits_per_s=%.0f ack_ms_p50=%.2f "
              "ack_ms_p99=%.2f ack_ms_max=%.2f errors=%zu\n",
              strategy.c_str(), connections, docs, elapsed, totals.acked, static_cast<double>(totals.acked) / elapsed,
              pct(0.5), pct(0.99), l.empty() ? 0.0 : l.back(), totals.errors);
  return 0;
}
