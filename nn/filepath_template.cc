#include "nn/filepath_template.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "autograd/error.h"

namespace gradway {
namespace nn {

std::string FloatRepr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // The shortest digits that round-trip, as "-d.ddde-XX".
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  const std::string sci(buf, res.ptr);
  const size_t e = sci.find('e');
  const int exponent = std::atoi(sci.c_str() + e + 1);
  // Python's repr: scientific below 1e-4 and from 1e16 on ("1e-05", "1e+16"), else
  // positional with at least one digit after the point ("0.0005", "2.0").
  if (exponent < -4 || exponent >= 16) return sci;
  const bool negative = sci[0] == '-';
  std::string digits;
  for (size_t i = negative ? 1 : 0; i < e; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  std::string whole = "0", fraction;
  if (exponent < 0) {
    fraction = std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  } else {
    const size_t point = static_cast<size_t>(exponent) + 1;
    if (digits.size() < point) digits.append(point - digits.size(), '0');
    whole = digits.substr(0, point);
    fraction = digits.substr(point);
  }
  if (fraction.empty()) fraction = "0";
  return (negative ? "-" : "") + whole + "." + fraction;
}

// ---- FilepathTemplate.
FilepathTemplate::FilepathTemplate(std::string pattern) : pattern_(std::move(pattern)) {
  auto fail = [this](auto&&... why) {
    Fail("ModelCheckpoint: malformed filepath template '", pattern_, "': ", why...);
  };
  std::string literal;
  const std::string& p = pattern_;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '}') {
      if (i + 1 < p.size() && p[i + 1] == '}') {
        literal += '}';
        ++i;
        continue;
      }
      fail("single '}' at position ", i, " (write '}}' for a literal brace)");
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    if (i + 1 < p.size() && p[i + 1] == '{') {
      literal += '{';
      ++i;
      continue;
    }
    size_t close = p.find('}', i);
    if (close == std::string::npos) fail("'{' at position ", i, " is never closed");
    std::string field = p.substr(i + 1, close - i - 1);
    if (field.find('{') != std::string::npos) fail("nested '{' in field '{", field, "}'");
    if (!literal.empty()) {
      pieces_.push_back(Piece{false, literal});
      literal.clear();
    }
    pieces_.push_back(ParseField(field));
    i = close;
  }
  if (!literal.empty()) pieces_.push_back(Piece{false, literal});
}

FilepathTemplate::Piece FilepathTemplate::ParseField(const std::string& field) const {
  auto fail = [this](auto&&... why) {
    Fail("ModelCheckpoint: malformed filepath template '", pattern_, "': ", why...);
  };
  Piece piece;
  piece.is_field = true;
  size_t colon = field.find(':');
  piece.text = field.substr(0, colon);
  if (piece.text.empty()) fail("empty field name in '{", field, "}'");
  for (char ch : piece.text) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_')) {
      fail("field name '", piece.text, "' is not an identifier");
    }
  }
  if (colon != std::string::npos) {
    std::string spec = field.substr(colon + 1);
    size_t k = 0;
    if (k < spec.size() && spec[k] == '0') {
      piece.zero = true;
      ++k;
    }
    while (k < spec.size() && std::isdigit(static_cast<unsigned char>(spec[k]))) {
      piece.width = piece.width * 10 + (spec[k++] - '0');
      if (piece.width > 1000) fail("width too large in '{", field, "}'");
    }
    if (k < spec.size() && spec[k] == '.') {
      ++k;
      if (k >= spec.size() || !std::isdigit(static_cast<unsigned char>(spec[k]))) {
        fail("missing precision after '.' in '{", field, "}'");
      }
      piece.precision = 0;
      while (k < spec.size() && std::isdigit(static_cast<unsigned char>(spec[k]))) {
        piece.precision = piece.precision * 10 + (spec[k++] - '0');
        if (piece.precision > 100) fail("precision too large in '{", field, "}'");
      }
    }
    if (k < spec.size() && std::string("dfeEgG").find(spec[k]) != std::string::npos) {
      piece.type = spec[k++];
    }
    if (k != spec.size()) {
      fail("unsupported format spec ':", spec, "' in '{", field,
           "}' (expected [0][width][.precision][d|f|e|E|g|G])");
    }
    if (piece.type == 'd' && piece.precision >= 0) {
      fail("precision not allowed with 'd' in '{", field, "}'");
    }
  }
  return piece;
}

std::string FilepathTemplate::Format(int epoch, const Logs& logs) const {
  // The 1-based epoch, in 64 bits: epoch + 1 overflows an int for epoch = INT_MAX.
  const int64_t shown_epoch = int64_t{epoch} + 1;
  std::string out;
  for (const Piece& piece : pieces_) {
    if (!piece.is_field) {
      out += piece.text;
      continue;
    }
    const bool is_int = piece.text == "epoch";
    double value = static_cast<double>(shown_epoch);
    if (!is_int) {
      std::optional<double> v = logs.Find(piece.text);
      if (!v) {
        Fail("ModelCheckpoint: filepath '", pattern_, "' uses '", piece.text,
             "', which is not in the logs (available: epoch, ", logs.KeysString(), ")");
      }
      value = *v;
    }
    std::string s;
    char type = piece.type;
    if (type == 'd' || (is_int && type == 0)) {
      if (!is_int) {
        Fail("ModelCheckpoint: filepath '", pattern_, "': format 'd' needs an integer but '",
             piece.text, "' is a float");
      }
      // Two calls: absl checks each format string at compile time (clang insists).
      s = piece.zero ? absl::StrFormat("%0*d", piece.width, shown_epoch)
                     : absl::StrFormat("%*d", piece.width, shown_epoch);
    } else if (type == 0 && piece.precision < 0) {
      s = FloatRepr(value);
      if (static_cast<int>(s.size()) < piece.width) {
        s = std::string(piece.width - s.size(), piece.zero ? '0' : ' ') + s;
      }
    } else {
      if (type == 0) type = 'g';
      int precision = piece.precision >= 0 ? piece.precision : 6;
      // `type` is one of f, e, E, g, G (checked by the parser), so the format is safe.
      char fmt[16];
      std::snprintf(fmt, sizeof(fmt), "%%%s*.*%c", piece.zero ? "0" : "", type);
      int len = std::snprintf(nullptr, 0, fmt, piece.width, precision, value);
      std::vector<char> buf(static_cast<size_t>(len) + 1);
      std::snprintf(buf.data(), buf.size(), fmt, piece.width, precision, value);
      s.assign(buf.data(), static_cast<size_t>(len));
    }
    out += s;
  }
  return out;
}

}  // namespace nn
}  // namespace gradway
