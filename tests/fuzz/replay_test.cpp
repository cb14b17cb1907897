// The fuzz targets' inputs in the normal suite (docs/fuzzing.md): every file of
// fuzz/corpus/TARGET/ (the seeds) and fuzz/regressions/TARGET/ (inputs that once crashed a
// target or broke one of its properties, fixed since) runs through the target's function,
// compiled here without libFuzzer. A broken property or a crash stops this binary, naming the
// file (printed before each input), so ctest fails.
#include "fuzz/targets.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

namespace convlab::fuzz {

// The target's name in the test's name (gtest would print the struct's bytes, pointers included).
void PrintTo(const Target& t, std::ostream* os) { *os << t.name; }

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> files_of(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());  // a fixed order, whatever the directory's
  return out;
}

std::vector<std::uint8_t> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class Replay : public ::testing::TestWithParam<Target> {};

TEST_P(Replay, CorpusAndRegressionsPass) {
  const Target& t = GetParam();
  const fs::path root = fs::path(CONVLAB_SOURCE_DIR) / "fuzz";
  std::size_t seeds = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    for (const fs::path& file : files_of(root / kind / t.name)) {
      std::fprintf(stderr, "replay %s\n", file.string().c_str());
      const std::vector<std::uint8_t> bytes = read_all(file);
      t.run(Input(bytes.data(), bytes.size()));
      if (std::string_view(kind) == "corpus") ++seeds;
    }
  }
  // Every target has a seed corpus: an empty or moved folder would make this test pass on nothing.
  EXPECT_GE(seeds, 2u) << "fuzz/corpus/" << t.name << " holds " << seeds << " files";
}

INSTANTIATE_TEST_SUITE_P(Fuzz, Replay, ::testing::ValuesIn(kTargets),
                         [](const ::testing::TestParamInfo<Target>& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace convlab::fuzz
