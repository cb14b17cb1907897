// The OpenMetrics export and the dashboards against the real Prometheus 2.42 (Debian package
// `prometheus`; skipped, saying so, when its binaries are not on PATH):
//  - `promtool tsdb create-blocks-from openmetrics` accepts what `convlab run|sweep
//    --openmetrics` writes;
//  - `promtool check rules` and `promtool check config` pass on dashboards/;
//  - a real `prometheus` on a free loopback port, its data directory holding the backfilled
//    blocks, returns data over /api/v1/query for every expression of every panel of the
//    simulated-run dashboard and of every simulated-run rule (each alert fires on the naive
//    scenarios backfilled here);
//  - a real convlab-server (with CONVLAB_PG_URL) typed into by server_quick_load and scraped by a
//    real prometheus answers every expression of the live dashboard and every live recording
//    rule with data (alerts: valid queries; they fire only under faults).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <yaml-cpp/yaml.h>

#include <arpa/inet.h>
#include <poll.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string source(const std::string& rel) { return std::string(CONVLAB_SOURCE_DIR) + "/" + rel; }

// The full path of `name` on PATH, or empty.
std::string on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path != nullptr ? path : "");
  for (std::string dir; std::getline(ss, dir, ':');) {
    const fs::path p = fs::path(dir) / name;
    if (!dir.empty() && access(p.c_str(), X_OK) == 0) return p.string();
  }
  return {};
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct Ran {
  int code = -1;
  std::string out;  // stdout and stderr together
};

Ran run(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + quote(a);
  cmd += " 2>&1";
  Ran r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  if (WIFEXITED(status)) r.code = WEXITSTATUS(status);
  return r;
}

std::string read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A loopback port nobody listens on right now.
int free_port() {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

// GET over HTTP/1.0 on 127.0.0.1:port; the body, or empty when the connection failed.
std::string http_get(int port, const std::string& target, int* status = nullptr) {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(s);
    return {};
  }
  const std::string req = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (write(s, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(s);
    return {};
  }
  std::string resp;
  std::array<char, 8192> buf{};
  for (ssize_t n = 0; (n = ::read(s, buf.data(), buf.size())) > 0;) resp.append(buf.data(), static_cast<std::size_t>(n));
  close(s);
  if (status != nullptr) *status = resp.size() > 12 ? std::atoi(resp.c_str() + 9) : 0;
  const auto body = resp.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : resp.substr(body + 4);
}

// The largest sample timestamp of an OpenMetrics text, seconds.
double last_timestamp(const std::string& text) {
  double t = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    t = std::max(t, std::atof(line.substr(line.rfind(' ') + 1).c_str()));
  }
  return t;
}

// A prometheus child process on a free loopback port; stopped (SIGTERM, waited for) on
// destruction.
class PrometheusProcess {
 public:
  PrometheusProcess(const std::string& binary, const fs::path& config, const fs::path& data, const fs::path& log) {
    port_ = free_port();
    if (port_ <= 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      const std::string cfg = "--config.file=" + config.string();
      const std::string tsdb = "--storage.tsdb.path=" + data.string();
      const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
      execl(binary.c_str(), binary.c_str(), cfg.c_str(), tsdb.c_str(), listen.c_str(),
            "--storage.tsdb.retention.time=100y", static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 300 && !ready_ && pid_ > 0; ++i) {  // up to 30 s
      int status = 0;
      http_get(port_, "/-/ready", &status);
      ready_ = status == 200;
      if (!ready_) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~PrometheusProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;
  bool ready() const { return ready_; }
  int port() const { return port_; }

 private:
  int port_ = -1;
  pid_t pid_ = -1;
  bool ready_ = false;
};

// /api/v1/query for `expr` (at `time` when not empty): the result array, after asserting the
// query was accepted.
json::array query(int port, const std::string& expr, const std::string& time) {
  const std::string target = "/api/v1/query?query=" + boost::urls::encode(expr, boost::urls::unreserved_chars) +
                             (time.empty() ? "" : "&time=" + time);
  int status = 0;
  const std::string body = http_get(port, target, &status);
  EXPECT_EQ(status, 200) << expr << "\n" << body;
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("data")) {
    ADD_FAILURE() << "not a query answer for " << expr << ": " << body;
    return {};
  }
  EXPECT_EQ(v.at("status").as_string(), "success") << expr << "\n" << body;
  return v.at("data").at("result").as_array();
}

// Every expression of a dashboard (with `vars` replaced by ".*"), and of a rule file: (expr,
// is an alert).
std::vector<std::pair<std::string, bool>> expressions(const std::string& dashboard, const std::string& rules,
                                                      const std::vector<std::string>& vars) {
  std::vector<std::pair<std::string, bool>> out;
  const json::value dash = json::parse(read(source(dashboard)));
  for (const json::value& panel : dash.at("panels").as_array()) {
    for (const json::value& t : panel.at("targets").as_array()) {
      std::string e(t.at("expr").as_string());
      for (const std::string& var : vars) {
        for (auto at = e.find(var); at != std::string::npos; at = e.find(var)) e.replace(at, var.size(), ".*");
      }
      out.emplace_back(e, false);
    }
  }
  const YAML::Node file = YAML::LoadFile(source(rules));
  for (const YAML::Node& g : file["groups"]) {
    for (const YAML::Node& r : g["rules"]) out.emplace_back(r["expr"].as<std::string>(), static_cast<bool>(r["alert"]));
  }
  return out;
}

class Prometheus : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    promtool_ = on_path("promtool");
    prometheus_ = on_path("prometheus");
    if (promtool_.empty()) return;
    dir_ = fs::temp_directory_path() / ("convlab-prometheus-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // The naive polling scenario (poll and bus variants: polls, bus traffic, visibility) and two
    // users in one paragraph (lww loses acknowledged edits), one seed each.
    export_ = run({CONVLAB_EXE, "run", source("scenarios/naive/04-polling-load.yaml"),
                   source("scenarios/naive/03-same-paragraph.yaml"), "--strategy", "lww", "--seeds", "1", "--jobs",
                   "2", "--out", (dir_ / "run").string(), "--openmetrics", (dir_ / "sim.om").string()});
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    if (promtool_.empty()) GTEST_SKIP() << "promtool is not on PATH (Debian package `prometheus`; scripts/setup.sh installs it)";
    ASSERT_EQ(export_.code, 0) << export_.out;
  }

  static inline std::string promtool_;
  static inline std::string prometheus_;
  static inline fs::path dir_;
  static inline Ran export_;
};

TEST_F(Prometheus, PromtoolBackfillsTheExport) {
  const Ran r = run({promtool_, "tsdb", "create-blocks-from", "openmetrics", (dir_ / "sim.om").string(),
                     (dir_ / "blocks-check").string()});
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("BLOCK ULID"), std::string::npos) << r.out;

  // A sweep's export too (its series carry the varied settings as labels).
  const std::string om = (dir_ / "sweep.om").string();
  const Ran s = run({CONVLAB_EXE, "sweep", source("scenarios/sweep/polling-load.yaml"), "--vary", "servers=2,4",
                     "--vary", "duration_s=10", "--seeds", "1", "--strategy", "lww", "--out", (dir_ / "sweep").string(),
                     "--openmetrics", om});
  ASSERT_EQ(s.code, 0) << s.out;
  const Ran b = run({promtool_, "tsdb", "create-blocks-from", "openmetrics", om, (dir_ / "blocks-sweep").string()});
  ASSERT_EQ(b.code, 0) << b.out;
  EXPECT_NE(read(om).find("servers=\"4\""), std::string::npos);
}

TEST_F(Prometheus, RulesAndConfigPassPromtool) {
  std::vector<std::string> args = {promtool_, "check", "rules"};
  for (const auto& e : fs::directory_iterator(source("dashboards/rules"))) args.push_back(e.path().string());
  ASSERT_GE(args.size(), 5u) << "live and simulated rules";
  const Ran rules = run(args);
  EXPECT_EQ(rules.code, 0) << rules.out;
  const Ran config = run({promtool_, "check", "config", source("dashboards/prometheus.yml")});
  EXPECT_EQ(config.code, 0) << config.out;
}

TEST_F(Prometheus, EveryDashboardAndRuleExpressionReturnsData) {
  if (prometheus_.empty()) GTEST_SKIP() << "prometheus is not on PATH (Debian package `prometheus`)";
  const fs::path data = dir_ / "tsdb";
  const Ran backfill = run({promtool_, "tsdb", "create-blocks-from", "openmetrics", (dir_ / "sim.om").string(), data.string()});
  ASSERT_EQ(backfill.code, 0) << backfill.out;
  const fs::path config = dir_ / "prometheus.yml";
  std::ofstream(config) << "global:\n  scrape_interval: 15s\n";  // nothing to scrape: the data is backfilled
  PrometheusProcess prom(prometheus_, config, data, dir_ / "prometheus.log");
  ASSERT_TRUE(prom.ready()) << "prometheus did not become ready on port " << prom.port() << ":\n"
                            << read((dir_ / "prometheus.log").string());

  // At the end of the longest run: counters' rates over the last simulated minute, and the
  // checkers' gauges stamped at each run's end, are all in reach.
  const double t = last_timestamp(read((dir_ / "sim.om").string()));
  ASSERT_GT(t, 1767225600.0);
  std::vector<std::string> exprs;
  for (const auto& expr : expressions("dashboards/grafana/convlab-sim.json", "dashboards/rules/sim.rules.yml",
                                      {"$scenario", "$variant", "$strategy", "$seed"})) {
    exprs.push_back(expr.first);  // alerts too: every one fires on these scenarios
  }
  ASSERT_GE(exprs.size(), 15u);
  for (const std::string& e : exprs) {
    EXPECT_FALSE(query(prom.port(), e, std::to_string(static_cast<long long>(t))).empty()) << "no data for: " << e;
  }
}

#if defined(CONVLAB_QUICK_LOAD)
// Reads one line from `fd` within `timeout_ms`; empty on timeout or end of file.
std::string read_line(int fd, int timeout_ms) {
  std::string line;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char c = 0;
    if (::read(fd, &c, 1) != 1) return line;
    if (c == '\n') return line;
    line += c;
  }
  return line;
}

TEST_F(Prometheus, LiveServerAnswersEveryLiveExpression) {
  if (prometheus_.empty()) GTEST_SKIP() << "prometheus is not on PATH (Debian package `prometheus`)";
  const char* pg = std::getenv("CONVLAB_PG_URL");
  if (pg == nullptr || *pg == '\0') GTEST_SKIP() << "CONVLAB_PG_URL is not set (scripts/test.sh starts a throwaway cluster)";
  const fs::path config = dir_ / "server.yaml";
  std::ofstream(config) << "listen: 127.0.0.1:0\ndatabase: " << pg << "\nstrategy: crdt\n"
                        << "jwt:\n  secret: prometheus-test-secret-prometheus-test\nlab_password: lab\n";
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const std::string server_log = (dir_ / "server.log").string();
  const pid_t server = fork();
  ASSERT_GE(server, 0);
  if (server == 0) {
    dup2(out[1], 1);
    const int fd = ::open(server_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    execl(CONVLAB_SERVER_BIN, CONVLAB_SERVER_BIN, "--config", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  struct StopServer {
    pid_t pid;
    int fd;
    ~StopServer() {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
      close(fd);
    }
  } stop_server{server, out[0]};
  const std::string first = read_line(out[0], 60000);
  const std::string prefix = "listening 127.0.0.1:";
  ASSERT_EQ(first.rfind(prefix, 0), 0u) << "convlab-server did not start: " << first << "\n" << read(server_log);
  const int port = std::atoi(first.c_str() + prefix.size());

  const fs::path prom_config = dir_ / "live-prometheus.yml";
  std::ofstream(prom_config) << "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: convlab-server\n"
                             << "    static_configs:\n      - targets: [\"127.0.0.1:" << port << "\"]\n";
  PrometheusProcess prom(prometheus_, prom_config, dir_ / "live-tsdb", dir_ / "live-prometheus.log");
  ASSERT_TRUE(prom.ready()) << read((dir_ / "live-prometheus.log").string());

  // Traffic: a read without a token (a refused token), then clients typing for 8 s.
  int status = 0;
  http_get(port, "/api/documents/1", &status);
  EXPECT_EQ(status, 401);
  const Ran load = run({CONVLAB_QUICK_LOAD, "--port", std::to_string(port), "--connections", "16", "--docs", "4",
                        "--seconds", "8", "--password", "lab"});
  ASSERT_EQ(load.code, 0) << load.out << read(server_log);
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the last scrapes

  // Series that exist only once something is refused for that reason: this traffic refuses
  // nothing but the token, so these may be empty (their queries must still be valid).
  const std::vector<std::string> refusal_only = {"convlab_edits_rejected_total", "convlab_rate_limited_total"};
  std::size_t checked = 0;
  for (const auto& [e, alert] : expressions("dashboards/grafana/convlab-live.json", "dashboards/rules/live.rules.yml",
                                            {"$instance"})) {
    const json::array result = query(prom.port(), e, "");
    const bool refusals = std::any_of(refusal_only.begin(), refusal_only.end(),
                                      [&](const std::string& m) { return e.find(m) != std::string::npos; });
    if (alert || refusals) continue;  // alerts fire only under faults
    EXPECT_FALSE(result.empty()) << "no data from the live server for: " << e;
    ++checked;
  }
  EXPECT_GE(checked, 15u);
}
#else
// Registered without the benchmarks too, so that it is never silently absent.
TEST_F(Prometheus, LiveServerAnswersEveryLiveExpression) {
  GTEST_SKIP() << "built with CONVLAB_BUILD_BENCH=OFF: no server_quick_load to drive the live server";
}
#endif

}  // namespace
