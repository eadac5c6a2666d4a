export TEST_OS=1
