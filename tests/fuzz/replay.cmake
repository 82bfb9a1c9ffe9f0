# Regression replay of the fuzz corpora, part of the ordinary test build (ctest -L fuzz).
# Included from tests/CMakeLists.txt. Every target tests/fuzz/fuzz_<name>.c runs once over
# each file in tests/fuzz/corpus/<name>/ (seeds and the inputs of every crash ever found),
# under the build's sanitizers. A target without a corpus directory fails its test: every
# fuzz target commits a few seeds.
#  - gcc or any build without TANDEM_FUZZ: the target is linked with replay_main.c, a tiny
#    main() that feeds it each file (no libFuzzer needed);
#  - a clang build with TANDEM_FUZZ=ON (and BUILD_TESTING=ON): the libFuzzer binary from
#    tests/fuzz/CMakeLists.txt itself runs with -runs=0 (each seed once), so target names
#    never collide.
file(GLOB replay_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz_*.c)
foreach(src ${replay_sources})
  get_filename_component(target ${src} NAME_WE)  # fuzz_<name>
  string(REGEX REPLACE "^fuzz_" "" name ${target})
  set(corpus ${CMAKE_CURRENT_LIST_DIR}/corpus/${name})
  if(TANDEM_FUZZ)
    set(cmd $<TARGET_FILE:${target}> -runs=0 ${corpus})
  else()
    add_executable(replay_${target} ${src} ${CMAKE_CURRENT_LIST_DIR}/replay_main.c)
    if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${name}_harness.c)  # see CMakeLists.txt here
      target_sources(replay_${target} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/${name}_harness.c)
    endif()
    target_link_libraries(replay_${target} PRIVATE tandem_io)
    set(cmd replay_${target} ${corpus})
  endif()
  add_test(NAME fuzz_replay_${name} COMMAND ${cmd})
  set_tests_properties(fuzz_replay_${name} PROPERTIES LABELS fuzz TIMEOUT 300)
endforeach()
