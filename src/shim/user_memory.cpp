// process_vm_readv/process_vm_writev on our own pid: the kernel copies and reports a bad address
// as a short count, as copy_from_user/copy_to_user do inside msgsnd and msgrcv. Allowed on
// oneself whatever the ptrace policy (same thread group). Where a seccomp filter refuses them
// (ENOSYS, EPERM), the copy is a plain memcpy: a bad pointer then crashes, as in most libraries.
#include "shim/user_memory.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>

namespace seqmq::shim {

namespace {

std::atomic<bool> vm_calls_refused{false};

std::size_t total(std::span<const iovec> v) noexcept {
    std::size_t n = 0;
    for (const iovec& e : v)
        n += e.iov_len;
    return n;
}

// Both lists describe the same bytes in the same parts (the callers build them so).
std::size_t plain_copy(std::span<const iovec> to, std::span<const iovec> from) noexcept {
    for (std::size_t i = 0; i < to.size() && i < from.size(); ++i)
        if (to[i].iov_len > 0)
            std::memcpy(to[i].iov_base, from[i].iov_base, to[i].iov_len);
    return total(to);
}

template <class Call>
std::size_t copy(std::span<const iovec> to, std::span<const iovec> from, Call call) noexcept {
    if (total(to) == 0)
        return 0;
    if (!vm_calls_refused.load(std::memory_order_relaxed)) {
        const int saved = errno;
        const ssize_t n = call();
        if (n >= 0) {
            errno = saved;
            return std::size_t(n);
        }
        if (errno == EFAULT) {
            errno = saved;
            return 0;
        }
        if (errno != ENOSYS && errno != EPERM) {
            errno = saved;
            return 0; // (ENOMEM, EINVAL: cannot happen with our few small parts)
        }
        vm_calls_refused.store(true, std::memory_order_relaxed);
        errno = saved;
    }
    return plain_copy(to, from);
}

} // namespace

std::size_t read_user(pid_t self, std::span<const iovec> to, std::span<const iovec> from) noexcept {
    return copy(to, from, [&] {
        return ::process_vm_readv(self, to.data(), to.size(), from.data(), from.size(), 0);
    });
}

std::size_t write_user(pid_t self, std::span<const iovec> to,
                       std::span<const iovec> from) noexcept {
    return copy(to, from, [&] {
        return ::process_vm_writev(self, from.data(), from.size(), to.data(), to.size(), 0);
    });
}

} // namespace seqmq::shim
