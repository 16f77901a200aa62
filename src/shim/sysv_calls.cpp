// libseqmq-sysv.so: unmodified System V programs on seqmqd.
//
// Loaded with LD_PRELOAD, the library defines msgget, msgsnd, msgrcv, msgctl and syscall()
// (exports.cpp), so the program's calls come here instead of the C library's. Each call either
// goes to seqmqd, with Linux's exact answers, or to the kernel, untouched.
//
// Keys and ids.
//   - A key names the seqmq queue "0x%08x" (the key as ipcs prints it): `seqmq peek 0x5e9a0001`
//     shows what a SysV program queued under key 0x5e9a0001. IPC_PRIVATE makes a private queue.
//   - The msqid is seqmqd's id of the queue (what `seqmq ls` shows and "#ID" opens): one number
//     for every process, passed on through fork, argv or shared memory. seqmqd numbers queues
//     as Linux does (daemon/model/msqid_allocator.hpp: sequence number * 32768 + index; 0, 1,
//     2, ... from its start, as a fresh IPC namespace), so a removed id gives EINVAL and does
//     not reach a newer queue until the sequence numbers come round.
//   - SEQMQ_SYSV_KEYS (key_routing.hpp) sends only some keys to seqmq; the others go to the
//     kernel. Then the two kinds of id are told apart by value: the shim shows a kernel msqid K
//     as K + 2^30 (kernel_id_bit). An id, the kernel's or seqmqd's, reaches 2^30 only once its
//     sequence number reaches 32768: after some two million queues were made (at least 64 for
//     each sequence number); msgget then fails with ENOSPC.
//
// Handles. seqmqd binds each connection to one queue, and a seqmq::queue serves one call at a
// time: the process keeps a pool of handles per msqid (handle_pool.hpp). A call takes an idle
// handle or opens one more ("#msqid"), uses it alone and gives it back; the pool's lock is never
// held while a call waits, so threads blocked on one queue each hold their own handle. msgget
// opens by name and leaves its handle in the pool for the calls that follow.
//   Handles are opened with queue_options::exact_sysv: no credit (a send returns once the message
// is queued, as msgsnd does, so another process sees it when the call returns), and every
// receive from the delivery socket reported at once (msg_lrpid, msg_rtime).
//   Their waits have a limit of decades (seqmq_handle::wait_limit): every wait is then a poll,
// which the kernel never restarts after a signal handler, so msgsnd and msgrcv fail with EINTR
// even under SA_RESTART, as on Linux.
//
// fork(). A child must never use its parent's connections: pthread_atfork's child handler (and,
// for children made without fork(), a pid that changed since the last call) closes the child's
// copies of every descriptor without a word sent on them, and the child opens its own. exec
// keeps the shim: LD_PRELOAD is inherited.
//
// The caller's memory. The kernel reads msgp and writes it with copy_from_user/copy_to_user: a
// bad pointer is EFAULT. The shim copies through process_vm_readv/writev on itself
// (user_memory.hpp) into a buffer of its own, at the point where Linux touches the memory: for
// msgsnd the mtype first, then (after the size and type checks) the mtext, before the id is
// looked up; for msgrcv after the message is taken, so a bad buffer loses the message with
// EFAULT, as on Linux.
//
// The SysV rules themselves are the C API's (src/capi, src/store/sysv_rules.hpp): the shim
// checks arguments in Linux's order, then calls seqmq_msgsnd/seqmq_msgrcv/seqmq_msgctl on its
// handle.
//
// A daemon that cannot be reached: one message on stderr per process, and the call fails with
// ECONNREFUSED (never ENOENT, which msgget(key, 0) means "no such queue" by) — never a silent
// fall back to the kernel.
//
// Cancellation. msgsnd and msgrcv are cancellation points: a cancel pending when one is called
// acts at once; one that arrives while the call waits acts at the thread's next cancellation
// point after it (the shim's waits run with cancellation disabled: unwinding through the client
// library in the middle of a request would leave its connection in an unknown state).
//
// msgctl's IPC_INFO, MSG_INFO, MSG_STAT and MSG_STAT_ANY answer for seqmqd's queues
// (seqmq_daemon_msgctl's rules, capi::fill_msginfo): the highest index, MSG_INFO's counts, a
// queue by index with its full id; the buffer is written as the kernel writes it (EFAULT).
//
// Identity: each call is checked against the caller's effective uid and gid at that call, as
// ipcperms() checks them — every record the client library sends carries them (SCM_CREDENTIALS,
// verified by the kernel), so a seteuid() or setuid() between two calls is seen at the second.
//
// Not (yet) as Linux: supplementary groups are read at connect, and again from /proc/PID/status
// when a call's uid or gid is not the connect-time one (a setgroups() alone is not seen); a
// signal handler that calls these functions while its thread is inside one can
// deadlock on the pool's lock; a program that closes descriptors it did not open (a daemon
// closing "all" of them) closes the shim's connections too; a restarted seqmqd numbers its
// queues from 0 again, as a fresh IPC namespace, so an id from before the restart may name a
// different queue; IPC_INFO's msgpool, msgmap, msgtql and msgseg are Linux's formulas applied to
// seqmqd's limits (Linux reports them from its compile-time MSGMNI and MSGMNB: the same for
// seqmqd --max-queues 32000 --default-capacity 16384); with SEQMQ_SYSV_KEYS naming some keys,
// IPC_INFO, MSG_INFO and MSG_STAT see seqmqd's queues only (an msqid with kernel_id_bit set asks
// the kernel, whose MSG_STAT id is shown as its others are).
#include "shim/sysv_calls.hpp"

#include "shim/handle_pool.hpp"
#include "shim/kernel_calls.hpp"
#include "shim/key_routing.hpp"
#include "shim/user_memory.hpp"
#include "store/sysv_rules.hpp"

#include <seqmq/seqmq.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <string>
#include <unistd.h>

namespace seqmq::shim {

namespace {

namespace sysv = seqmq::detail::sysv;
using seqmq::detail::capi::errno_of;

// How the shim shows a kernel msqid when only some keys go to seqmq (see the top).
constexpr int kernel_id_bit = 1 << 30;
// Linux's IPC_64 (<linux/ipc.h>). Only the architectures with the old ipc() multiplexer parse
// it out of cmd (CONFIG_ARCH_WANT_IPC_PARSE_VERSION: ipc_parse_version); on x86_64, arm64 and
// riscv64 the kernel takes cmd as it is, so IPC_STAT | IPC_64 is EINVAL there, and here too.
#if defined(__x86_64__) || defined(__aarch64__) || (defined(__riscv) && __riscv_xlen == 64)
constexpr int ipc_64 = 0;
#else
constexpr int ipc_64 = 0x0100;
#endif
// "For ever" for a wait, as a limit: long enough, and a poll every time (see the top).
constexpr seqmq::timeout wait_for_ever = std::chrono::hours(24 * 365 * 50);

// --- the process's state -----------------------------------------------------------------------

result<handle_pool::handle_ptr> open_by_id(int msqid);

struct shim_state {
    result<key_routing> keys = key_routing();
    handle_pool pool{&open_by_id};
    std::atomic<pid_t> pid{0};
    std::atomic<std::size_t> max_message_size{8192}; // the daemon's, once a queue was opened
    std::atomic<bool> told_unreachable{false}, told_keys{false}, told_lost{false};

    shim_state() {
        if (const char* text = std::getenv("SEQMQ_SYSV_KEYS"))
            keys = key_routing::parse(text);
        pid = ::getpid();
    }
};

// Made on first use, never destroyed: threads may still be inside a call at exit, and at exit
// the kernel closes the connections anyway. (Reachable from here: not a leak to LeakSanitizer.)
shim_state& state() noexcept {
    static shim_state* s = new shim_state();
    return *s;
}

// This process's pid; a child made without fork() (so without the atfork handler) is noticed
// here, and drops its parent's handles before its first call.
pid_t current_pid(shim_state& s) noexcept {
    const pid_t now = ::getpid();
    if (now != s.pid.load(std::memory_order_relaxed)) {
        s.pid = now;
        s.pool.forked();
    }
    return now;
}

extern "C" void before_fork() {
    state().pool.lock();
}
extern "C" void after_fork_in_parent() {
    state().pool.unlock();
}
extern "C" void after_fork_in_child() {
    shim_state& s = state();
    s.pool.unlock();
    s.pool.forked();
    s.pid = ::getpid();
}

// --- telling the user --------------------------------------------------------------------------

void say(const std::string& line) {
    std::string text = "seqmq-sysv: " + line + "\n";
    for (std::size_t at = 0; at < text.size();) {
        const ssize_t n = ::write(STDERR_FILENO, text.data() + at, text.size() - at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        at += std::size_t(n);
    }
}

void say_once(std::atomic<bool>& told, const std::string& line) {
    if (!told.exchange(true))
        say(line);
}

std::string daemon_text() {
    if (const char* env = std::getenv("SEQMQ_DAEMON"); env && *env)
        return env;
    auto a = seqmq::daemon_address();
    return a ? a->to_string() : "the default address";
}

// What a call comes to: its return value, or -1 and an errno. errno is set from it only once
// everything the call used is released (destructors may make system calls of their own), and
// stays as it was when the call succeeds, as with a system call.
struct outcome {
    long value = 0;
    int error = 0;
};
outcome fail(int error) noexcept {
    return {-1, error};
}
template <class T>
T finish(outcome o, int saved_errno) noexcept {
    errno = o.error ? o.error : saved_errno;
    return T(o.value);
}

// --- opening -----------------------------------------------------------------------------------

seqmq::queue_options handle_options() {
    seqmq::queue_options o;
    o.exact_sysv = true;
    return o;
}

handle_pool::handle_ptr wrap(seqmq::queue q) {
    shim_state& s = state();
    s.max_message_size = q.max_message_size();
    return handle_pool::handle_ptr(new seqmq_handle{std::move(q), wait_for_ever});
}

result<handle_pool::handle_ptr> open_by_id(int msqid) {
    auto q = seqmq::queue::open("#" + std::to_string(msqid), seqmq::open_flags::none, 0,
                                handle_options());
    if (!q)
        return std::unexpected(q.error());
    return wrap(std::move(*q));
}

// The errno for a failed open: when the cause may be the daemon rather than the queue (ENOENT
// is both "no such queue" and "no socket file"), a connection of its own tells which. A daemon
// that cannot be reached is said once on stderr and is ECONNREFUSED.
int open_errno(const std::error_code& e) {
    const int error = errno_of(e);
    if (error == EINVAL && e == std::errc::invalid_argument && !seqmq::daemon_address()) {
        say_once(state().told_unreachable,
                 "SEQMQ_DAEMON=\"" + daemon_text() + "\" is not a seqmq address (unix:/path, " +
                     "unix:@name, tipc:TYPE:INSTANCE): the SysV calls fail with EINVAL");
        return EINVAL;
    }
    if (error != ENOENT && error != ECONNREFUSED && error != EACCES && error != ENOTDIR &&
        error != ETIMEDOUT && error != EUSERS && error != ECONNRESET)
        return error;
    auto reached = seqmq::queue::info(handle_options());
    if (reached)
        return error; // the daemon answers: the error is the queue's
    int why = errno_of(reached.error());
    const int reported = (why == ENOENT || why == ECONNREFUSED) ? ECONNREFUSED : why;
    say_once(
        state().told_unreachable,
        "no seqmqd at " + daemon_text() + " (" + std::strerror(why) +
            "): msgget and the other SysV calls fail with " +
            (reported == ECONNREFUSED ? std::string("ECONNREFUSED") : std::strerror(reported)) +
            ". Start one with `seqmqd`, point SEQMQ_DAEMON at one, or leave keys to the "
            "kernel with SEQMQ_SYSV_KEYS");
    return reported;
}

// A call on msqid needs a handle; the errno when there is none: a queue the daemon does not have
// is an invalid id (EINVAL), as a removed or never made id is on Linux.
int lease_errno(const std::error_code& e) {
    const int error = open_errno(e);
    return error == ENOENT ? EINVAL : error;
}

// After a call that failed with `error` on a handle: a handle whose queue is gone or whose
// connection is lost goes no more back to the pool.
void after_failure(handle_pool::lease& l, int msqid, int error) {
    switch (error) {
    case EINVAL:
    case EIDRM:
        if (seqmq::detail::queue_known_removed(l.queue())) {
            l.discard();
            state().pool.forget(msqid);
        }
        return;
    case ECONNRESET:
    case EPIPE:
    case ENOTCONN:
    case EPROTO:
        l.discard();
        say_once(state().told_lost, "lost the connection to seqmqd at " + daemon_text() + " (" +
                                        std::strerror(error) + ")");
        return;
    default:
        return;
    }
}

// A buffer of this thread's for the messages on their way in and out.
class scratch {
public:
    std::byte* get(std::size_t size) {
        if (size > size_) {
            data_ = std::make_unique<std::byte[]>(size);
            size_ = size;
        }
        return data_.get();
    }

private:
    std::unique_ptr<std::byte[]> data_;
    std::size_t size_ = 0;
};

std::byte* message_buffer(std::size_t text_size) {
    thread_local scratch buffer;
    return buffer.get(sizeof(long) + text_size);
}

// Cancellation disabled for the call's lifetime (see the top).
class no_cancel {
public:
    no_cancel() noexcept { ::pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_); }
    ~no_cancel() { ::pthread_setcancelstate(old_, nullptr); }
    no_cancel(const no_cancel&) = delete;
    no_cancel& operator=(const no_cancel&) = delete;

private:
    int old_ = PTHREAD_CANCEL_ENABLE;
};

outcome serve_msgget(key_t key, int msgflg) noexcept;
outcome serve_msgsnd(int msqid, const void* msgp, std::size_t msgsz, int msgflg) noexcept;
outcome serve_msgrcv(int msqid, void* msgp, std::size_t msgsz, long msgtyp, int msgflg) noexcept;
outcome serve_msgctl(int msqid, int cmd, msqid_ds* buf) noexcept;

// IPC_STAT's and MSG_STAT's buffer for a queue: the key put back from its name.
msqid_ds shown_stat(const seqmq::queue_stat& st) noexcept {
    msqid_ds ds;
    seqmq::detail::capi::fill_msqid_ds(st, ds);
    ds.msg_perm.__key = key_of_queue_name(st.name).value_or(IPC_PRIVATE);
    return ds;
}

} // namespace

// --- the calls ---------------------------------------------------------------------------------

void load() noexcept {
    kernel::resolve();
    (void)state();
    ::pthread_atfork(&before_fork, &after_fork_in_parent, &after_fork_in_child);
}

bool kernel_id(int msqid, int& kernel_msqid) noexcept {
    const shim_state& s = state();
    if (!s.keys)
        return false; // every call fails (EINVAL), said once
    if (s.keys->none()) {
        kernel_msqid = msqid;
        return true;
    }
    if (s.keys->all() || msqid < 0 || !(msqid & kernel_id_bit))
        return false;
    kernel_msqid = msqid & ~kernel_id_bit;
    return true;
}

int sysv_msgget(key_t key, int msgflg) noexcept {
    const int saved = errno;
    return finish<int>(serve_msgget(key, msgflg), saved);
}

int sysv_msgsnd(int msqid, const void* msgp, std::size_t msgsz, int msgflg) noexcept {
    const int saved = errno;
    return finish<int>(serve_msgsnd(msqid, msgp, msgsz, msgflg), saved);
}

ssize_t sysv_msgrcv(int msqid, void* msgp, std::size_t msgsz, long msgtyp, int msgflg) noexcept {
    const int saved = errno;
    return finish<ssize_t>(serve_msgrcv(msqid, msgp, msgsz, msgtyp, msgflg), saved);
}

int sysv_msgctl(int msqid, int cmd, msqid_ds* buf) noexcept {
    const int saved = errno;
    return finish<int>(serve_msgctl(msqid, cmd, buf), saved);
}

long kernel_msgctl_result(int cmd, long r) noexcept {
    const int bare = cmd & ~ipc_64;
    const shim_state& s = state();
    if (r < 0 || (bare != MSG_STAT && bare != MSG_STAT_ANY) || !s.keys || s.keys->none())
        return r;
    if (r & kernel_id_bit) { // cannot be told from a seqmq id, as in msgget
        errno = ENOSPC;
        return -1;
    }
    return r | kernel_id_bit;
}

namespace {

outcome serve_msgget(key_t key, int msgflg) noexcept {
    shim_state& s = state();
    if (s.keys && !s.keys->to_seqmq(key)) {
        const int id = kernel::msgget(key, msgflg);
        if (id < 0)
            return fail(errno);
        if (s.keys->none())
            return {id, 0};
        if (id & kernel_id_bit) // cannot be told from a seqmq id (see the top)
            return fail(ENOSPC);
        return {id | kernel_id_bit, 0};
    }
    try {
        if (!s.keys) {
            const char* text = std::getenv("SEQMQ_SYSV_KEYS");
            say_once(s.told_keys, "SEQMQ_SYSV_KEYS=\"" + std::string(text ? text : "") +
                                      "\" is not `all`, `none` or a list of keys and ranges "
                                      "(0x5e9a0001,0x100-0x1ff): the SysV calls fail with EINVAL");
            return fail(EINVAL);
        }
        no_cancel hold;
        (void)current_pid(s);
        const unsigned mode = unsigned(msgflg) & 0777;
        auto made = [&] {
            if (key == IPC_PRIVATE) // with or without IPC_CREAT, as Linux
                return seqmq::queue::create_private(mode, handle_options());
            auto how = seqmq::open_flags::none;
            if (msgflg & IPC_CREAT)
                how = how | seqmq::open_flags::create;
            if (msgflg & IPC_EXCL)
                how = how | seqmq::open_flags::exclusive;
            return seqmq::queue::open(queue_name_of(key), how, mode, handle_options());
        }();
        if (!made)
            return fail(open_errno(made.error()));
        const std::uint64_t id = seqmq::detail::queue_id(*made);
        if (id > std::uint64_t(INT_MAX) || (!s.keys->all() && (id & kernel_id_bit)))
            return fail(ENOSPC); // no msqid can name it
        s.pool.add(int(id), wrap(std::move(*made)));
        return {long(id), 0};
    } catch (...) { // (only std::bad_alloc can come this far)
        return fail(ENOMEM);
    }
}

outcome serve_msgsnd(int msqid, const void* msgp, std::size_t msgsz, int msgflg) noexcept {
    shim_state& s = state();
    if (!s.keys)
        return fail(EINVAL);
    try {
        no_cancel hold;
        const pid_t self = current_pid(s);
        // Linux's order: the mtype is read first (EFAULT); then msgsz above msgmax or negative,
        // a negative id and an mtype below 1 are EINVAL; then the mtext is read (EFAULT); only
        // then is the id looked up (EINVAL). A size that can be right reads both in one system
        // call (each is a part of its own: the count tells which one was unreadable); any other
        // reads the mtype alone, for EFAULT or EINVAL.
        auto* theirs = static_cast<std::byte*>(const_cast<void*>(msgp));
        auto mtype_then_einval = [&] {
            long mtype = 0;
            const iovec type_ours{&mtype, sizeof mtype};
            const iovec type_theirs{theirs, sizeof mtype};
            return fail(read_user(self, {&type_ours, 1}, {&type_theirs, 1}) != sizeof mtype
                            ? EFAULT
                            : EINVAL);
        };
        if (msqid < 0 || static_cast<long>(msgsz) < 0)
            return mtype_then_einval();
        auto l = s.pool.take(msqid);
        const std::size_t max = l ? l->queue().max_message_size() : s.max_message_size.load();
        if (msgsz > max)
            return mtype_then_einval();
        std::byte* message = message_buffer(msgsz);
        const iovec ours[2] = {{message, sizeof(long)}, {message + sizeof(long), msgsz}};
        const iovec user[2] = {{theirs, sizeof(long)}, {theirs + sizeof(long), msgsz}};
        const std::size_t got = read_user(self, ours, user);
        if (got < sizeof(long))
            return fail(EFAULT);
        long mtype = 0;
        std::memcpy(&mtype, message, sizeof mtype);
        if (sysv::check_send(mtype, msgsz, max) != sysv::send_check::ok)
            return fail(EINVAL);
        if (got != sizeof(long) + msgsz)
            return fail(EFAULT);
        if (!l)
            return fail(lease_errno(l.error()));
        const int r = seqmq_msgsnd(&l->handle(), message, msgsz, msgflg);
        if (r == 0)
            return {0, 0};
        const int error = errno;
        after_failure(*l, msqid, error);
        return fail(error);
    } catch (...) { // (only std::bad_alloc can come this far)
        return fail(ENOMEM);
    }
}

outcome serve_msgrcv(int msqid, void* msgp, std::size_t msgsz, long msgtyp, int msgflg) noexcept {
    shim_state& s = state();
    if (!s.keys)
        return fail(EINVAL);
    try {
        no_cancel hold;
        const pid_t self = current_pid(s);
        // Linux's order: a negative id or msgsz is EINVAL; MSG_COPY's flags; the id (EINVAL);
        // permission, the message (E2BIG, ENOMSG, waiting); only then is msgp written (EFAULT,
        // and the message, already taken, is lost).
        if (msqid < 0 || static_cast<long>(msgsz) < 0)
            return fail(EINVAL);
        if ((msgflg & SEQMQ_MSG_COPY) && ((msgflg & SEQMQ_MSG_EXCEPT) || !(msgflg & IPC_NOWAIT)))
            return fail(EINVAL);
        auto l = s.pool.take(msqid);
        if (!l)
            return fail(lease_errno(l.error()));
        // No message is longer than the daemon's maximum: a buffer that large decides E2BIG
        // and MSG_NOERROR as the caller's would.
        const std::size_t room = std::min(msgsz, l->queue().max_message_size());
        std::byte* message = message_buffer(room);
        const ssize_t n = seqmq_msgrcv(&l->handle(), message, room, msgtyp, msgflg);
        if (n < 0) {
            const int error = errno;
            after_failure(*l, msqid, error);
            return fail(error);
        }
        const std::size_t size = sizeof(long) + std::size_t(n);
        const iovec ours{message, size};
        const iovec theirs{msgp, size};
        if (write_user(self, {&theirs, 1}, {&ours, 1}) != size)
            return fail(EFAULT);
        return {long(n), 0};
    } catch (...) { // (only std::bad_alloc can come this far)
        return fail(ENOMEM);
    }
}

// IPC_INFO and MSG_INFO (msgctl_info): msqid is not looked at; buf is struct msginfo.
outcome serve_msgctl_info(pid_t self, int cmd, msqid_ds* buf) {
    auto d = seqmq::queue::info(handle_options());
    if (!d)
        return fail(open_errno(d.error()));
    msginfo got;
    const int highest = seqmq::detail::capi::fill_msginfo(*d, cmd, got);
    const iovec ours{&got, sizeof got};
    const iovec theirs{buf, sizeof got};
    if (write_user(self, {&theirs, 1}, {&ours, 1}) != sizeof got)
        return fail(EFAULT);
    return {highest, 0};
}

// MSG_STAT and MSG_STAT_ANY (msgctl_stat): msqid is an index; the queue's full id is returned.
outcome serve_msgctl_stat_index(pid_t self, int msqid, int cmd, msqid_ds* buf) {
    auto st = seqmq::queue::stat_index(std::uint32_t(msqid),
                                       cmd == MSG_STAT_ANY ? seqmq::stat_check::none
                                                           : seqmq::stat_check::read_permission,
                                       handle_options());
    if (!st)
        return fail(open_errno(st.error()));
    msqid_ds got = shown_stat(*st);
    const iovec ours{&got, sizeof got};
    const iovec theirs{buf, sizeof got};
    if (write_user(self, {&theirs, 1}, {&ours, 1}) != sizeof got)
        return fail(EFAULT);
    return {long(st->id), 0};
}

outcome serve_msgctl(int msqid, int cmd, msqid_ds* buf) noexcept {
    shim_state& s = state();
    if (!s.keys)
        return fail(EINVAL);
    try {
        no_cancel hold;
        const pid_t self = current_pid(s);
        if (msqid < 0 || cmd < 0)
            return fail(EINVAL);
        cmd &= ~ipc_64;
        if (cmd == IPC_INFO || cmd == MSG_INFO)
            return serve_msgctl_info(self, cmd, buf);
        if (cmd == MSG_STAT || cmd == MSG_STAT_ANY)
            return serve_msgctl_stat_index(self, msqid, cmd, buf);
        if (cmd != IPC_STAT && cmd != IPC_SET && cmd != IPC_RMID)
            return fail(EINVAL);
        // Linux reads IPC_SET's buffer before it looks at the id.
        msqid_ds wanted{};
        if (cmd == IPC_SET) {
            const iovec ours{&wanted, sizeof wanted};
            const iovec theirs{buf, sizeof wanted};
            if (read_user(self, {&ours, 1}, {&theirs, 1}) != sizeof wanted)
                return fail(EFAULT);
        }
        auto l = s.pool.take(msqid);
        if (!l)
            return fail(lease_errno(l.error()));
        seqmq::queue& q = l->queue();
        if (cmd == IPC_STAT) {
            if (seqmq::detail::queue_known_removed(q)) {
                l->discard();
                s.pool.forget(msqid);
                return fail(EINVAL);
            }
            auto st = q.stat();
            if (!st) {
                const int error = errno_of(st.error());
                after_failure(*l, msqid, error);
                return fail(error);
            }
            msqid_ds got = shown_stat(*st);
            const iovec ours{&got, sizeof got};
            const iovec theirs{buf, sizeof got};
            if (write_user(self, {&theirs, 1}, {&ours, 1}) != sizeof got)
                return fail(EFAULT);
            return {0, 0};
        }
        const int r = seqmq_msgctl(&l->handle(), cmd, cmd == IPC_SET ? &wanted : nullptr);
        if (r == 0) {
            if (cmd == IPC_RMID) {
                l->discard();
                s.pool.forget(msqid);
            }
            return {0, 0};
        }
        const int error = errno;
        after_failure(*l, msqid, error);
        return fail(error);
    } catch (...) { // (only std::bad_alloc can come this far)
        return fail(ENOMEM);
    }
}

} // namespace

} // namespace seqmq::shim
