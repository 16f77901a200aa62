// The symbols the shim interposes (see sysv_calls.cpp): the only ones it exports (exports.map).
#include "shim/kernel_calls.hpp"
#include "shim/sysv_calls.hpp"

#include <cstdarg>
#include <pthread.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

namespace shim = seqmq::shim;

[[gnu::constructor]] void on_load() {
    shim::load();
}

} // namespace

// The library is built with hidden visibility: these five are the ones it shows.
#define SEQMQ_SHIM_EXPORT [[gnu::visibility("default")]]

// msgsnd and msgrcv are cancellation points (so glibc declares them without noexcept): a
// pending cancel acts before anything is done.

extern "C" SEQMQ_SHIM_EXPORT int msgget(key_t key, int msgflg) noexcept {
    return shim::sysv_msgget(key, msgflg);
}

extern "C" SEQMQ_SHIM_EXPORT int msgsnd(int msqid, const void* msgp, size_t msgsz, int msgflg) {
    if (int k; shim::kernel_id(msqid, k))
        return shim::kernel::msgsnd(k, msgp, msgsz, msgflg);
    ::pthread_testcancel();
    return shim::sysv_msgsnd(msqid, msgp, msgsz, msgflg);
}

extern "C" SEQMQ_SHIM_EXPORT ssize_t msgrcv(int msqid, void* msgp, size_t msgsz, long msgtyp,
                                            int msgflg) {
    if (int k; shim::kernel_id(msqid, k))
        return shim::kernel::msgrcv(k, msgp, msgsz, msgtyp, msgflg);
    ::pthread_testcancel();
    return shim::sysv_msgrcv(msqid, msgp, msgsz, msgtyp, msgflg);
}

extern "C" SEQMQ_SHIM_EXPORT int msgctl(int msqid, int cmd, struct msqid_ds* buf) noexcept {
    if (int k; shim::kernel_id(msqid, k))
        return int(shim::kernel_msgctl_result(cmd, shim::kernel::msgctl(k, cmd, buf)));
    return shim::sysv_msgctl(msqid, cmd, buf);
}

// syscall(SYS_msgget, ...) and the three others, which some programs call directly; every other
// number goes to the C library's syscall() with the six arguments it would read itself.
extern "C" SEQMQ_SHIM_EXPORT long syscall(long number, ...) noexcept {
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (long& v : a)
        v = va_arg(ap, long);
    va_end(ap);
    switch (number) {
    case SYS_msgget:
        return shim::sysv_msgget(key_t(a[0]), int(a[1]));
    case SYS_msgsnd:
    case SYS_msgrcv:
    case SYS_msgctl:
        if (int k; shim::kernel_id(int(a[0]), k)) {
            a[0] = k;
            if (number == SYS_msgctl)
                return shim::kernel_msgctl_result(
                    int(a[1]), shim::kernel::syscall6(number, a[0], a[1], a[2], a[3], a[4], a[5]));
            break;
        }
        if (number == SYS_msgsnd)
            return shim::sysv_msgsnd(int(a[0]), reinterpret_cast<const void*>(a[1]), size_t(a[2]),
                                     int(a[3]));
        if (number == SYS_msgrcv)
            return shim::sysv_msgrcv(int(a[0]), reinterpret_cast<void*>(a[1]), size_t(a[2]), a[3],
                                     int(a[4]));
        return shim::sysv_msgctl(int(a[0]), int(a[1]), reinterpret_cast<msqid_ds*>(a[2]));
    default:
        break;
    }
    return shim::kernel::syscall6(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
