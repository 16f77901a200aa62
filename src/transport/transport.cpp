#include "transport/transport.hpp"

#include <algorithm>
#include <chrono>
#include <sys/socket.h>
#include <thread>

namespace seqmq::detail {

result<const transport*> transport_for(const address& where) {
    switch (where.family()) {
    case address_family::unix_path:
    case address_family::unix_abstract:
        return &unix_transport();
    case address_family::tipc:
        if (const transport* t = tipc_transport())
            return t;
        return std::unexpected(make_error_code(errc::backend_unavailable));
    case address_family::automatic:
        return transport_for(where.resolve());
    }
    return std::unexpected(make_error_code(errc::bad_scheme));
}

namespace {

// Errors of connect() that mean "nothing listens there yet", worth waiting through.
bool not_there_yet(const std::error_code& e) {
    return e == std::errc::no_such_file_or_directory || e == std::errc::connection_refused ||
           e == std::errc::host_unreachable;
}

} // namespace

result<unique_fd> connect_waiting(const transport& via, const address& where, timeout wait) {
    const deadline until(wait);
    auto pause = std::chrono::milliseconds(1);
    bool waited = false;
    for (;;) {
        auto fd = via.connect(where, until);
        if (fd || !wait || !not_there_yet(fd.error()))
            return fd;
        if (until.passed())
            return std::unexpected(std::make_error_code(std::errc::timed_out));
        if (waited) {
            const auto left = std::chrono::milliseconds(until.poll_ms());
            std::this_thread::sleep_for(std::min(pause, left));
            pause = std::min(pause * 2, std::chrono::milliseconds(50));
            if (until.passed())
                return std::unexpected(std::make_error_code(std::errc::timed_out));
        }
        if (auto seen = via.wait_for_listener(where, until); !seen)
            return std::unexpected(seen.error());
        waited = true;
    }
}

result<unique_fd> accept_connection(int listener) noexcept {
    int fd = retry_eintr(
        [&] { return ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); });
    if (fd < 0)
        return std::unexpected(last_error());
    return unique_fd(fd);
}

} // namespace seqmq::detail
