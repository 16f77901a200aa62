#include "access/caller_credentials.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <string_view>
#include <unistd.h>

namespace seqmq::detail {

namespace {

std::atomic<pid_t> cached_pid{0};

// The numbers after "Name:\t" on one line of /proc/PID/status.
template <class Id>
std::vector<Id> ids_on_line(std::string_view status, std::string_view name) {
    std::vector<Id> out;
    std::size_t at = 0;
    for (;;) {
        at = status.find(name, at);
        if (at == std::string_view::npos)
            return out;
        if (at == 0 || status[at - 1] == '\n')
            break;
        at += name.size();
    }
    at += name.size();
    const std::size_t end = std::min(status.find('\n', at), status.size());
    const char* p = status.data() + at;
    const char* stop = status.data() + end;
    while (p < stop) {
        while (p < stop && (*p == ' ' || *p == '\t'))
            ++p;
        if (p == stop)
            break;
        Id v{};
        auto r = std::from_chars(p, stop, v);
        if (r.ec != std::errc())
            return {};
        out.push_back(v);
        p = r.ptr;
    }
    return out;
}

} // namespace

caller_ids current_caller() noexcept {
    // A forked child reads its own pid again (root could send its parent's: CAP_SYS_ADMIN).
    [[maybe_unused]] static const int forget_in_child =
        ::pthread_atfork(nullptr, nullptr, [] { cached_pid.store(0, std::memory_order_relaxed); });
    pid_t pid = cached_pid.load(std::memory_order_relaxed);
    if (pid == 0) {
        pid = ::getpid();
        cached_pid.store(pid, std::memory_order_relaxed);
    }
    return {pid, ::geteuid(), ::getegid()};
}

void refresh_pid() noexcept {
    cached_pid.store(::getpid(), std::memory_order_relaxed);
}

void credentials_control::attach(msghdr& m, const caller_ids& ids) noexcept {
    m.msg_control = bytes;
    m.msg_controllen = sizeof bytes;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof(ucred));
    const ucred u{ids.pid, ids.uid, ids.gid};
    std::memcpy(CMSG_DATA(c), &u, sizeof u);
}

void credentials_control::prepare(msghdr& m) noexcept {
    m.msg_control = bytes;
    m.msg_controllen = sizeof bytes;
}

std::optional<caller_ids> credentials_in(const msghdr& m) noexcept {
    if (!m.msg_control)
        return std::nullopt;
    auto& mm = const_cast<msghdr&>(m); // (CMSG_NXTHDR takes no const)
    for (cmsghdr* c = CMSG_FIRSTHDR(&mm); c; c = CMSG_NXTHDR(&mm, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
            c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
            ucred u;
            std::memcpy(&u, CMSG_DATA(c), sizeof u);
            return caller_ids{u.pid, u.uid, u.gid};
        }
    return std::nullopt;
}

bool pass_credentials(int fd) noexcept {
    const int on = 1;
    return ::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0;
}

std::optional<std::vector<gid_t>> groups_of_process(const caller_ids& ids) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/status", int(ids.pid));
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::nullopt;
    std::vector<char> text(4096);
    std::size_t used = 0;
    for (;;) {
        if (used == text.size())
            text.resize(text.size() * 2);
        const ssize_t n = ::read(fd, text.data() + used, text.size() - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += std::size_t(n);
    }
    ::close(fd);
    const std::string_view status(text.data(), used);
    const auto uids = ids_on_line<uid_t>(status, "Uid:");
    const auto gids = ids_on_line<gid_t>(status, "Gid:");
    if (std::find(uids.begin(), uids.end(), ids.uid) == uids.end() ||
        std::find(gids.begin(), gids.end(), ids.gid) == gids.end())
        return std::nullopt;
    if (status.find("\nGroups:") == std::string_view::npos)
        return std::nullopt;
    return ids_on_line<gid_t>(status, "Groups:");
}

} // namespace seqmq::detail
