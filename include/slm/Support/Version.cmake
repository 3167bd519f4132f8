# Writes Version.h from Version.h.in: slm's version and the git commit of the
# source tree. Included by the top-level CMakeLists.txt at configure time and
# run as a script (cmake -P) on every build. configure_file rewrites the header
# only when its text changes, so an unchanged commit recompiles nothing.
#
# Inputs: SLM_VERSION (major.minor.patch), SLM_SOURCE_DIR, SLM_VERSION_HEADER
# (the output path), SLM_GIT (the git executable; empty when there is none).

string(REPLACE "." ";" _slm_version_parts "${SLM_VERSION}")
list(GET _slm_version_parts 0 SLM_VERSION_MAJOR)
list(GET _slm_version_parts 1 SLM_VERSION_MINOR)
list(GET _slm_version_parts 2 SLM_VERSION_PATCH)

# Only the source tree's own checkout counts: sources unpacked inside another
# repository must not report that repository's commit. (.git is a folder in a
# clone, a file in a worktree.)
set(SLM_GIT_COMMIT "unknown")
if(SLM_GIT AND EXISTS "${SLM_SOURCE_DIR}/.git")
  execute_process(
    COMMAND "${SLM_GIT}" describe --always --dirty
    WORKING_DIRECTORY "${SLM_SOURCE_DIR}"
    OUTPUT_VARIABLE _slm_describe
    RESULT_VARIABLE _slm_describe_result
    OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET)
  if(_slm_describe_result EQUAL 0 AND NOT _slm_describe STREQUAL "")
    set(SLM_GIT_COMMIT "${_slm_describe}")
  endif()
endif()

configure_file("${CMAKE_CURRENT_LIST_DIR}/Version.h.in" "${SLM_VERSION_HEADER}"
               @ONLY)
