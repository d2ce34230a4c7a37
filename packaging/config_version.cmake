# Writes gradwayConfigVersion.cmake with CMake's own helper (run by //packaging:cmake_files):
#   cmake -DVERSION=1.0.0 -DOUT=gradwayConfigVersion.cmake -P config_version.cmake
# SameMajorVersion: find_package(gradway 1.2) accepts any 1.x at or above 1.2, as
# CHANGELOG.md's versioning rule promises.
include(CMakePackageConfigHelpers)
write_basic_package_version_file("${OUT}" VERSION "${VERSION}" COMPATIBILITY SameMajorVersion)
