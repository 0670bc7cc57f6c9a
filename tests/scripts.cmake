# Tests of the repository's scripts and docs, not of a program: they need
# bash and /usr/bin/python3 only, so every build registers them.
find_program(FBUS_BASH bash)
if(FBUS_BASH)
    # scripts/demo.sh builds in build-demo/ and leaves the README's build/ alone.
    add_test(NAME test_demo
        COMMAND ${FBUS_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/test_demo.sh ${PROJECT_SOURCE_DIR})
    set_tests_properties(test_demo PROPERTIES TIMEOUT 60 LABELS scripts)
else()
    message(WARNING "framebus: no bash: test_demo not registered")
endif()

# The README and docs/ cite no path that is not in the repository.
if(EXISTS /usr/bin/python3)
    add_test(NAME test_docs_paths
        COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_docs_paths.py
                ${PROJECT_SOURCE_DIR})
    set_tests_properties(test_docs_paths PROPERTIES TIMEOUT 60 LABELS docs)
else()
    message(WARNING "framebus: no /usr/bin/python3: test_docs_paths not registered")
endif()
