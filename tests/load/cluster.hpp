#pragma once
// What the end-to-end tests share (moved out of e2e_test.cpp so that real_faults_test.cpp uses
// the same servers, load and checks): a test's output directory, free ports, a deployment of
// convlab-server processes, convlab-load, the soundness checks every run must pass, and a
// PostgreSQL cluster of a test's own. Test code only (gtest assertions inside).
#include "history/history.hpp"
#include "reports/checkers.hpp"
#include "realrun/process.hpp"
#include "tests/pg/pg_fixture.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace convlab::e2e {

namespace fs = std::filesystem;
using realrun::Process;
using realrun::run_command;

inline const std::string kSecret = "e2e-secret-e2e-secret-e2e-secret-0123456789";

inline std::string test_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "_" + info->name();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  const fs::path d = fs::path(CONVLAB_E2E_OUT) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

using realrun::free_port;

// Servers of one deployment: nodes 0..n-1 on one database, one strategy, each knowing the others
// as peers (single-writer documents are forwarded to their home).
class Servers {
 public:
  Servers(std::string pg_url, std::string strategy, std::string dir, std::uint32_t n)
      : pg_url_(std::move(pg_url)), strategy_(std::move(strategy)), dir_(std::move(dir)), procs_(n), ports_(n, 0) {}

  // Node k reaches PostgreSQL through `url` instead (a fault proxy in between).
  void set_pg_url(std::uint32_t k, std::string url) { node_pg_url_[k] = std::move(url); }
  // Every node starts with this `policies:` section (server YAML), written to DIR/server.yaml.
  void set_policies(const std::string& yaml) {
    config_ = dir_ + "/server.yaml";
    std::ofstream(config_) << "policies:\n" << yaml;
  }
  // Node k starts with these environment entries ("NAME=value": libfaketime's clock).
  void set_env(std::uint32_t k, std::vector<std::string> env) { node_env_[k] = std::move(env); }

  // Starts node k on its port (picked once, so a restart keeps it and the peers find it).
  void start(std::uint32_t k) {
    for (int& p : ports_) {
      if (p == 0) p = free_port();
    }
    const std::string log = dir_ + "/server" + std::to_string(k) + "." + std::to_string(++starts_) + ".log";
    std::vector<std::string> argv;
    if (node_env_.contains(k)) {
      argv.push_back("/usr/bin/env");
      argv.insert(argv.end(), node_env_.at(k).begin(), node_env_.at(k).end());
    }
    const std::string& pg = node_pg_url_.contains(k) ? node_pg_url_.at(k) : pg_url_;
    for (std::string a : {std::string(CONVLAB_SERVER_BIN), std::string("--listen"), "127.0.0.1:" + std::to_string(ports_[k]),
                          std::string("--node-id"), std::to_string(k), std::string("--nodes"), std::to_string(procs_.size()),
                          std::string("--pg-url"), pg, std::string("--strategy"), strategy_, std::string("--jwt-secret"),
                          kSecret, std::string("--lab-password"), std::string("lab")}) {
      argv.push_back(std::move(a));
    }
    for (std::uint32_t p = 0; p < ports_.size(); ++p) {
      if (p == k) continue;
      argv.push_back("--peer");
      argv.push_back(std::to_string(p) + "=ws://127.0.0.1:" + std::to_string(peer_port_.contains(p) ? peer_port_.at(p) : ports_[p]));
    }
    if (!config_.empty()) {
      argv.push_back("--config");
      argv.push_back(config_);
    }
    procs_[k] = std::make_unique<Process>(std::move(argv), log, true);
    const auto line = procs_[k]->first_line(30000);
    ASSERT_TRUE(line.has_value()) << "server " << k << " did not say where it listens; its log:\n"
                                  << procs_[k]->log_tail();
    const std::string prefix = "listening 127.0.0.1:";
    ASSERT_EQ(line->rfind(prefix, 0), 0u) << "first line: " << *line;
    ports_[k] = std::stoi(line->substr(prefix.size()));
  }
  void start_all() {
    for (std::uint32_t k = 0; k < procs_.size(); ++k) {
      start(k);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  bool running(std::uint32_t k) { return procs_[k] && procs_[k]->running(); }
  void kill9(std::uint32_t k) {
    procs_[k]->signal(SIGKILL);
    procs_[k]->wait(10000);
  }
  const std::string& pg_url() const { return pg_url_; }
  int port(std::uint32_t k) const { return ports_[k]; }
  // The other nodes started from now on reach node k's /node on `port` instead (a fault proxy).
  void set_peer_port(std::uint32_t k, int port) { peer_port_[k] = port; }
  // convlab-load reaches node k on `port` instead (a fault proxy in front of it).
  void set_client_port(std::uint32_t k, int port) { client_port_[k] = port; }
  std::vector<std::string> url_flags() const {
    std::vector<std::string> out;
    for (std::uint32_t k = 0; k < ports_.size(); ++k) {
      out.push_back("--url");
      out.push_back("ws://127.0.0.1:" + std::to_string(client_port_.contains(k) ? client_port_.at(k) : ports_[k]));
    }
    return out;
  }
  std::string logs() const {
    std::string s;
    for (std::size_t k = 0; k < procs_.size(); ++k) {
      if (procs_[k]) s += "--- server " + std::to_string(k) + " (" + procs_[k]->log_path() + "):\n" + procs_[k]->log_tail(2000) + "\n";
    }
    return s;
  }
  ~Servers() {
    for (auto& p : procs_) {
      if (p && p->running()) {
        p->signal(SIGTERM);
        if (!p->wait(15000)) p->signal(SIGKILL);
      }
    }
  }

 private:
  std::string pg_url_, strategy_, dir_, config_;
  std::vector<std::unique_ptr<Process>> procs_;
  std::vector<int> ports_;
  int starts_ = 0;
  std::map<std::uint32_t, std::string> node_pg_url_;
  std::map<std::uint32_t, std::vector<std::string>> node_env_;
  std::map<std::uint32_t, int> client_port_;
  std::map<std::uint32_t, int> peer_port_;
};

struct LoadSpec {
  std::string strategy;
  std::uint32_t clients = 8;
  std::uint32_t docs = 2;
  double rate = 5;
  double duration_s = 8;
};

// `extra`: more convlab-load flags (client clock faults, ...).
inline std::unique_ptr<Process> start_load(const Servers& servers, const LoadSpec& spec, const std::string& dir,
                                           const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{CONVLAB_LOAD_BIN,   "--clients",  std::to_string(spec.clients),
                                "--docs",           std::to_string(spec.docs), "--rate",
                                std::to_string(spec.rate), "--duration", std::to_string(spec.duration_s),
                                "--strategy",       spec.strategy, "--seed", "7", "--password", "lab",
                                "--history",        dir + "/history.jsonl", "--drain", "25", "--ramp", "100",
                                // The servers' change log goes into the history: causes of loss
                                // from what they committed.
                                "--pg",             servers.pg_url()};
  for (const std::string& u : servers.url_flags()) argv.push_back(u);
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<Process>(argv, dir + "/load.log", false);
}

// What every run must show, faults or not: the load client finished without errors, replicas
// converged to the durable state, no acknowledged edit lost, and every edit whose characters
// survive was seen by every other client of its document.
inline reports::RunMetrics expect_sound(Process& load, const Servers& servers, const std::string& dir, bool merges) {
  const auto code = load.wait(120000);
  EXPECT_TRUE(code.has_value()) << "convlab-load did not finish";
  EXPECT_EQ(code.value_or(-1), 0) << "convlab-load's output:\n" << load.log_tail() << "\n" << servers.logs();
  auto events = history::read_file(dir + "/history.jsonl");
  EXPECT_TRUE(events.has_value()) << (events ? "" : events.error().message);
  if (!events) return {};
  const reports::RunMetrics m = reports::check(*events);
  EXPECT_TRUE(m.converged) << (m.divergent.empty() ? "" : m.divergent.front());
  // Nothing the servers lost: no acknowledged character missing for want of a later write that
  // explains it. lww and seq keep one value per paragraph, so concurrent writes to a paragraph
  // overwrite each other by design (the checker names those "concurrent"); ot and crdt merge
  // them and lose nothing at all.
  const auto cause = [&](const char* c) { return m.lost_by_cause.count(c) ? m.lost_by_cause.at(c) : 0u; };
  // The causes come from the servers' change log (convlab-load --pg), not from inference.
  EXPECT_EQ(cause("crash"), 0u);
  EXPECT_EQ(cause("unknown"), 0u);
  EXPECT_EQ(cause("stale_base"), 0u);
  if (merges) {
    EXPECT_EQ(m.lost_acked_chars, 0u);
    EXPECT_EQ(m.lost_acked_edits, 0u);
  }
  EXPECT_GT(m.acked_edits, 0u);

  // Every surviving edit reached every other client of its document.
  std::map<std::uint32_t, std::set<CharId>> durable;                 // doc -> ids
  std::map<std::uint32_t, std::set<std::uint32_t>> final_clients;    // doc -> clients with a final
  std::set<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> seen;  // (seer, author, op)
  std::size_t finals = 0;
  std::size_t commits = 0;
  for (const auto& e : *events) {
    if (e.type == history::EventType::kCommit) ++commits;
    if (e.type == history::EventType::kFinal) {
      if (e.replica == "durable") {
        for (const CharId& id : history::expand_ids(e.ids)) durable[e.doc].insert(id);
      } else if (e.replica.rfind("client:", 0) == 0) {
        final_clients[e.doc].insert(static_cast<std::uint32_t>(std::stoul(e.replica.substr(7))));
        ++finals;
      }
    } else if (e.type == history::EventType::kSeen) {
      seen.insert({e.client, e.author, e.op});
    }
  }
  std::size_t surviving = 0, missing = 0;
  for (const auto& e : *events) {
    if (e.type != history::EventType::kEdit || e.inserted.empty()) continue;
    bool survives = false;
    for (const CharId& id : history::expand_ids(e.inserted)) survives = survives || durable[e.doc].contains(id);
    if (!survives) continue;
    ++surviving;
    for (std::uint32_t c : final_clients[e.doc]) {
      if (c != e.client && !seen.contains({c, e.client, e.op})) ++missing;
    }
  }
  EXPECT_GT(surviving, 0u);
  EXPECT_EQ(missing, 0u) << "surviving edits never seen by another client of their document";
  EXPECT_GT(finals, 0u);
  EXPECT_GT(commits, 0u) << "no commit events: the change log did not reach the history";
  return m;
}

inline std::size_t count_events(const std::string& path, history::EventType type, const std::string& kind = "") {
  auto events = history::read_file(path);
  if (!events) return 0;
  std::size_t n = 0;
  for (const auto& e : *events) n += (e.type == type && (kind.empty() || e.kind == kind)) ? 1 : 0;
  return n;
}

// ---------------------------------------------------------------- PostgreSQL crash

// A PostgreSQL cluster of the test's own (crashing it disturbs no other test), stopped and
// removed when the test ends.
class OwnCluster {
 public:
  explicit OwnCluster(const std::string& dir) : dir_(dir), sh_(std::string(CONVLAB_SOURCE_DIR) + "/scripts/pg.sh") {
    // Under /tmp: a Unix socket path in the cluster's directory must stay under 108 bytes.
    char tmpl[] = "/tmp/convlab-e2e-pg.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    root_ = tmpl;
    fs::permissions(root_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);  // postgres must get in
    Process starter({"/bin/bash", sh_, "start", root_ + "/c"}, dir + "/pg-start.log", true);
    url_ = starter.first_line(60000);
    if (starter.wait(30000).value_or(-1) != 0) url_.reset();
    if (!url_) start_log_ = starter.log_tail();
  }
  ~OwnCluster() {
    if (root_.empty()) return;
    run_command({"/bin/bash", sh_, "stop", root_ + "/c"}, "/dev/null", 60000);
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  const std::optional<std::string>& url() const { return url_; }
  const std::string& start_log() const { return start_log_; }
  // pg_ctl stop -m immediate (no shutdown checkpoint: a crash), then start again.
  void crash() { EXPECT_EQ(run_command({"/bin/bash", sh_, "crash", root_ + "/c"}, dir_ + "/pg-crash.log", 60000), 0); }
  void restart() {
    EXPECT_EQ(run_command({"/bin/bash", sh_, "restart", root_ + "/c"}, dir_ + "/pg-restart.log", 60000), 0);
  }

 private:
  std::string dir_, sh_, root_;
  std::optional<std::string> url_;
  std::string start_log_;
};

}  // namespace convlab::e2e
