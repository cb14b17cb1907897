#pragma once
// What every convlab subcommand shares: exit codes, the one-line error rule, option parsing
// with Boost.Program_options, and small text helpers.
#include "server/core/strategy.hpp"

#include <boost/program_options.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace convlab::cli {

// 0: done and everything matched; 1: ran, but something did not match or failed;
// 2: could not run (bad flag, missing or malformed file, unknown strategy).
inline constexpr int kExitOk = 0;
inline constexpr int kExitMismatch = 1;
inline constexpr int kExitUsage = 2;

// Prints exactly one line "convlab: <message>" on stderr (newlines in `message` become spaces)
// and returns kExitUsage.
int fail(std::string_view message);

// `message` with every control character (newline, tab, ...) replaced by a space.
std::string one_line(std::string_view message);

// Parses `args` (what follows the subcommand's name) against `desc` and `pos`; on a bad flag
// prints one line naming `command` and the flag, and returns false with `exit_code` set.
bool parse_options(const std::string& command, const std::vector<std::string>& args,
                   const boost::program_options::options_description& desc,
                   const boost::program_options::positional_options_description& pos,
                   boost::program_options::variables_map& vm, int& exit_code);

// The strategy of that name from the registry; nullptr after printing the error line that
// lists the known ones.
const Strategy* strategy_or_fail(std::string_view name, int& exit_code);

// "convlab COMMAND ARGS..." as a shell would take it back (arguments quoted when needed): what
// the HTML reports show.
std::string command_line(const std::string& command, const std::vector<std::string>& args);

// "12.3" style fixed-point formatting.
std::string fixed(double v, int decimals);

// Median of the values (REQUIRES: not empty).
double median(std::vector<double> v);

// UTF-8 of at most `max` code points of `s` starting at `from`, with "…" where cut.
std::string excerpt(const std::u32string& s, std::size_t from, std::size_t max);

// Index of the first code point where a and b differ (min of sizes when one is a prefix).
std::size_t first_difference(const std::u32string& a, const std::u32string& b);

// "NAME                  VALUE\n": one line of a command's summary, values in one column.
std::string line(const std::string& name, const std::string& value);

// The one positional argument of `command` (`what` names it in the error), or false with the
// error line printed and `code` set.
bool one_positional(const std::string& command, const std::string& what, const boost::program_options::variables_map& vm,
                    std::string& out, int& code);

}  // namespace convlab::cli
