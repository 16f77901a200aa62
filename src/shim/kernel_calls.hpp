// The C library's own msgget/msgsnd/msgrcv/msgctl/syscall, found past this library
// (dlsym(RTLD_NEXT)): what a call the shim leaves to the kernel goes to.
#pragma once

#include <cstddef>
#include <sys/msg.h>
#include <sys/types.h>

namespace seqmq::shim::kernel {

/// Finds every function below; called once when the library is loaded, so that a forwarded
/// syscall() never has to look itself up (dlsym may allocate, and malloc may call syscall()).
void resolve() noexcept;

/// The kernel's msgget, msgsnd, msgrcv and msgctl. Each returns what the C library returns;
/// -1 and ENOSYS if the C library has no such function.
int msgget(key_t key, int msgflg) noexcept;
int msgsnd(int msqid, const void* msgp, std::size_t msgsz, int msgflg);
ssize_t msgrcv(int msqid, void* msgp, std::size_t msgsz, long msgtyp, int msgflg);
int msgctl(int msqid, int cmd, msqid_ds* buf) noexcept;

/// The C library's syscall() with six arguments (it reads six whatever the number).
long syscall6(long number, long a, long b, long c, long d, long e, long f) noexcept;

} // namespace seqmq::shim::kernel
