// The kernel's own SysV queue, as the differential tests compare seqmq against it.
#pragma once

#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <sys/ipc.h>
#include <sys/msg.h>

namespace seqmq_test {

/// A new private kernel queue with msg_qbytes `capacity` (the caller removes it).
inline int private_kernel_queue(std::size_t capacity) {
    const int id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    BOOST_TEST_REQUIRE(id >= 0, "msgget: " << std::strerror(errno));
    msqid_ds ds{};
    BOOST_TEST_REQUIRE(::msgctl(id, IPC_STAT, &ds) == 0, "IPC_STAT: " << std::strerror(errno));
    ds.msg_qbytes = capacity;
    BOOST_TEST_REQUIRE(::msgctl(id, IPC_SET, &ds) == 0,
                       "IPC_SET msg_qbytes=" << capacity << ": " << std::strerror(errno));
    return id;
}

} // namespace seqmq_test
