// Fuzz target of the history reader (history/history.hpp, docs/history.md): any bytes are a
// history or an error naming the line; each event read writes back to a line that reads as the
// same event (the checkers see what the simulator wrote).
#include "fuzz/targets.hpp"
#include "history/history.hpp"

#include <sstream>
#include <string>

namespace convlab::fuzz {

void history(Input in) {
  std::istringstream stream(std::string(reinterpret_cast<const char*>(in.data()), in.size()));
  auto events = history::read_stream(stream, "fuzz.jsonl");
  if (!events) {
    FUZZ_CHECK(events.error().message.starts_with("fuzz.jsonl:"), "a history error names the file and line");
    return;
  }
  for (const history::Event& e : *events) {
    const std::string line = history::to_json_line(e);
    auto back = history::from_json_line(line);
    FUZZ_CHECK(back.has_value(), "a written event reads back");
    FUZZ_CHECK(history::to_json_line(*back) == line, "a written event reads back as the same event");
  }
}

}  // namespace convlab::fuzz
