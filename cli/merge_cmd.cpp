// convlab merge DIR... [--out DIR]
//
// Joins the partial results of `convlab run|sweep --shard K/N` (DIR/partial.json of every shard)
// into the report an unsharded run writes: report.json and report.md (run), or sweep.json,
// sweep.csv and sweep.md (sweep). Every shard 0..N-1 must be there exactly once, all of one grid.
#include "campaigns/campaign.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/export.hpp"
#include "cli/partial.hpp"
#include "cli/sweep.hpp"
#include "reports/report_html.hpp"
#include "server/strategies/registry.hpp"

#include <boost/json.hpp>

#include <filesystem>
#include <iostream>

namespace convlab::cli {

namespace po = boost::program_options;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// The options a spec recorded, back as campaign options. The spec was written by this program,
// so a problem here means a file edited by hand or written by another version.
Result<campaigns::CampaignOptions> options_of(const json::object& spec, const std::string& where) {
  campaigns::CampaignOptions o;
  const json::value* strategies = spec.if_contains("strategies");
  const json::value* seeds = spec.if_contains("seeds");
  const json::value* variant = spec.if_contains("variant");
  if (strategies == nullptr || !strategies->is_array() || seeds == nullptr || !seeds->is_array() || variant == nullptr ||
      !variant->is_string()) {
    return make_error(where + ": $.spec: expected strategies, seeds and variant");
  }
  for (const json::value& s : strategies->get_array()) {
    const Strategy* st = s.is_string() ? find_strategy(std::string(s.get_string())) : nullptr;
    if (st == nullptr) return make_error(where + ": $.spec.strategies: unknown strategy " + json::serialize(s));
    o.strategies.push_back(st);
  }
  for (const json::value& s : seeds->get_array()) {
    if (!s.is_uint64() && !(s.is_int64() && s.get_int64() >= 0)) return make_error(where + ": $.spec.seeds: expected seeds");
    o.seeds.push_back(s.is_uint64() ? s.get_uint64() : static_cast<std::uint64_t>(s.get_int64()));
  }
  o.variant = std::string(variant->get_string());
  return o;
}

std::string string_at(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

int merge_cmd(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()
      ("help,h", "show this help")
      ("out,o", po::value<std::string>()->default_value("out/merged"), "directory for the merged report")
      ("dir", po::value<std::vector<std::string>>(), "a shard's output directory (holding partial.json)");
  po::positional_options_description pos;
  pos.add("dir", -1);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_options("merge", args, desc, pos, vm, code)) return code;
  if (vm.count("help")) {
    std::cout << "usage: convlab merge DIR... [--out DIR]\n\n"
                 "Joins the shards of one `convlab run|sweep ... --shard K/N` grid (each DIR holds a\n"
                 "partial.json) into the files an unsharded run writes: report.json and report.md for a run\n"
                 "(exit 1 when an expectation failed), sweep.json, sweep.csv and sweep.md for a sweep.\n\n"
              << desc;
    return kExitOk;
  }
  if (!vm.count("dir")) return fail("merge: missing DIR (the --out directories of the shards)");
  const std::string out_dir = vm["out"].as<std::string>();
  if (out_dir.empty()) return fail("merge: --out: expected a directory");
  const auto dirs = vm["dir"].as<std::vector<std::string>>();

  auto partials = read_partials(dirs);
  if (!partials) return fail("merge: " + partials.error().message);
  const Partial& first = partials->front();
  const std::string where = (fs::path(dirs.front()) / kPartialFile).string();
  const json::object spec = json::parse(first.spec).get_object();
  auto options = options_of(spec, where);
  if (!options) return fail("merge: " + options.error().message);
  std::vector<std::vector<reports::RunRecord>> shards;
  for (Partial& p : *partials) shards.push_back(std::move(p.runs));
  auto records = campaigns::merge_shards(std::move(shards), first.total);
  if (!records) return fail("merge: " + records.error().message);

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir)) {
    return fail(out_dir + ": cannot create the output directory" + (ec ? ": " + ec.message() : ""));
  }
  std::vector<std::pair<std::string, std::string>> files;  // name, bytes
  int exit_code = kExitOk;
  if (first.kind == "sweep") {
    std::vector<Vary> vary;
    const json::value* vary_args = spec.if_contains("vary");
    if (vary_args == nullptr || !vary_args->is_array()) return fail("merge: " + where + ": $.spec.vary: expected a list");
    for (const json::value& a : vary_args->get_array()) {
      auto v = a.is_string() ? parse_vary(std::string(a.get_string())) : Result<Vary>(make_error("expected a string"));
      if (!v) return fail("merge: " + where + ": $.spec.vary: " + v.error().message);
      vary.push_back(std::move(*v));
    }
    auto plan = plan_sweep(string_at(spec, "file"), string_at(spec, "yaml"), vary);
    if (!plan) return fail("merge: " + where + ": " + plan.error().message);
    const SweepFiles sf = sweep_files(*plan, *records);
    files = {{"sweep.json", sf.json}, {"sweep.csv", sf.csv}, {"sweep.md", sf.md}, {"index.html", sf.html}};
    std::cout << sf.md;
  } else {
    std::vector<sim::Scenario> scenarios;
    const json::value* list = spec.if_contains("scenarios");
    if (list == nullptr || !list->is_array()) return fail("merge: " + where + ": $.spec.scenarios: expected a list");
    for (const json::value& s : list->get_array()) {
      if (!s.is_object()) return fail("merge: " + where + ": $.spec.scenarios: expected objects");
      auto sc = sim::parse_scenario(string_at(s.get_object(), "yaml"), string_at(s.get_object(), "file"));
      if (!sc) return fail("merge: " + where + ": " + sc.error().message);
      scenarios.push_back(std::move(*sc));
    }
    const reports::Report report = campaigns::make_report(scenarios, *options, std::move(*records));
    files = {{"report.json", reports::to_json(report)},
             {"report.md", reports::to_markdown(report)},
             {"index.html", reports::report_html(report, {command_line("merge", args), CONVLAB_VERSION})}};
    std::cout << reports::comparison_table(report);
    exit_code = report.all_held() ? kExitOk : kExitMismatch;
  }
  std::string wrote;
  for (const auto& [name, bytes] : files) {
    const std::string path = (fs::path(out_dir) / name).string();
    if (!write_file(path, bytes)) return fail(path + ": cannot write");
    wrote += (wrote.empty() ? "" : ", ") + path;
  }
  std::cout << "merged " << partials->size() << " shards, " << first.total << " runs; wrote " << wrote << '\n';
  return exit_code;
}

}  // namespace convlab::cli
