#include "nn/callback.h"

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

}  // namespace nn
}  // namespace gradway
