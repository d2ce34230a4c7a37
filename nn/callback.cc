#include "nn/callback.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "autograd/error.h"

namespace gradway {
namespace nn {

void Logs::Set(const std::string& key, double value) {
  for (auto& kv : items_) {
    if (kv.first == key) {
      kv.second = value;
      return;
    }
  }
  items_.emplace_back(key, value);
}

std::optional<double> Logs::Find(const std::string& key) const {
  for (const auto& kv : items_) {
    if (kv.first == key) return kv.second;
  }
  return std::nullopt;
}

double Logs::Get(const std::string& key) const {
  std::optional<double> v = Find(key);
  if (!v) Fail("logs: no key '", key, "' (available: ", KeysString(), ")");
  return *v;
}

std::string Logs::KeysString() const {
  std::string s;
  for (const auto& kv : items_) absl::StrAppend(&s, s.empty() ? "" : ", ", kv.first);
  return s.empty() ? "none" : s;
}

const std::string& CallbackState::String(const std::string& key) const {
  auto it = values.find(key);
  if (it == values.end()) Fail("callback state: '", key, "' is missing");
  return it->second;
}

double CallbackState::Double(const std::string& key) const {
  const std::string& s = String(key);
  double v = 0;
  if (!absl::SimpleAtod(s, &v)) Fail("callback state: '", key, "' = '", s, "' is not a number");
  return v;
}

int64_t CallbackState::Int(const std::string& key) const {
  const std::string& s = String(key);
  int64_t v = 0;
  if (!absl::SimpleAtoi(s, &v)) Fail("callback state: '", key, "' = '", s, "' is not an integer");
  return v;
}

void CallbackState::SetDouble(const std::string& key, double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);  // round-trips exactly
  values[key] = buf;
}

}  // namespace nn
}  // namespace gradway
