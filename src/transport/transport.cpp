#include "transport/transport.hpp"

#include <sys/socket.h>

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

result<unique_fd> accept_connection(int listener) noexcept {
    int fd = retry_eintr(
        [&] { return ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); });
    if (fd < 0)
        return std::unexpected(last_error());
    return unique_fd(fd);
}

} // namespace seqmq::detail
