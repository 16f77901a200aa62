// msgsnd/msgrcv-shaped calls on seqmqd for the benchmark: the C API (seqmq.h) on a daemon queue,
// and libseqmq-sysv.so itself, loaded into the benchmark's own processes. Issue 10 compares the
// two call for call (the shim must add at most 5% to the C API's path).
#pragma once

#include <seqmq/queue.hpp>
#include <seqmq/seqmq.h>

#include <cstddef>
#include <expected>
#include <memory>
#include <string>
#include <sys/msg.h>
#include <sys/types.h>

namespace seqmq_bench {

/// A C API handle, closed with seqmq_close.
using capi_handle = std::unique_ptr<seqmq_t, int (*)(seqmq_t*)>;

/// Opens (creating it if missing) the daemon queue `name` as a C API handle the way the shim
/// opens its own (src/shim/sysv_calls.cpp, handle_options and wrap): queue_options::exact_sysv
/// (no credit: a send returns once seqmqd has queued the message) and a wait limit of decades
/// (every wait a poll). seqmq.h has no way to ask for either, so the handle is built from the
/// library's internal capi/handle.hpp; seqmq_msgsnd/seqmq_msgrcv then run as for the shim.
/// `o` says where the daemon is and the capacity of a queue this call creates.
/// Throws std::runtime_error if the queue cannot be opened.
capi_handle open_capi_as_shim(const std::string& name, seqmq::queue_options o);

/// Opens (creating it if missing) the daemon queue `name` with seqmq_queue_open, the C API's one
/// way: the library's defaults (credit, waits without a limit), the daemon at $SEQMQ_DAEMON;
/// then sets its msg_qbytes to `capacity` with seqmq_msgctl(IPC_SET).
/// Throws std::runtime_error if either call fails.
capi_handle open_capi_default(const std::string& name, std::size_t capacity);

/// libseqmq-sysv.so's four calls, from the built library loaded with dlopen(RTLD_LOCAL): the code
/// an LD_PRELOADed program runs, while this process's own msgget/msgsnd/msgrcv/msgctl stay the
/// C library's (the sysv peer's). The shim finds seqmqd at $SEQMQ_DAEMON, read at each open.
struct sysv_shim {
    int (*msgget)(key_t key, int msgflg);
    int (*msgsnd)(int msqid, const void* msgp, std::size_t msgsz, int msgflg);
    ssize_t (*msgrcv)(int msqid, void* msgp, std::size_t msgsz, long msgtyp, int msgflg);
    int (*msgctl)(int msqid, int cmd, msqid_ds* buf);

    /// Loads the shim at `path` once per process (its constructor reads SEQMQ_SYSV_KEYS: set to
    /// "all" first, so every key goes to seqmqd) and never unloads it (its fork handlers stay
    /// registered). Later calls return the same calls. Errors: why it cannot be loaded (no path
    /// given, dlopen's or dlsym's message).
    static std::expected<const sysv_shim*, std::string> load(const std::string& path);
};

} // namespace seqmq_bench
