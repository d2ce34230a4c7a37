// ModelCheckpoint's filepath templates ("{epoch:02d}-{val_loss:.4f}"), Python's str.format
// for the fields Keras allows, and FloatRepr, Python's repr of a float.
#ifndef GRADWAY_NN_FILEPATH_TEMPLATE_H_
#define GRADWAY_NN_FILEPATH_TEMPLATE_H_

#include <string>
#include <vector>

#include "nn/callback.h"

namespace gradway {
namespace nn {

// Python's repr of a float: the shortest decimal that round-trips ("0.1", "1.0", "nan").
std::string FloatRepr(double v);

// A checkpoint filepath template with Python str.format fields, as Keras'
// ModelCheckpoint: "{epoch:02d}", "{epoch}", "{val_loss:.4f}", "{loss:.3e}", "{{" and "}}"
// for literal braces. A field is "epoch" (1-based, an integer) or any logs key (a float).
// Specs: [0][width][.precision][type] with type d (integers only), f, e, E, g, G or none.
class FilepathTemplate {
 public:
  // Parses `pattern`; throws Error naming the pattern for a malformed one (an unmatched
  // brace, an empty or non-identifier field name, a bad spec).
  explicit FilepathTemplate(std::string pattern);
  // The path for `epoch` (0-based; formatted as epoch + 1) and `logs`. Throws Error for a
  // field missing from the logs (listing the available keys) or "d" on a float field.
  std::string Format(int epoch, const Logs& logs) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Piece {
    bool is_field = false;
    std::string text;  // literal text, or the field name
    bool zero = false;
    int width = 0;
    int precision = -1;
    char type = 0;
  };
  // `field` (the text between the braces) as a piece; throws Error for a malformed one.
  Piece ParseField(const std::string& field) const;
  std::string pattern_;
  std::vector<Piece> pieces_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_FILEPATH_TEMPLATE_H_
