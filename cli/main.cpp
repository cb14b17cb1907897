// convlab: the command line of the laboratory.
//
//   convlab --help | --version
//   convlab run SCENARIO... [--strategy S]... [--seeds N|A..B] [--jobs J] [--out DIR]
//                           [--variant NAME] [--junit FILE] [--shard K/N] [--openmetrics FILE] [--real]
//   convlab fidelity SCENARIO... [--strategy S]... [--seeds N|A..B] [--variant V] [--out DIR]
//   convlab calibrate [--out FILE] [--servers N] [--clients N] [--docs N] [--rate R] [--seconds S]
//   convlab replay SCENARIO --strategy S --seed N [--variant V] [--history FILE] [--out DIR]
//   convlab check HISTORY
//   convlab sweep SCENARIO --vary KEY=LIST... [--strategy S]... [--seeds N] [--jobs J] [--out DIR]
//                           [--shard K/N] [--openmetrics FILE]
//   convlab merge DIR... [--out DIR]
//   convlab validate SCENARIO... [--metrics]
//   convlab swarm --seeds A..B [--jobs J] [--out DIR] [--strategy S]... [--shrink|--no-shrink]
//   convlab trace replay FILE --strategy NAME [--relayed] [--runs N] [--json]
//   convlab trace conformance [FILE]
//   convlab trace compare [DIR|FILE] [--strategy NAME]... [--out OUTDIR]
//
// Exit codes: 0 done and matched, 1 ran but did not match, 2 could not run (one line on stderr
// names the file or flag and the problem).
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "server/strategies/registry.hpp"
#include "sim/huge_pages.hpp"

#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#ifndef CONVLAB_VERSION
#define CONVLAB_VERSION "unknown"
#endif

namespace {

using namespace convlab::cli;

void print_help() {
  std::cout << "usage: convlab <command> [<args>]\n"
               "       convlab --help | --version\n\n"
               "simulator:\n"
               "  run SCENARIO... [--strategy NAME]... [--seeds N|A..B] [--jobs J] [--out DIR]\n"
               "                  [--variant NAME] [--junit FILE] [--real]\n"
               "                        run scenarios (files or directories) under each strategy on the\n"
               "                        same seeds; print the comparison table, write report.json and\n"
               "                        report.md; exit 1 when an expectation fails; --real: on real\n"
               "                        processes (PostgreSQL, convlab-server, convlab-load, faults)\n"
               "  fidelity SCENARIO... [--strategy NAME]... [--seeds N|A..B] [--variant V] [--out DIR]\n"
               "                        the same runs in the simulator and on real processes: per metric\n"
               "                        sim mean [interval] vs real, ratio, flag where apart\n"
               "  calibrate [--out FILE] [--servers N] [--clients N] [--docs N] [--rate R] [--seconds S]\n"
               "                        measure this machine's real server (CPU per frame and per poll,\n"
               "                        group commit, NOTIFY delay, read round trip) into a fragment\n"
               "                        that scenarios include with `calibration: FILE`\n"
               "  replay SCENARIO --strategy NAME --seed N [--variant V] [--history FILE]\n"
               "                        [--out DIR]\n"
               "                        reproduce one run exactly: metrics, digest, its history\n"
               "  check HISTORY         run the checkers on a history file\n"
               "  sweep SCENARIO --vary KEY=V1,V2,... [--vary ...] [--strategy NAME]... [--seeds N]\n"
               "        [--jobs J] [--out DIR] [--shard K/N] [--openmetrics FILE]\n"
               "                        run one scenario over a grid of settings; write the scaling\n"
               "                        curves to sweep.json, sweep.csv and sweep.md\n"
               "  merge DIR... [--out DIR]\n"
               "                        join the shards of a run or sweep (--shard K/N) into its report\n"
               "  oracle SCENARIO... [--strategy NAME]... [--seeds N|A..B] [--variant V]\n"
               "                        hold the checker's causes of loss against the simulator's\n"
               "                        ground truth; exit 1 on any disagreement\n"
               "  validate SCENARIO... [--metrics]\n"
               "                        check scenarios without running them; --metrics lists the\n"
               "                        metric names expectations may use\n"
               "  swarm --seeds A..B [--jobs J] [--out DIR] [--strategy NAME]... [--no-shrink]\n"
               "                        swarm-test the simulator: a whole world drawn per seed, every\n"
               "                        strategy, invariants checked, failing worlds written and shrunk\n\n"
               "editing traces:\n"
               "  trace replay FILE --strategy NAME [--relayed]\n"
               "                        replay one editing trace and check its endContent\n"
               "  trace conformance [FILE]\n"
               "                        merge every conformance history with crdt; N passed, N failed\n"
               "  trace compare [DIR] [--strategy NAME]... [--out OUTDIR]\n"
               "                        replay every trace under each strategy, locally and relayed,\n"
               "                        and write report.json and report.md\n\n"
               "strategies: " << convlab::strategy_names() << "\n"
               "Run `convlab <command> --help` (or `convlab trace <command> --help`) for its options.\n"
               "Exit: 0 done and matched, 1 did not match (an expectation failed, replicas diverged),\n"
               "2 bad input or flags.\n";
}

void print_trace_help() {
  std::cout << "usage: convlab trace <command> [<args>]\n\n"
               "commands:\n"
               "  replay       replay one editing trace through one strategy\n"
               "  conformance  merge the conformance histories with crdt\n"
               "  compare      replay every trace under every strategy and write a report\n\n"
               "Run `convlab trace <command> --help` for a command's options.\n";
}

int trace_main(const std::vector<std::string>& args) {
  if (args.empty()) return fail("trace: missing command (replay, conformance, compare; see convlab trace --help)");
  const std::string& cmd = args.front();
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    print_trace_help();
    return kExitOk;
  }
  if (cmd == "replay") return trace_replay(rest);
  if (cmd == "conformance") return trace_conformance(rest);
  if (cmd == "compare") return trace_compare(rest);
  if (cmd.starts_with("-")) return fail("trace: unknown option '" + cmd + "' (see convlab trace --help)");
  return fail("trace: unknown command '" + cmd + "' (known: replay, conformance, compare)");
}

}  // namespace

int main(int argc, char** argv) {
  convlab::sim::use_malloc_huge_pages(argv);
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.empty()) {
      print_help();
      return kExitUsage;
    }
    const std::string& cmd = args.front();
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      print_help();
      return kExitOk;
    }
    if (cmd == "--version") {
      std::cout << "convlab " << CONVLAB_VERSION << '\n';
      return kExitOk;
    }
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (cmd == "run") return run_cmd(rest);
    if (cmd == "fidelity") {
      // `run --sim-and-real` by its own name.
      std::vector<std::string> both = rest;
      both.emplace_back("--sim-and-real");
      return run_cmd(both);
    }
    if (cmd == "replay") return replay_cmd(rest);
    if (cmd == "check") return check_cmd(rest);
    if (cmd == "validate") return validate_cmd(rest);
    if (cmd == "trace") return trace_main(rest);
    if (cmd == "sweep") return sweep_cmd(rest);
    if (cmd == "merge") return merge_cmd(rest);
    if (cmd == "oracle") return oracle_cmd(rest);
    if (cmd == "swarm") return swarm_cmd(rest);
    if (cmd == "calibrate") return calibrate_cmd(rest);
    if (cmd.starts_with("-")) return fail("unknown option '" + cmd + "' (see convlab --help)");
    return fail("unknown command '" + cmd + "' (known: run, fidelity, calibrate, replay, check, validate, trace, sweep, merge, oracle, swarm; see convlab --help)");
  } catch (const std::exception& e) {
    // Nothing below should throw for bad input; this keeps the one-line rule if something does.
    return fail(std::string("internal error: ") + e.what());
  }
}
