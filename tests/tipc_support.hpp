// For test executables that need a kernel with TIPC: without one the whole executable is a
// skip (exit 77, the reason printed), never a pass. tests/run-tipc-test runs such executables
// inside the TIPC guest on hosts whose kernel lacks TIPC.
#pragma once

#include "transport/transport.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>

namespace seqmq::test {

struct require_tipc {
    require_tipc() {
        if (!seqmq::detail::tipc_transport()) {
            std::printf("SKIP: TIPC not available in this kernel\n");
            std::fflush(stdout);
            std::_Exit(77);
        }
    }
};

} // namespace seqmq::test
