#pragma once
// One line of convlab-server's log on stderr. The IO thread, the database's thread, the bus's
// subscriber and publisher threads all log; `std::cerr << a << b` writes each piece on its own,
// so two threads' lines came out spliced ("convlab-server: bus convlab-server: database up: ...")
// and a runner waiting for the line "convlab-server: bus up:" missed it. A LogLine gathers the
// whole line and hands it to the kernel in one write(2), which does not interleave with another
// thread's write to the same file.
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <string>

namespace convlab::net {

class LogLine {
 public:
  LogLine() { out_ << "convlab-server: "; }
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  ~LogLine() {
    std::string line = std::move(out_).str();
    if (line.empty() || line.back() != '\n') line.push_back('\n');
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      const ssize_t n = ::write(STDERR_FILENO, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // stderr closed: nothing to tell
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  template <class T>
  LogLine& operator<<(const T& v) {
    out_ << v;
    return *this;
  }

 private:
  std::ostringstream out_;
};

}  // namespace convlab::net
