#include "transport/transport.hpp"

#include <array>
#include <chrono>
#include <cstring>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>

namespace seqmq::detail {
namespace {

socklen_t fill(const address& a, sockaddr_un& sun) noexcept {
    std::memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    const std::string& n = a.name();
    if (a.family() == address_family::unix_abstract) {
        // Leading NUL, and the length covers exactly the name: no trailing NULs in the key.
        std::memcpy(sun.sun_path + 1, n.data(), n.size());
        return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n.size());
    }
    std::memcpy(sun.sun_path, n.data(), n.size());
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n.size() + 1);
}

result<unique_fd> new_socket() noexcept {
    unique_fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd)
        return std::unexpected(last_error());
    return fd;
}

class unix_transport_impl final : public transport {
public:
    const char* name() const noexcept override { return "unix"; }
    bool passes_descriptors() const noexcept override { return true; }
    bool carries_credentials() const noexcept override { return true; }

    // A record must fit the sender's socket buffer (sk_sndbuf - 32). connect() raises SO_SNDBUF
    // to the unprivileged maximum; this limit stays below the default wmem_max of 212992.
    std::size_t max_payload() const noexcept override { return 212992 - 32 - 24; }

    result<listening> listen(const address& where, int backlog, bool replace_stale) const override {
        auto fd = new_socket();
        if (!fd)
            return std::unexpected(fd.error());
        sockaddr_un sun;
        socklen_t len = fill(where, sun);
        if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&sun), len) < 0) {
            auto err = last_error();
            if (err != std::errc::address_in_use || where.family() != address_family::unix_path ||
                !replace_stale || !is_stale(where))
                return std::unexpected(err);
            // A socket file of ours left by a listener that died: nothing accepts on it any more.
            ::unlink(where.name().c_str());
            if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&sun), len) < 0)
                return std::unexpected(last_error());
        }
        if (::listen(fd->get(), backlog) < 0)
            return std::unexpected(last_error());
        listening l{std::move(*fd), {}};
        struct stat st;
        if (where.family() == address_family::unix_path && ::lstat(where.name().c_str(), &st) == 0)
            l.file = {st.st_dev, st.st_ino, true};
        return l;
    }

    result<unique_fd> connect(const address& where, const deadline& until) const override {
        auto fd = new_socket();
        if (!fd)
            return fd;
        sockaddr_un sun;
        socklen_t len = fill(where, sun);
        // A non-blocking AF_UNIX connect fails with EAGAIN while the listener's backlog is
        // full and does not complete later: try again until the deadline.
        auto pause = std::chrono::microseconds(100);
        for (;;) {
            int rc = retry_eintr(
                [&] { return ::connect(fd->get(), reinterpret_cast<sockaddr*>(&sun), len); });
            if (rc == 0)
                break;
            if (errno != EAGAIN || until.passed())
                return std::unexpected(last_error());
            std::this_thread::sleep_for(pause);
            pause = std::min(pause * 2, std::chrono::microseconds(20000));
        }
        int buf = 212992; // the kernel doubles it; lets records up to max_payload() through
        ::setsockopt(fd->get(), SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
        return fd;
    }

    // A path: inotify on its directory, then the file checked (after the watch is in place, so
    // a socket made in between is not missed). An abstract name leaves no trace to watch: the
    // caller retries connect() with growing pauses.
    result<void> wait_for_listener(const address& where, const deadline& until) const override {
        if (where.family() != address_family::unix_path)
            return {};
        const std::string& path = where.name();
        const std::size_t slash = path.rfind('/');
        const std::string directory = slash == 0 ? std::string("/") : path.substr(0, slash);

        unique_fd watch(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
        if (!watch)
            return std::unexpected(last_error());
        if (::inotify_add_watch(watch.get(), directory.c_str(),
                                IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF) < 0)
            return {}; // missing or unreadable directory: nothing to watch, the caller retries
        alignas(inotify_event) std::array<char, 4096> events;
        for (;;) {
            struct stat st;
            if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
                return {};
            if (auto w = wait_fd(watch.get(), POLLIN, until); !w)
                return w;
            // Which entry changed does not matter: the file is looked at again on every round.
            for (ssize_t n; (n = ::read(watch.get(), events.data(), events.size())) > 0;) {
                for (std::size_t at = 0; at < std::size_t(n);) {
                    const auto* e = reinterpret_cast<const inotify_event*>(events.data() + at);
                    if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
                        return {}; // the directory went, and the watch with it: the caller retries
                    at += sizeof(inotify_event) + e->len;
                }
            }
        }
    }

    peer_identity peer(int fd) const noexcept override {
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
            return {};
        return {cred.pid, cred.uid, cred.gid, true};
    }

    // Another process may have replaced the file since (a new mailbox on the path after this one
    // was taken for dead): only the file this listener made is removed.
    void unbind(const address& where, const bound_file& file) const noexcept override {
        struct stat st;
        if (where.family() == address_family::unix_path && file.exists &&
            ::lstat(where.name().c_str(), &st) == 0 && st.st_dev == file.device &&
            st.st_ino == file.inode)
            ::unlink(where.name().c_str());
    }

private:
    // A socket file of this euid (lstat: never through a symbolic link) whose listener is gone:
    // connect() is refused. A regular file refuses connect() too; it is not stale, it is data.
    static bool is_stale(const address& where) noexcept {
        struct stat st;
        if (::lstat(where.name().c_str(), &st) < 0 || !S_ISSOCK(st.st_mode) ||
            st.st_uid != ::geteuid())
            return false;
        auto probe = new_socket();
        if (!probe)
            return false;
        sockaddr_un sun;
        socklen_t len = fill(where, sun);
        int rc = ::connect(probe->get(), reinterpret_cast<sockaddr*>(&sun), len);
        return rc < 0 && errno == ECONNREFUSED;
    }
};

} // namespace

const transport& unix_transport() noexcept {
    static const unix_transport_impl instance;
    return instance;
}

} // namespace seqmq::detail
