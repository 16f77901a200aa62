// The depth suite (depth.cpp) and the suites of suites.cpp, called by seqmq_bench.cpp.
#pragma once

#include "bench.hpp"

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace seqmq_bench {

struct depth_settings {
    std::vector<std::size_t> depths{100, 1000, 10000, 100000};
    std::size_t repeat = 5;
    /// Kernel walks (MSG_COPY, SO_PEEK_OFF) of deeper queues are timed at `walk_samples`
    /// positions and extrapolated.
    std::size_t full_walk_max = 10000;
    std::size_t walk_samples = 1000;
    bool private_ipc = false; ///< in a private IPC namespace, where msgmnb may be raised
    bool private_net = false; ///< in a private network namespace (net.unix.max_dgram_qlen)
};

/// Selective receive of a tail message and listing of the whole backlog, per depth.
std::vector<result_record> run_depth_suite(const depth_settings& s, std::ostream& out);

/// A log-log PNG of the depth records through gnuplot; returns what happened, for the output.
std::string write_depth_plot(const std::vector<result_record>& records, const std::string& png,
                             const std::string& data_path, const std::string& title);

struct senders_settings {
    std::vector<std::size_t> senders{1, 4, 16};
    std::size_t messages = 200000; ///< in all, shared between the senders
    std::size_t repeat = 5;
    bool sysv = true;
};

/// Many sender processes into one mailbox (and, for the ratio, into one SysV queue).
std::vector<result_record> run_senders_suite(const senders_settings& s, std::ostream& out);

struct steady_state_settings {
    std::size_t messages = 20000;
    std::optional<std::string> daemon; ///< a running seqmqd's address, for the queue's figures
    std::string shim; ///< libseqmq-sysv.so, for the shim's figures (on that daemon); empty: none
};

/// Heap allocations per message of send and receive, and the stash's peak bytes against its
/// capacity under 16 senders.
std::vector<result_record> run_steady_state_suite(const steady_state_settings& s,
                                                  std::ostream& out);

} // namespace seqmq_bench
