// gradway's version: semantic versioning, MAJOR.MINOR.PATCH (what each part may change:
// CHANGELOG.md, "Versioning rule"). This header is the one place the version is written;
// the install step, the Debian package and the CMake and pkg-config files read the three
// `#define GRADWAY_VERSION_(MAJOR|MINOR|PATCH) N` lines below, so keep them in that form.
//
// The macros are the version of the headers a program was compiled against; the functions
// return the version of the library it runs with. A program that must not run with another
// library can compare them:
//   if (std::strcmp(gradway::VersionString(), GRADWAY_VERSION_STRING) != 0) ...
#ifndef GRADWAY_BASE_VERSION_H_
#define GRADWAY_BASE_VERSION_H_

#define GRADWAY_VERSION_MAJOR 2
#define GRADWAY_VERSION_MINOR 0
#define GRADWAY_VERSION_PATCH 0
// "MAJOR.MINOR.PATCH" of the three above (base/version.cc checks that they agree).
#define GRADWAY_VERSION_STRING "2.0.0"

namespace gradway {

// The library's version, "1.0.0": GRADWAY_VERSION_STRING as the library was compiled.
const char* VersionString();

// The library's version numbers: GRADWAY_VERSION_MAJOR, _MINOR and _PATCH as the library
// was compiled.
int VersionMajor();
int VersionMinor();
int VersionPatch();

}  // namespace gradway

#endif  // GRADWAY_BASE_VERSION_H_
