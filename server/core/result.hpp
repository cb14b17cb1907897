#pragma once
// Errors as values. Untrusted input (bytes off the wire, files, scenarios) never throws through
// the core and never reaches undefined behaviour: it comes back as an Error naming the problem.
//
// Result<T> holds a T or an Error; both convert implicitly, so `return value;` and
// `return make_error("...");` read naturally. (boost::system::result refuses Result<std::string>
// with a string-constructible error type, which is why this small type exists.)
#include "server/core/assert.hpp"

#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace convlab {

struct Error {
  std::string message;
};

inline Error make_error(std::string message) { return Error{std::move(message)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  template <class U = T, std::enable_if_t<std::is_convertible_v<U&&, T> && !std::is_same_v<std::decay_t<U>, Error> &&
                                              !std::is_same_v<std::decay_t<U>, Result>,
                                          int> = 0>
  Result(U&& value) : v_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT: implicit by design
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}              // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& operator*() & { return checked(); }
  const T& operator*() const& { return const_cast<Result*>(this)->checked(); }
  T&& operator*() && { return std::move(checked()); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &const_cast<Result*>(this)->checked(); }

  // Throws std::runtime_error with the message when this holds an error (edges only: CLI, tests).
  T& value() & {
    if (!has_value()) throw std::runtime_error(error().message);
    return std::get<0>(v_);
  }
  const T& value() const& {
    if (!has_value()) throw std::runtime_error(error().message);
    return std::get<0>(v_);
  }
  T&& value() && { return std::move(value()); }

  const Error& error() const {
    CONVLAB_ASSERT(!has_value());
    return std::get<1>(v_);
  }

 private:
  T& checked() {
    CONVLAB_ASSERT(has_value());
    return std::get<0>(v_);
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : error_(std::move(e)), failed_(true) {}  // NOLINT: implicit by design

  bool has_value() const { return !failed_; }
  explicit operator bool() const { return has_value(); }
  void value() const {
    if (failed_) throw std::runtime_error(error_.message);
  }
  const Error& error() const {
    CONVLAB_ASSERT(failed_);
    return error_;
  }

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace convlab
