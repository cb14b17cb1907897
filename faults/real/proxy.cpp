// The fault proxy on Boost.Asio (the edge: Asio only here). One io_context on one thread; every
// connection is two Pipes (up: client -> target, down: target -> client), each a FIFO queue of
// chunks with the time each may go out. A pipe reads while its queue is under the hold limit,
// and writes its head when the head is due and its direction is not cut.
#include "faults/real/proxy.hpp"

#include "server/core/rng.hpp"

#include <boost/asio.hpp>

#include <array>
#include <chrono>
#include <deque>
#include <future>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace convlab::faults::real {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr std::size_t kChunk = 64 * 1024;

struct Chunk {
  std::vector<char> bytes;
  Clock::time_point due;
};

// Closes a socket so that the peer sees a reset, not an orderly end.
void reset(tcp::socket& s) {
  error_code ec;
  if (!s.is_open()) return;
  s.set_option(asio::socket_base::linger(true, 0), ec);
  s.close(ec);
}

}  // namespace

struct FaultProxy::Impl {
  struct Conn;
  struct Pipe {
    Pipe(asio::io_context& io, bool is_up) : up(is_up), timer(io) {}
    bool up;
    std::deque<Chunk> queue;
    std::size_t queued = 0;
    bool reading = false, writing = false, timer_armed = false, eof = false, shut = false;
    Clock::time_point last_due{};
    asio::steady_timer timer;
    std::array<char, kChunk> buf{};
  };
  struct Conn {
    Conn(asio::io_context& io, tcp::socket s) : client(std::move(s)), server(io), up(io, true), down(io, false) {}
    tcp::socket client, server;
    Pipe up, down;
    bool closed = false;
    tcp::socket& from(const Pipe& p) { return p.up ? client : server; }
    tcp::socket& to(const Pipe& p) { return p.up ? server : client; }
  };

  explicit Impl(ProxyOptions o) : opt(std::move(o)), acceptor(io), control(io), rng(opt.seed) {}

  ProxyOptions opt;
  asio::io_context io;
  tcp::acceptor acceptor;
  tcp::acceptor control;
  tcp::resolver::results_type target;
  std::set<std::shared_ptr<Conn>> conns;
  Cut cut_state = Cut::kNone;
  std::int64_t lat_min = 0, lat_max = 0;
  Rng rng;
  ProxyStats counters;  // accepted, reset, up_bytes, down_bytes
  std::thread thread;

  bool held(const Pipe& p) const { return p.up ? cuts_up(cut_state) : cuts_down(cut_state); }

  static void listen(tcp::acceptor& a, const std::string& host, std::uint16_t port) {
    error_code ec;
    const tcp::endpoint ep(asio::ip::make_address(host, ec), port);
    if (ec) throw std::runtime_error("fault proxy: '" + host + "' is not an IP address: " + ec.message());
    a.open(ep.protocol());
    a.set_option(asio::socket_base::reuse_address(true));
    a.bind(ep, ec);
    if (ec) throw std::runtime_error("fault proxy: cannot bind " + host + ":" + std::to_string(port) + ": " + ec.message());
    a.listen();
  }

  void accept() {
    acceptor.async_accept([this](error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        ++counters.accepted;
        auto c = std::make_shared<Conn>(io, std::move(s));
        conns.insert(c);
        // Connected on at once: a proxy cannot hold a handshake back, only bytes.
        asio::async_connect(c->server, target, [this, c](error_code e, const tcp::endpoint&) {
          if (e) return close(c, true);
          error_code ignored;
          c->client.set_option(tcp::no_delay(true), ignored);
          c->server.set_option(tcp::no_delay(true), ignored);
          read(c, c->up);
          read(c, c->down);
        });
      }
      accept();
    });
  }

  void read(const std::shared_ptr<Conn>& c, Pipe& p) {
    if (c->closed || p.reading || p.eof || p.queued >= opt.hold_limit) return;
    p.reading = true;
    c->from(p).async_read_some(asio::buffer(p.buf), [this, c, &p](error_code ec, std::size_t n) {
      p.reading = false;
      if (c->closed) return;
      if (ec == asio::error::eof) {
        p.eof = true;
        return pump(c, p);
      }
      if (ec) return close(c, true);  // a reset (or worse) passes on as a reset
      Clock::time_point due = Clock::now();
      if (lat_max > 0) due += std::chrono::milliseconds(rng.between(lat_min, lat_max));
      if (due < p.last_due) due = p.last_due;  // FIFO: never before the chunk ahead
      p.last_due = due;
      p.queue.push_back(Chunk{std::vector<char>(p.buf.begin(), p.buf.begin() + static_cast<std::ptrdiff_t>(n)), due});
      p.queued += n;
      pump(c, p);
      read(c, p);
    });
  }

  void pump(const std::shared_ptr<Conn>& c, Pipe& p) {
    if (c->closed || p.writing || held(p)) return;
    if (p.queue.empty()) {
      if (p.eof && !p.shut) {  // the sender finished and everything it sent went out
        p.shut = true;
        error_code ignored;
        c->to(p).shutdown(tcp::socket::shutdown_send, ignored);
        Pipe& other = p.up ? c->down : c->up;
        if (other.shut) close(c, false);
      }
      return;
    }
    const Clock::time_point due = p.queue.front().due;
    if (due > Clock::now()) {
      if (p.timer_armed) return;
      p.timer_armed = true;
      p.timer.expires_at(due);
      p.timer.async_wait([this, c, &p](error_code) {
        p.timer_armed = false;
        pump(c, p);
      });
      return;
    }
    p.writing = true;
    asio::async_write(c->to(p), asio::buffer(p.queue.front().bytes), [this, c, &p](error_code ec, std::size_t n) {
      p.writing = false;
      if (c->closed) return;
      if (ec) return close(c, true);
      (p.up ? counters.up_bytes : counters.down_bytes) += n;
      p.queued -= p.queue.front().bytes.size();
      p.queue.pop_front();
      read(c, p);  // under the hold limit again
      pump(c, p);
    });
  }

  void close(const std::shared_ptr<Conn>& c, bool rst) {
    if (c->closed) return;
    c->closed = true;
    if (rst) {
      reset(c->client);
      reset(c->server);
    } else {
      error_code ignored;
      c->client.close(ignored);
      c->server.close(ignored);
    }
    error_code ignored;
    c->up.timer.cancel(ignored);
    c->down.timer.cancel(ignored);
    conns.erase(c);
  }

  // --- the commands, on the io thread

  void set_cut(Cut c) {
    cut_state = c;
    const auto all = conns;  // pump may close (and erase) a connection
    for (const auto& conn : all) {
      pump(conn, conn->up);
      pump(conn, conn->down);
    }
  }
  void set_latency(std::int64_t lo, std::int64_t hi, std::uint64_t seed) {
    lat_min = lo;
    lat_max = hi;
    rng = Rng(seed);
  }
  void cut_all() {
    const auto all = conns;
    for (const auto& conn : all) {
      ++counters.reset;
      close(conn, true);
    }
  }
  ProxyStats snapshot() const {
    ProxyStats s = counters;
    s.open = conns.size();
    for (const auto& conn : conns) {
      s.queued_up += conn->up.queued;
      s.queued_down += conn->down.queued;
    }
    s.partition = cut_state;
    s.latency_min_ms = lat_min;
    s.latency_max_ms = lat_max;
    return s;
  }
  std::string run_line(std::string_view line) {
    auto cmd = parse_command(line);
    if (!cmd) return "error: " + cmd.error().message;
    switch (cmd->kind) {
      case ProxyCommand::Kind::kPartition: set_cut(cmd->cut); break;
      case ProxyCommand::Kind::kHeal: set_cut(Cut::kNone); break;
      case ProxyCommand::Kind::kLatency: set_latency(cmd->min_ms, cmd->max_ms, cmd->has_seed ? cmd->seed : opt.seed); break;
      case ProxyCommand::Kind::kCut: cut_all(); break;
      case ProxyCommand::Kind::kStats: return "ok " + format_stats(snapshot());
    }
    return "ok";
  }

  // Runs f on the io thread and waits for it.
  template <class F>
  auto on_io(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto done = task.get_future();
    asio::post(io, [&task] { task(); });
    return done.get();
  }

  // --- the control port: lines in, answers out

  struct ControlSession {
    explicit ControlSession(tcp::socket s) : sock(std::move(s)) {}
    tcp::socket sock;
    asio::streambuf in;
    std::string out;
  };
  void accept_control() {
    control.async_accept([this](error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !control.is_open()) return;
      if (!ec) control_read(std::make_shared<ControlSession>(std::move(s)));
      accept_control();
    });
  }
  void control_read(const std::shared_ptr<ControlSession>& cs) {
    asio::async_read_until(cs->sock, cs->in, '\n', [this, cs](error_code ec, std::size_t n) {
      if (ec) return;
      std::string line(asio::buffers_begin(cs->in.data()), asio::buffers_begin(cs->in.data()) + static_cast<std::ptrdiff_t>(n));
      cs->in.consume(n);
      cs->out = run_line(line) + "\n";
      asio::async_write(cs->sock, asio::buffer(cs->out), [this, cs](error_code e, std::size_t) {
        if (!e) control_read(cs);
      });
    });
  }
};

FaultProxy::FaultProxy(ProxyOptions opt) : impl_(std::make_unique<Impl>(std::move(opt))) {
  Impl& m = *impl_;
  error_code ec;
  tcp::resolver resolver(m.io);
  m.target = resolver.resolve(m.opt.target_host, std::to_string(m.opt.target_port), ec);
  if (ec || m.target.empty()) {
    throw std::runtime_error("fault proxy: cannot resolve target " + m.opt.target_host + ":" +
                             std::to_string(m.opt.target_port) + ": " + ec.message());
  }
  if (m.opt.target_port == 0) throw std::runtime_error("fault proxy: the target needs a port");
  if (m.opt.hold_limit < kChunk) throw std::runtime_error("fault proxy: hold limit below " + std::to_string(kChunk) + " bytes");
  Impl::listen(m.acceptor, m.opt.listen_host, m.opt.listen_port);
  if (m.opt.control) Impl::listen(m.control, m.opt.listen_host, 0);
  m.accept();
  if (m.opt.control) m.accept_control();
  m.thread = std::thread([&m] { m.io.run(); });
}

FaultProxy::~FaultProxy() {
  Impl& m = *impl_;
  asio::post(m.io, [&m] {
    error_code ignored;
    m.acceptor.close(ignored);
    m.control.close(ignored);
    const auto all = m.conns;
    for (const auto& c : all) m.close(c, false);
    m.io.stop();
  });
  m.thread.join();
}

std::uint16_t FaultProxy::port() const { return impl_->acceptor.local_endpoint().port(); }
std::uint16_t FaultProxy::control_port() const {
  return impl_->opt.control ? impl_->control.local_endpoint().port() : 0;
}
void FaultProxy::partition(Cut c) {
  impl_->on_io([this, c] { impl_->set_cut(c); });
}
void FaultProxy::latency(std::int64_t min_ms, std::int64_t max_ms, std::uint64_t seed) {
  if (min_ms < 0 || max_ms < min_ms) throw std::invalid_argument("fault proxy: latency wants 0 <= min <= max");
  impl_->on_io([=, this] { impl_->set_latency(min_ms, max_ms, seed); });
}
void FaultProxy::cut() {
  impl_->on_io([this] { impl_->cut_all(); });
}
ProxyStats FaultProxy::stats() {
  return impl_->on_io([this] { return impl_->snapshot(); });
}
std::string FaultProxy::command(std::string_view line) {
  return impl_->on_io([this, line] { return impl_->run_line(line); });
}

Result<std::string> send_command(std::uint16_t control_port, std::string_view line, int timeout_ms) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error("fault proxy control: socket failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(control_port);
  std::string answer;
  const auto fail = [&](const std::string& why) {
    ::close(fd);
    return make_error("fault proxy control 127.0.0.1:" + std::to_string(control_port) + ": " + why);
  };
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return fail("cannot connect");
  std::string out(line);
  out += '\n';
  for (std::size_t sent = 0; sent < out.size();) {
    const ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return fail("send failed");
    sent += static_cast<std::size_t>(n);
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (answer.empty() || answer.back() != '\n') {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return fail("no answer to '" + std::string(line) + "'");
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return fail("closed without an answer");
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  answer.pop_back();
  return answer;
}

}  // namespace convlab::faults::real
