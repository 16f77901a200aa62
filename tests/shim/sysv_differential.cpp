// A plain System V program: <sys/msg.h>, the C++ standard library and the operations of the SysV
// differential tests (tests/sysv/operation_generator.hpp), nothing of seqmq. For each MIX:SEED on
// its command line it makes a queue, applies OPERATIONS generated msgsnd/msgrcv calls to it with
// the real msgsnd/msgrcv/msgctl, drains it, removes it, and prints one line per call: the call,
// its return value or -1 and the errno's name, for a receive the message's type and a hash of its
// bytes, and IPC_STAT's fields afterwards. A run on the kernel's queues and a run under
// libseqmq-sysv.so must print the same lines (tests/shim/shim_test.cpp). Nothing printed depends
// on the host: no ids, pids or times, only whether they are what SysV says (an id is the same or
// another one, a pid is "self" or 0, a time "set" or 0).
//
//   sysv_differential [--msg-copy=probe|yes|no] [--no-bad-pointers] OPERATIONS MIX:SEED...
//
//   MIX             plain, waiting (receives without IPC_NOWAIT that a queued message answers at
//                   once), wide (types beyond 32 bits): msg_qbytes 16384, never full; bytes,
//                   count, empty, full-waiting: msg_qbytes lowered (IPC_SET) to 4096, 12, 3 and
//                   4096, filled by bytes, by bytes and count, by zero-length messages, and
//                   drained by receives that may wait: the sends that do not fit carry
//                   IPC_NOWAIT and fail with EAGAIN.
//   --msg-copy      whether MSG_COPY is generated: `probe` (the default) asks this process's
//                   msgget/msgrcv, which is the kernel only in a native run, so the run under the
//                   shim is given the native run's answer.
//   --no-bad-pointers  no msgsnd with a NULL buffer or a msgsz larger than its buffer (they fail
//                   with EFAULT and EINVAL unread): an AddressSanitizer runtime preloaded ahead
//                   of the shim checks msgsnd's buffer in its own interceptor first.
//
// Every call is predicted by the generator's model of Linux first; a call the model says would
// wait is never made (a fault of the generator, exit 1). A result the model did not predict is
// marked on its line and makes the exit status 1 — natively that is a fault of the test, under the
// shim the comparison shows it. A call that has not returned after 10 s is reported on stdout and
// ends the program with status 3 (SIGALRM). Exit 2: bad usage.
#include "sysv/operation_generator.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>
#include <vector>

namespace {

using namespace seqmq::test::differential;

constexpr key_t first_key = 0x5e9a0d00; // the keyed queues: first_key + the seed's position
constexpr unsigned watchdog_seconds = 10;

// --- the watchdog --------------------------------------------------------------------------------

char pending_call[1024]; // what is running, for the watchdog's line

extern "C" void on_watchdog(int) {
    static const char head[] = "watchdog: ";
    static const char tail[] = " did not return within 10 s\n";
    (void)!::write(STDOUT_FILENO, head, sizeof head - 1);
    (void)!::write(STDOUT_FILENO, pending_call, ::strnlen(pending_call, sizeof pending_call));
    (void)!::write(STDOUT_FILENO, tail, sizeof tail - 1);
    ::_exit(3);
}

// Armed for one call: SIGALRM after watchdog_seconds ends the program (see on_watchdog).
class watchdog {
public:
    explicit watchdog(std::string_view what) {
        const std::size_t n = std::min(what.size(), sizeof pending_call - 1);
        std::memcpy(pending_call, what.data(), n);
        pending_call[n] = '\0';
        ::alarm(watchdog_seconds);
    }
    ~watchdog() { ::alarm(0); }
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;
};

void install_watchdog() {
    struct sigaction sa {};
    sa.sa_handler = on_watchdog;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(SIGALRM, &sa, nullptr);
}

// --- what is printed -----------------------------------------------------------------------------

bool unpredicted = false; // a result the model did not predict (exit 1)

void print(const std::string& line) {
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
}

std::string result_text(long rc, int error) {
    return rc < 0 ? "-1 " + error_name(error) : std::to_string(rc);
}

// FNV-1a, 64 bits: the received bytes in 16 hex digits.
std::string hash_text(const unsigned char* p, std::size_t n) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (std::size_t i = 0; i < n; ++i)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
    return text;
}

std::string key_text(key_t key) {
    if (key == IPC_PRIVATE)
        return "IPC_PRIVATE";
    char text[16];
    std::snprintf(text, sizeof text, "0x%08x", static_cast<unsigned>(key));
    return text;
}

std::string mode_text(unsigned mode) {
    char text[16];
    std::snprintf(text, sizeof text, "0%o", mode);
    return text;
}

std::string pid_text(pid_t pid) {
    return pid == 0 ? "0" : pid == ::getpid() ? "self" : "other";
}

// IPC_STAT's fields that do not depend on the host, as they relate to this process.
std::string stat_text(int id) {
    msqid_ds ds{};
    errno = 0;
    const int rc = ::msgctl(id, IPC_STAT, &ds);
    if (rc < 0)
        return "IPC_STAT " + result_text(rc, errno);
    const bool owner = ds.msg_perm.uid == ::geteuid() && ds.msg_perm.cuid == ::geteuid() &&
                       ds.msg_perm.gid == ::getegid() && ds.msg_perm.cgid == ::getegid();
    std::string s = "qnum " + std::to_string(ds.msg_qnum) + " cbytes " +
                    std::to_string(ds.__msg_cbytes) + " qbytes " + std::to_string(ds.msg_qbytes);
    s += " lspid " + pid_text(ds.msg_lspid) + " lrpid " + pid_text(ds.msg_lrpid);
    s += std::string(" stime ") + (ds.msg_stime ? "set" : "0") + " rtime " +
         (ds.msg_rtime ? "set" : "0") + " ctime " + (ds.msg_ctime ? "set" : "0");
    s += " mode " + mode_text(ds.msg_perm.mode) + " key " + key_text(ds.msg_perm.__key) +
         (owner ? " owner self" : " owner other");
    return s;
}

constexpr unsigned char pattern(std::size_t i) {
    return static_cast<unsigned char>(i * 131 + 7);
}

// --- one call ------------------------------------------------------------------------------------

struct counts {
    std::size_t sends = 0, receives = 0, waiting = 0, copies = 0, truncated = 0;
    std::size_t einval = 0, enomsg = 0, e2big = 0, eagain = 0, efault = 0, other = 0;
    std::size_t deepest = 0;
    void note(const operation& op, long rc, int error, std::optional<std::size_t> met) {
        (op.kind == op_kind::send ? sends : receives)++;
        waiting += op.kind == op_kind::receive && !(op.flags & IPC_NOWAIT);
        copies += (op.flags & MSG_COPY) && rc >= 0;
        truncated += op.kind == op_kind::receive && rc >= 0 && met && *met > op.size;
        if (rc < 0)
            (error == EINVAL   ? einval
             : error == ENOMSG ? enomsg
             : error == E2BIG  ? e2big
             : error == EAGAIN ? eagain
             : error == EFAULT ? efault
                               : other)++;
    }
    std::string text() const {
        return std::to_string(sends) + " sends, " + std::to_string(receives) + " receives (" +
               std::to_string(waiting) + " without IPC_NOWAIT, " + std::to_string(copies) +
               " MSG_COPY, " + std::to_string(truncated) + " truncated); " +
               std::to_string(einval) + " EINVAL, " + std::to_string(enomsg) + " ENOMSG, " +
               std::to_string(e2big) + " E2BIG, " + std::to_string(eagain) + " EAGAIN, " +
               std::to_string(efault) + " EFAULT, " + std::to_string(other) +
               " other; deepest queue " + std::to_string(deepest) + " messages";
    }
};

// Makes `op` on queue `id` with the real msgsnd/msgrcv, prints its line and applies the model's
// prediction (never the result: the operations that follow are the same whatever a side answers).
void call(int id, const std::string& label, const operation& op, queue_model& model,
          counts& tally) {
    const prediction p = model.predict(op);
    const std::string what = label + " " + describe(op);
    if (p.error == EDEADLK) {
        print("TEST FAULT: the generator made a call that would wait: " + what);
        std::fflush(stdout);
        std::exit(1);
    }
    std::optional<std::size_t> met;
    if (op.kind == op_kind::receive)
        if (auto at = model.find(op.type, op.flags))
            met = model.at(*at).size;

    // Exactly sizeof(long) + the mtext the generator allocated; a receive's starts as a pattern,
    // so that what the call must not touch is checked too.
    const std::size_t total = sizeof(long) + op.mtext_allocated;
    auto storage = std::make_unique<unsigned char[]>(total);
    unsigned char* buf = storage.get();
    if (op.kind == op_kind::send) {
        std::memcpy(buf, &op.type, sizeof op.type);
        if (!op.payload.empty())
            std::memcpy(buf + sizeof(long), op.payload.data(), op.payload.size());
    } else {
        for (std::size_t i = 0; i < total; ++i)
            buf[i] = pattern(i);
    }
    void* msgp = op.null_buffer ? nullptr : buf;
    long rc = 0;
    int error = 0;
    {
        watchdog w(what);
        errno = 0;
        rc = op.kind == op_kind::send ? ::msgsnd(id, msgp, op.size, op.flags)
                                      : ::msgrcv(id, msgp, op.size, op.type, op.flags);
        error = rc < 0 ? errno : 0;
    }

    std::string line = what + " = " + result_text(rc, error);
    if (op.kind == op_kind::receive) {
        std::size_t written = 0; // the bytes the call may have written
        if (rc >= 0) {
            long mtype = 0;
            std::memcpy(&mtype, buf, sizeof mtype);
            const std::size_t n =
                std::min<std::size_t>(static_cast<std::size_t>(rc), total - sizeof(long));
            line += " mtype " + type_text(mtype) + " mtext " + hash_text(buf + sizeof(long), n);
            written = sizeof(long) + n;
        }
        for (std::size_t i = written; i < total; ++i)
            if (buf[i] != pattern(i)) {
                line += " (and wrote byte " + std::to_string(i) + " of the buffer, past " +
                        std::to_string(written) + ")";
                break;
            }
    }
    if (rc != p.rc || error != p.error) {
        line += " [the model predicted " + result_text(p.rc, p.error) + "]";
        unpredicted = true;
    }
    {
        watchdog w(label + " IPC_STAT");
        line += " | " + stat_text(id);
    }
    print(line);
    tally.note(op, rc, error, met);
    model.apply(op, p);
    tally.deepest = std::max(tally.deepest, model.count());
}

// --- one seed ------------------------------------------------------------------------------------

struct mix {
    const char* name;
    generator_config config;
    std::size_t capacity; // msg_qbytes; below default_capacity: lowered with IPC_SET
};

generator_config overfilling(generator_config c, std::size_t max_size) {
    c.overfill = true;
    c.max_size = max_size;
    return c;
}

std::vector<mix> mixes() {
    return {
        {"plain", small_types(), default_capacity},
        {"waiting", small_types_waiting(), default_capacity},
        {"wide", wide_types(), default_capacity},
        {"bytes", overfilling(small_types(), msgmax), 4096},
        {"count", overfilling(small_types(), 3), 12},
        {"empty", overfilling(small_types(), 0), 3},
        {"full-waiting", overfilling(small_types_waiting(), msgmax), 4096},
    };
}

std::string flags_of_msgget(int flags) {
    std::string s;
    if (flags & IPC_CREAT)
        s += "IPC_CREAT|";
    if (flags & IPC_EXCL)
        s += "IPC_EXCL|";
    return s + mode_text(static_cast<unsigned>(flags & 0777));
}

int show_msgget(key_t key, int flags, const std::string& what_id) {
    errno = 0;
    const int id = ::msgget(key, flags);
    const int error = errno;
    print("msgget(" + key_text(key) + ", " + flags_of_msgget(flags) +
          ") = " + (id >= 0 ? what_id : result_text(id, error)));
    return id;
}

// Whether a bad pointer (see --no-bad-pointers) is in `op`.
bool bad_pointer(const operation& op) {
    return op.kind == op_kind::send && (op.null_buffer || op.size > op.mtext_allocated);
}

struct options {
    bool msg_copy = true;
    bool bad_pointers = true;
    std::size_t operations = 0;
};

// The queue for the seed at `position` (keyed or private, by turns), its operations, the drain
// and the removal. False if the queue could not be made.
bool run_seed(const mix& m, std::uint64_t seed, std::size_t position, const options& o) {
    print("== " + std::string(m.name) + ":" + std::to_string(seed) + ", msg_qbytes " +
          std::to_string(m.capacity));
    const bool keyed = position % 2 == 0;
    const key_t key = keyed ? first_key + static_cast<key_t>(position) : IPC_PRIVATE;
    static constexpr int modes[] = {0600, 0640, 0604};
    const int mode = modes[position % 3];
    const int id = show_msgget(key, IPC_CREAT | IPC_EXCL | mode, "an id");
    if (id < 0)
        return false;
    if (keyed) {
        show_msgget(key, IPC_CREAT | IPC_EXCL | mode, "an id");
        const int again = ::msgget(key, 0);
        print("msgget(" + key_text(key) +
              ", 0) = " + (again == id ? std::string("the same id") : result_text(again, errno)));
    } else {
        const int other = ::msgget(IPC_PRIVATE, IPC_CREAT | mode);
        print(std::string("another msgget(IPC_PRIVATE) = ") + (other < 0 ? result_text(other, errno)
                                                               : other == id ? "the same id"
                                                                             : "another id"));
        if (other >= 0 && other != id)
            ::msgctl(other, IPC_RMID, nullptr);
    }
    print("IPC_STAT | " + stat_text(id));
    if (m.capacity != default_capacity) {
        msqid_ds ds{};
        ::msgctl(id, IPC_STAT, &ds);
        ds.msg_qbytes = m.capacity;
        errno = 0;
        const int rc = ::msgctl(id, IPC_SET, &ds);
        print("IPC_SET msg_qbytes=" + std::to_string(m.capacity) + " = " + result_text(rc, errno) +
              " | " + stat_text(id));
    }

    environment e;
    e.capacity = e.backlog_limit = m.capacity;
    e.msg_copy = o.msg_copy;
    generator gen(seed, m.config, e);
    queue_model model(m.capacity);
    counts tally;
    std::size_t left_out = 0;
    for (std::size_t i = 0; i < o.operations; ++i) {
        const operation op = gen.next(model);
        if (!o.bad_pointers && bad_pointer(op)) {
            // Not made; it fails without touching the queue, so the model stays as it is.
            ++left_out;
            continue;
        }
        call(id, "#" + std::to_string(i), op, model, tally);
    }
    // Drain: msgrcv(msgmax, 0, IPC_NOWAIT) until ENOMSG.
    const std::size_t left = model.count();
    for (std::size_t i = 0; i <= left; ++i)
        call(id, "drain", operation{op_kind::receive, 0, msgmax, IPC_NOWAIT, msgmax, false, {}},
             model, tally);
    print("summary: " + tally.text() +
          (left_out ? "; " + std::to_string(left_out) + " with bad pointers left out" : ""));

    auto show = [&](const std::string& what, long rc) {
        print(what + " = " + result_text(rc, rc < 0 ? errno : 0));
    };
    msqid_ds ds{};
    show("IPC_RMID", ::msgctl(id, IPC_RMID, nullptr));
    struct {
        long mtype;
        char mtext[8];
    } message{1, {}};
    show("msgsnd on the removed id", ::msgsnd(id, &message, sizeof message.mtext, IPC_NOWAIT));
    show("msgrcv on the removed id", ::msgrcv(id, &message, sizeof message.mtext, 0, IPC_NOWAIT));
    show("IPC_STAT on the removed id", ::msgctl(id, IPC_STAT, &ds));
    show("IPC_RMID on the removed id", ::msgctl(id, IPC_RMID, nullptr));
    if (keyed)
        show("msgget(" + key_text(key) + ", 0) after IPC_RMID", ::msgget(key, 0));
    return true;
}

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "sysv_differential: %s\nusage: sysv_differential [--msg-copy=probe|yes|no] "
                 "[--no-bad-pointers] OPERATIONS MIX:SEED...\n",
                 why);
    std::exit(2);
}

} // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0); // every line out before the watchdog's
    options o;
    std::string msg_copy = "probe";
    int at = 1;
    for (; at < argc && std::string_view(argv[at]).starts_with("--"); ++at) {
        const std::string_view a = argv[at];
        if (a == "--no-bad-pointers")
            o.bad_pointers = false;
        else if (a.starts_with("--msg-copy="))
            msg_copy = a.substr(11);
        else
            usage("unknown option");
    }
    if (msg_copy != "probe" && msg_copy != "yes" && msg_copy != "no")
        usage("--msg-copy takes probe, yes or no");
    if (at >= argc)
        usage("no OPERATIONS");
    char* end = nullptr;
    o.operations = std::strtoull(argv[at], &end, 10);
    if (*argv[at] == '\0' || *end != '\0')
        usage("OPERATIONS is not a number");
    ++at;
    if (at >= argc)
        usage("no MIX:SEED");
    const std::vector<mix> known = mixes();
    std::vector<std::pair<const mix*, std::uint64_t>> seeds;
    for (; at < argc; ++at) {
        const std::string_view a = argv[at];
        const auto colon = a.find(':');
        const mix* found = nullptr;
        for (const mix& m : known)
            if (a.substr(0, colon) == m.name)
                found = &m;
        const std::string number(colon == a.npos ? "" : a.substr(colon + 1));
        std::uint64_t seed = std::strtoull(number.c_str(), &end, 0);
        if (!found || number.empty() || *end != '\0')
            usage("not MIX:SEED, with MIX plain, waiting, wide, bytes, count, empty or "
                  "full-waiting");
        seeds.emplace_back(found, seed);
    }

    install_watchdog();
    {
        watchdog w("the MSG_COPY probe");
        o.msg_copy = msg_copy == "probe" ? kernel_has_msg_copy() : msg_copy == "yes";
    }
    print("sysv_differential: " + std::to_string(o.operations) + " operations per seed, MSG_COPY " +
          (o.msg_copy ? "yes" : "no") + (o.bad_pointers ? "" : ", no bad pointers"));
    for (std::size_t i = 0; i < seeds.size(); ++i)
        if (!run_seed(*seeds[i].first, seeds[i].second, i, o))
            return 1;
    print("== done");
    return unpredicted ? 1 : 0;
}
