#include "shim/kernel_calls.hpp"

#include <atomic>
#include <cerrno>
#include <dlfcn.h>

namespace seqmq::shim::kernel {

namespace {

using msgget_fn = int (*)(key_t, int);
using msgsnd_fn = int (*)(int, const void*, std::size_t, int);
using msgrcv_fn = ssize_t (*)(int, void*, std::size_t, long, int);
using msgctl_fn = int (*)(int, int, msqid_ds*);
using syscall_fn = long (*)(long, ...);

// Relaxed is enough: every thread that loads a pointer finds the same function, or null and
// looks it up itself.
std::atomic<msgget_fn> real_msgget{nullptr};
std::atomic<msgsnd_fn> real_msgsnd{nullptr};
std::atomic<msgrcv_fn> real_msgrcv{nullptr};
std::atomic<msgctl_fn> real_msgctl{nullptr};
std::atomic<syscall_fn> real_syscall{nullptr};

template <class F>
F find(std::atomic<F>& slot, const char* name) noexcept {
    F f = slot.load(std::memory_order_relaxed);
    if (!f) {
        f = reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
        slot.store(f, std::memory_order_relaxed);
    }
    return f;
}

} // namespace

void resolve() noexcept {
    (void)find(real_msgget, "msgget");
    (void)find(real_msgsnd, "msgsnd");
    (void)find(real_msgrcv, "msgrcv");
    (void)find(real_msgctl, "msgctl");
    (void)find(real_syscall, "syscall");
}

int msgget(key_t key, int msgflg) noexcept {
    if (auto f = find(real_msgget, "msgget"))
        return f(key, msgflg);
    errno = ENOSYS;
    return -1;
}

int msgsnd(int msqid, const void* msgp, std::size_t msgsz, int msgflg) {
    if (auto f = find(real_msgsnd, "msgsnd"))
        return f(msqid, msgp, msgsz, msgflg);
    errno = ENOSYS;
    return -1;
}

ssize_t msgrcv(int msqid, void* msgp, std::size_t msgsz, long msgtyp, int msgflg) {
    if (auto f = find(real_msgrcv, "msgrcv"))
        return f(msqid, msgp, msgsz, msgtyp, msgflg);
    errno = ENOSYS;
    return -1;
}

int msgctl(int msqid, int cmd, msqid_ds* buf) noexcept {
    if (auto f = find(real_msgctl, "msgctl"))
        return f(msqid, cmd, buf);
    errno = ENOSYS;
    return -1;
}

long syscall6(long number, long a, long b, long c, long d, long e, long f) noexcept {
    if (auto s = find(real_syscall, "syscall"))
        return s(number, a, b, c, d, e, f);
    errno = ENOSYS;
    return -1;
}

} // namespace seqmq::shim::kernel
