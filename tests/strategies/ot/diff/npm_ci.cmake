# ctest fixture of ot_diff_tests: installs the pinned ot-text-unicode from the committed lock
# file into the build tree (DEST), never into the source tree.
#   cmake -DSRC=<this folder> -DDEST=<build folder> -P npm_ci.cmake
# Without npm on PATH it installs nothing and succeeds, so that the differential test runs and
# skips saying why, instead of ctest reporting a failed fixture.
find_program(NPM npm)
if(NOT NPM)
  message(WARNING "npm is not on PATH: ot-text-unicode not installed, ot_diff_tests will skip")
  return()
endif()
file(MAKE_DIRECTORY "${DEST}")
file(COPY "${SRC}/package.json" "${SRC}/package-lock.json" DESTINATION "${DEST}")
execute_process(
  COMMAND "${NPM}" ci --prefix "${DEST}" --no-audit --no-fund
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "npm ci --prefix ${DEST} failed with ${rc}")
endif()
