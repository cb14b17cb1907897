#include "realrun/proxy_process.hpp"

#include "faults/real/proxy.hpp"

#include <regex>
#include <vector>

namespace convlab::realrun {

ProxyProcess::ProxyProcess(const std::string& binary, const std::string& target, const std::string& log_path) {
  proc = std::make_unique<Process>(std::vector<std::string>{binary, "--target", target}, log_path, true);
  const auto line = proc->first_line(30000);
  std::smatch m;
  if (line && std::regex_match(*line, m, std::regex(R"(listening 127\.0\.0\.1:(\d+) control 127\.0\.0\.1:(\d+))"))) {
    port = std::stoi(m[1]);
    control = std::stoi(m[2]);
  }
}

ProxyProcess::~ProxyProcess() {
  if (proc && proc->running()) {
    proc->signal(SIGTERM);
    if (!proc->wait(10000)) proc->signal(SIGKILL);
  }
}

std::string ProxyProcess::command(const std::string& line) {
  auto answer = faults::real::send_command(static_cast<std::uint16_t>(control), line);
  return answer ? *answer : "error: " + answer.error().message;
}

faults::real::ProxyStats ProxyProcess::stats() {
  auto s = faults::real::parse_stats(command("stats"));
  return s ? *s : faults::real::ProxyStats{};
}

}  // namespace convlab::realrun
