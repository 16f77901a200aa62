// msgget, msgsnd, msgrcv and msgctl as Linux answers them, served from seqmqd or left to the
// kernel (see sysv_calls.cpp for the design). Each returns what the system call returns: a
// result, or -1 with errno set.
#pragma once

#include <cstddef>
#include <sys/msg.h>
#include <sys/types.h>

namespace seqmq::shim {

int sysv_msgget(key_t key, int msgflg) noexcept;
int sysv_msgsnd(int msqid, const void* msgp, std::size_t msgsz, int msgflg) noexcept;
ssize_t sysv_msgrcv(int msqid, void* msgp, std::size_t msgsz, long msgtyp, int msgflg) noexcept;
int sysv_msgctl(int msqid, int cmd, msqid_ds* buf) noexcept;

/// Whether a call on `msqid` (msgsnd, msgrcv, msgctl) goes to the kernel; its kernel id then.
bool kernel_id(int msqid, int& kernel_msqid) noexcept;

/// What msgctl `cmd` on the kernel (kernel_id() said so) returned, as the program sees it: the
/// id MSG_STAT and MSG_STAT_ANY return shown as msgget shows the kernel's ids.
long kernel_msgctl_result(int cmd, long r) noexcept;

/// Set up on loading: reads SEQMQ_SYSV_KEYS, finds the kernel's functions, registers the fork
/// handlers.
void load() noexcept;

} // namespace seqmq::shim
