#pragma once

#include "access/caller_credentials.hpp"

#include <seqmq/error.hpp>
#include <seqmq/message.hpp>

#include <cerrno>
#include <chrono>
#include <span>
#include <system_error>

namespace seqmq::detail {

/// The current errno as a system_category error code.
inline std::error_code last_error() noexcept {
    return {errno, std::system_category()};
}

/// Runs a system call, retrying while it fails with EINTR — the one place that does so.
/// Blocking waits (poll, epoll_wait) do not go through here: a signal while waiting is reported
/// as `interrupted`, as msgrcv(2) does.
template <class F>
auto retry_eintr(F&& call) noexcept(noexcept(call())) {
    for (;;) {
        auto r = call();
        if (!(r == -1 && errno == EINTR))
            return r;
    }
}

/// A point in time after which a blocking call gives up; none = for ever.
class deadline {
public:
    explicit deadline(timeout limit) noexcept : forever_(!limit) {
        if (limit) // no clock read for the common wait without a limit
            at_ = std::chrono::steady_clock::now() + *limit;
    }

    /// Milliseconds left for poll/epoll_wait: -1 for ever, 0 if passed (rounded up, never busy).
    int poll_ms() const noexcept;
    bool passed() const noexcept { return !forever_ && std::chrono::steady_clock::now() >= at_; }
    bool forever() const noexcept { return forever_; }
    /// At least `d` left (always true for ever).
    bool leaves(std::chrono::steady_clock::duration d) const noexcept {
        return forever_ || at_ - std::chrono::steady_clock::now() >= d;
    }

private:
    bool forever_;
    std::chrono::steady_clock::time_point at_;
};

/// The wall clock to a few milliseconds (CLOCK_REALTIME_COARSE): for times a stat reports, as
/// msg_stime (whole seconds in SysV), taken on every message without the cost of a clock read.
std::chrono::system_clock::time_point coarse_now() noexcept;

/// The monotonic clock to a kernel tick (CLOCK_MONOTONIC_COARSE), for bounds a tick wide that a
/// hot path checks on every turn: a few ns to read where steady_clock takes about 20.
std::chrono::nanoseconds coarse_monotonic() noexcept;

/// Waits until `fd` has one of `events` (POLLIN/POLLOUT) or the deadline passes.
/// Errors: timed_out, interrupted.
result<void> wait_fd(int fd, short events, const deadline& until) noexcept;

/// Sends one whole record on a non-blocking SEQPACKET socket, waiting (POLLOUT) for room up to
/// `until` unless `nowait`. While `established` is false, ENOTCONN means "not accepted yet" (a
/// TIPC connection completes only when the listener accepts it) and is waited out like a full
/// buffer; `established` turns true once a record has gone. Without `interruptible`, a signal
/// only resumes the wait. Never raises SIGPIPE.
/// Errors: resource_unavailable_try_again (nowait), timed_out, interrupted, or the errno of
/// send() — broken_pipe, connection_reset, not_connected when the peer has gone.
/// With `as`, the record carries SCM_CREDENTIALS with those ids (a fixed buffer, no
/// allocation); a first EPERM (a pid stale after fork, or ids changed by another thread since
/// `as` was read) reads them again into `as` and retries once.
result<void> send_record(int fd, std::span<const std::byte> record, bool& established,
                         const deadline& until, bool nowait, bool interruptible = true,
                         caller_ids* as = nullptr) noexcept;

} // namespace seqmq::detail
