#include "sys/syscall.hpp"

#include <climits>
#include <ctime>
#include <poll.h>
#include <sys/socket.h>

namespace seqmq::detail {

std::chrono::system_clock::time_point coarse_now() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

std::chrono::nanoseconds coarse_monotonic() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

int deadline::poll_ms() const noexcept {
    if (forever_)
        return -1;
    auto left = at_ - std::chrono::steady_clock::now();
    if (left <= left.zero())
        return 0;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

result<void> wait_fd(int fd, short events, const deadline& until) noexcept {
    for (;;) {
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, until.poll_ms());
        if (n > 0)
            return {};
        if (n < 0)
            return std::unexpected(last_error());
        if (until.passed())
            return std::unexpected(std::make_error_code(std::errc::timed_out));
    }
}

result<void> send_record(int fd, std::span<const std::byte> record, bool& established,
                         const deadline& until, bool nowait, bool interruptible,
                         caller_ids* as) noexcept {
    bool pid_read_again = false;
    for (;;) {
        ssize_t n;
        if (as) {
            iovec iov{const_cast<std::byte*>(record.data()), record.size()};
            msghdr m{};
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            credentials_control control;
            control.attach(m, *as);
            n = retry_eintr([&] { return ::sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL); });
            if (n < 0 && errno == EPERM && !pid_read_again) {
                pid_read_again = true;
                refresh_pid();
                *as = current_caller(); // (or the ids changed since: another thread)
                continue;
            }
        } else {
            n = retry_eintr([&] {
                return ::send(fd, record.data(), record.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
            });
        }
        if (n >= 0) {
            established = true;
            return {};
        }
        auto err = last_error();
        if (err != std::errc::resource_unavailable_try_again &&
            !(err == std::errc::not_connected && !established))
            return std::unexpected(err);
        if (nowait)
            return std::unexpected(std::make_error_code(std::errc::resource_unavailable_try_again));
        auto w = wait_fd(fd, POLLOUT, until);
        if (!w && (interruptible || w.error() != std::errc::interrupted))
            return std::unexpected(w.error());
    }
}

} // namespace seqmq::detail
