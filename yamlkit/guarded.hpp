#pragma once
// The loaders' edge (sim/scenario.cpp, sim/calibration.cpp): a parse with nothing escaping it.
#include "server/core/result.hpp"
#include "yamlkit/kit.hpp"

#include <exception>
#include <string>

namespace convlab::yamlkit {

// A loader's parse with nothing escaping it: yaml-cpp throws on more than syntax (bad_alloc, its
// own InvalidNode on misuse), and each still becomes one problem line naming the file.
template <class T, class Parse>
Result<T> guarded_parse(const std::string& file, Parse&& parse) {
  try {
    return parse();
  } catch (const std::exception& e) {
    return exception_error(file, e);
  } catch (...) {
    return make_error(file + ":1:1: (file): cannot load: unknown error");
  }
}

}  // namespace convlab::yamlkit
