// seqmq_bench: seqmq side by side with the queues it replaces, in one run (issue 5):
//   transfer  ping-pong round trip (p50, p99) and one-way throughput between two processes, for
//             each message size: SysV msgq, POSIX mq, raw AF_UNIX SEQPACKET (plain, recvmmsg
//             batch 32), the seqmq mailbox, a seqmq::queue through seqmqd, and through seqmqd
//             too the C API (seqmq_msgsnd/seqmq_msgrcv; handles opened as the shim's, and with
//             seqmq_queue_open's defaults) and the SysV shim itself (libseqmq-sysv.so loaded
//             into the benchmark's processes): issue 10's shim/C API ratio;
//   depth     selective receive of a tail message and listing of the whole backlog at depths
//             100 .. 100k: SysV msgrcv / MSG_COPY, an AF_UNIX SO_PEEK_OFF walk, the mailbox;
//             with --plot, a log-log PNG of time per operation against depth;
//   senders   1, 4, 16 sender processes into one mailbox (and one SysV queue);
//   steady    heap allocations per message in the steady state (mailbox, daemon queue, C API,
//             shim), and the stash's peak bytes.
// With --transport tipc (inside a TIPC kernel or tests/bench/run-tipc-bench.sh's guest):
// raw TIPC SEQPACKET and the mailbox over TIPC next to AF_UNIX, optionally across two network
// namespaces (--netns). A program that prints tables (and, with --json, a file), never a test:
// nothing here asserts a timing.
//
// Larger queues or messages than the host's SysV/POSIX limits allow are only set up inside a
// private IPC namespace (unshare(CLONE_NEWIPC) at start), and the AF_UNIX backlog of the depth
// suite inside a private network namespace; the host's limits are never changed.

#include "bench.hpp"
#include "depth.hpp"
#include "sysv_calls.hpp"

#include <seqmq/address.hpp>
#include <seqmq/mailbox.hpp>
#include <seqmq/message.hpp>
#include <seqmq/queue.hpp>
#include <seqmq/sender.hpp>
#include <seqmq/seqmq.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <linux/tipc.h>
#include <map>
#include <memory>
#include <mqueue.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <sched.h>
#include <set>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vector>

#ifndef SEQMQ_BENCH_DAEMON
#define SEQMQ_BENCH_DAEMON ""
#endif
#ifndef SEQMQ_BENCH_SHIM
#define SEQMQ_BENCH_SHIM ""
#endif

namespace {

using namespace seqmq_bench;

// ---------------------------------------------------------------------------------------------
// Settings.

const std::vector<std::string> known_peers{
    "sysv",       "posix",     "unix",         "unix-mmsg",   "seqmq", "seqmq-batch",
    "seqmq-spin", "daemon",    "daemon-batch", "daemon-capi", "shim",  "daemon-capi-credit",
    "tipc",       "seqmq-tipc"};
const std::vector<std::string> known_suites{"transfer", "depth", "senders", "steady"};

struct settings {
    std::size_t messages = 100000;  // throughput: messages per run (scaled down above 1 KiB)
    std::size_t roundtrips = 10000; // ping-pong: measured round trips per run
    std::size_t repeat = 5;
    std::vector<std::size_t> sizes{16, 64, 1024, 8192, 65536};
    std::vector<std::string> peers{
        "sysv",       "posix",  "unix",         "unix-mmsg",   "seqmq", "seqmq-batch",
        "seqmq-spin", "daemon", "daemon-batch", "daemon-capi", "shim",  "daemon-capi-credit"};
    std::vector<std::string> suites = known_suites;
    depth_settings depth;
    senders_settings senders;
    std::string json_path, plot_path, daemon_path = SEQMQ_BENCH_DAEMON;
    std::string shim_path = SEQMQ_BENCH_SHIM; // --shim: libseqmq-sysv.so
    unsigned daemon_spin_us = 0;              // --daemon-spin: seqmqd --spin-us
    std::vector<std::string> daemon_args;     // --daemon-args: more seqmqd flags
    bool tipc = false;                        // --transport tipc
    std::vector<std::string> netns;           // --netns A,B: parent in A, child in B
    std::vector<std::string> compare;         // --compare OLD NEW
    bool quick = false;
    bool wants(const std::string& suite) const {
        return std::find(suites.begin(), suites.end(), suite) != suites.end();
    }
    bool wants_peer(const std::string& p) const {
        return std::find(peers.begin(), peers.end(), p) != peers.end();
    }
};

constexpr std::size_t default_queue_bytes = 16384; // Linux msgmnb; seqmq's default capacity
constexpr std::size_t mmsg_batch = 32;
constexpr int watchdog_seconds = 120;

void usage(std::ostream& out) {
    out << "usage: seqmq_bench [options]\n"
           "  (default: every suite, sizes 16,64,1K,8K,64K, medians of 5; about 4 minutes on 2 "
           "cores)\n"
           "  --quick          a short run: 3 repetitions, fewer messages, depths up to 10k\n"
           "  --suites LIST    of transfer,depth,senders,steady (default all)\n"
           "  --messages N     messages per throughput run (default 100000; above 1 KiB scaled\n"
           "                   down to about the same number of bytes, at least 2000)\n"
           "  --roundtrips N   measured ping-pong round trips per run (default 10000)\n"
           "  --repeat R       runs per measurement; the median is reported (default 5)\n"
           "  --sizes LIST     message sizes, e.g. 16,64,1K,8K,64K (the default)\n"
           "  --peers LIST     of sysv,posix,unix,unix-mmsg,seqmq,seqmq-batch,seqmq-spin,daemon,\n"
           "                   daemon-batch,daemon-capi,shim,daemon-capi-credit,tipc,seqmq-tipc\n"
           "                   (default all but the two TIPC ones). daemon: seqmq::queue via\n"
           "                   seqmqd; daemon-capi: the C API (seqmq_msgsnd/seqmq_msgrcv) on\n"
           "                   handles opened as the shim's (no credit); shim: libseqmq-sysv.so's\n"
           "                   msgsnd/msgrcv, loaded in-process; daemon-capi-credit: the C API\n"
           "                   with seqmq_queue_open's defaults (credit)\n"
           "  --depths LIST    queue depths of the depth suite (default 100,1k,10k,100k; 1k = "
           "1000)\n"
           "  --full-walk-max N  MSG_COPY / SO_PEEK_OFF walks of deeper queues are timed at\n"
           "                   --walk-samples positions and extrapolated (default 10000)\n"
           "  --walk-samples K positions timed in such a walk (default 1000)\n"
           "  --daemon PATH    the seqmqd executable (default: the one built with this)\n"
           "  --daemon-spin US start seqmqd with --spin-us US (opt-in spin; default 0)\n"
           "  --daemon-args ARGS  more seqmqd flags, words separated by spaces, e.g.\n"
           "                   \"--state-dir /var/tmp/seqmq-bench --sync batch\" (durability)\n"
           "  --shim PATH      libseqmq-sysv.so for the shim peer (default: the one built with\n"
           "                   this)\n"
           "  --transport tipc raw TIPC and the mailbox over TIPC next to AF_UNIX (transfer "
           "only;\n"
           "                   ratios to raw AF_UNIX); needs a kernel with TIPC\n"
           "  --netns A,B      run the parent (receiver) in network namespace A and the child\n"
           "                   in B (/run/netns/NAME), e.g. two TIPC nodes of "
           "netns-scripts/cluster\n"
           "  --plot FILE.png  write the depth suite's log-log plot (gnuplot)\n"
           "  --json FILE      also write the results as JSON: machine, ipc, settings, records\n"
           "  --compare OLD NEW  compare two --json files; refused if their message counts "
           "differ\n";
}

std::size_t parse_count(std::string_view text, std::string_view option, bool decimal_k = false) {
    std::string s(text);
    std::size_t multiplier = 1;
    auto ends_with = [&](std::string_view suffix) {
        if (s.size() > suffix.size() && s.ends_with(suffix)) {
            s.resize(s.size() - suffix.size());
            return true;
        }
        return false;
    };
    if (ends_with("KiB") || ends_with("K") || ends_with("k"))
        multiplier = decimal_k ? 1000 : 1024;
    else if (ends_with("MiB") || ends_with("M"))
        multiplier = decimal_k ? 1000000 : 1024 * 1024;
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno != 0 || s[0] == '-')
        throw std::invalid_argument(std::string(option) + ": not a number: " + std::string(text));
    return static_cast<std::size_t>(v) * multiplier;
}

std::vector<std::string> split(std::string_view text) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t comma = text.find(',', start);
        if (comma == std::string_view::npos)
            comma = text.size();
        if (comma > start)
            parts.emplace_back(text.substr(start, comma - start));
        start = comma + 1;
    }
    return parts;
}

void check_names(const std::vector<std::string>& names, const std::vector<std::string>& known,
                 std::string_view option) {
    for (const auto& n : names)
        if (std::find(known.begin(), known.end(), n) == known.end()) {
            std::string all;
            for (const auto& k : known)
                all += (all.empty() ? "" : ",") + k;
            throw std::invalid_argument(std::string(option) + ": unknown " + n + " (known: " + all +
                                        ")");
        }
}

settings parse_arguments(int argc, char** argv) {
    settings s;
    std::optional<std::size_t> messages, roundtrips, repeat;
    std::optional<std::vector<std::size_t>> sizes, depths;
    std::optional<std::vector<std::string>> peers;
    std::optional<std::size_t> full_walk_max, walk_samples;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            usage(std::cout);
            std::exit(0);
        }
        if (arg == "--quick") {
            s.quick = true;
            continue;
        }
        if (arg == "--compare") {
            if (i + 2 >= argc)
                throw std::invalid_argument("--compare needs two files");
            s.compare = {argv[i + 1], argv[i + 2]};
            i += 2;
            continue;
        }
        if (i + 1 >= argc)
            throw std::invalid_argument(std::string(arg) + ": needs a value (see --help)");
        std::string_view value = argv[++i];
        auto list = [&](bool decimal_k) {
            std::vector<std::size_t> v;
            for (const auto& part : split(value))
                v.push_back(parse_count(part, arg, decimal_k));
            return v;
        };
        if (arg == "--messages")
            messages = parse_count(value, arg, true);
        else if (arg == "--roundtrips")
            roundtrips = parse_count(value, arg, true);
        else if (arg == "--repeat")
            repeat = parse_count(value, arg);
        else if (arg == "--json")
            s.json_path = value;
        else if (arg == "--plot")
            s.plot_path = value;
        else if (arg == "--daemon")
            s.daemon_path = value;
        else if (arg == "--shim")
            s.shim_path = value;
        else if (arg == "--daemon-spin")
            s.daemon_spin_us = unsigned(std::stoul(std::string(value)));
        else if (arg == "--daemon-args") {
            // Words separated by spaces, such as "--state-dir /var/tmp/s --sync batch".
            std::istringstream words{std::string(value)};
            for (std::string w; words >> w;)
                s.daemon_args.push_back(w);
        } else if (arg == "--sizes")
            sizes = list(false);
        else if (arg == "--depths")
            depths = list(true);
        else if (arg == "--full-walk-max")
            full_walk_max = parse_count(value, arg, true);
        else if (arg == "--walk-samples")
            walk_samples = parse_count(value, arg, true);
        else if (arg == "--peers") {
            peers = split(value);
            check_names(*peers, known_peers, arg);
        } else if (arg == "--suites") {
            s.suites = split(value);
            check_names(s.suites, known_suites, arg);
        } else if (arg == "--transport") {
            if (value != "tipc" && value != "unix")
                throw std::invalid_argument("--transport: tipc or unix");
            s.tipc = value == "tipc";
        } else if (arg == "--netns") {
            s.netns = split(value);
            if (s.netns.size() != 2)
                throw std::invalid_argument("--netns: two namespace names, A,B");
        } else
            throw std::invalid_argument("unknown option " + std::string(arg) + " (see --help)");
    }
    if (s.quick) {
        s.messages = 20000;
        s.roundtrips = 2000;
        s.repeat = 3;
        s.depth.depths = {100, 1000, 10000};
        s.depth.full_walk_max = 1000;
        s.depth.walk_samples = 200;
        s.senders.messages = 20000;
    }
    if (s.tipc) {
        s.suites = {"transfer"};
        s.sizes = {64, 1024};
        s.peers = {"unix", "seqmq", "tipc", "seqmq-tipc"};
    }
    s.messages = messages.value_or(s.messages);
    s.roundtrips = roundtrips.value_or(s.roundtrips);
    s.repeat = repeat.value_or(s.repeat);
    s.sizes = sizes.value_or(s.sizes);
    s.peers = peers.value_or(s.peers);
    s.depth.depths = depths.value_or(s.depth.depths);
    s.depth.full_walk_max = full_walk_max.value_or(s.depth.full_walk_max);
    s.depth.walk_samples = walk_samples.value_or(s.depth.walk_samples);
    s.depth.repeat = s.senders.repeat = s.repeat;
    if (messages)
        s.senders.messages = *messages;
    if (s.messages == 0 || s.roundtrips == 0 || s.repeat == 0 || s.depth.walk_samples == 0)
        throw std::invalid_argument(
            "--messages, --roundtrips, --repeat and --walk-samples must be at least 1");
    if (s.sizes.empty() || s.peers.empty() || s.depth.depths.empty())
        throw std::invalid_argument("--sizes, --peers and --depths need at least one entry");
    for (std::size_t size : s.sizes)
        if (size == 0 || size > 65536)
            throw std::invalid_argument("--sizes: each size must be 1..65536 bytes");
    for (std::size_t d : s.depth.depths)
        if (d == 0 || d > 1000000)
            throw std::invalid_argument("--depths: each depth must be 1..1000000");
    return s;
}

// Throughput messages for a size: above 1 KiB, about the bytes of `messages` 1 KiB messages.
std::size_t messages_for(const settings& s, std::size_t size) {
    if (size <= 1024)
        return s.messages;
    return std::min(s.messages, std::max<std::size_t>(2000, s.messages * 1024 / size));
}

// The queue both kernel queues and the mailbox get for throughput: Linux's default msgmnb, or
// room for 8 messages when they are larger than 2 KiB.
std::size_t queue_bytes_for(std::size_t size) {
    return std::max(default_queue_bytes, 8 * size);
}

// Ping-pong never has more than one message queued: room for two is plenty (and keeps two POSIX
// queues of 64 KiB messages within RLIMIT_MSGQUEUE).
std::size_t pingpong_queue_bytes_for(std::size_t size) {
    return std::max(default_queue_bytes, 2 * size);
}

// ---------------------------------------------------------------------------------------------
// The machine and its limits.

struct ipc_limits {
    bool private_namespace = false, private_net = false;
    std::string note, net_note;
    std::size_t msgmnb = 0, msgmax = 0;             // SysV
    std::size_t mq_msg_max = 0, mq_msgsize_max = 0; // POSIX
};

// Enters a private IPC namespace and raises the limits there to what the sizes need; and, for
// the depth suite's AF_UNIX backlog, a private network namespace (not with --transport tipc or
// --netns, which need the namespaces they are given).
ipc_limits set_up_ipc(const settings& s) {
    ipc_limits l;
    std::size_t largest = *std::max_element(s.sizes.begin(), s.sizes.end());
    std::size_t smallest = *std::min_element(s.sizes.begin(), s.sizes.end());
    if (::unshare(CLONE_NEWIPC) == 0) {
        l.private_namespace = true;
        std::size_t mnb = queue_bytes_for(largest);
        std::size_t max = std::max<std::size_t>(8192, largest);
        bool ok = raise_limit("/proc/sys/kernel/msgmnb", mnb) &&
                  raise_limit("/proc/sys/kernel/msgmax", max) &&
                  raise_limit("/proc/sys/fs/mqueue/msgsize_max", max) &&
                  raise_limit("/proc/sys/fs/mqueue/msg_max",
                              std::min<std::size_t>(65536, queue_bytes_for(smallest) / smallest));
        l.note = ok ? "private IPC namespace; SysV and POSIX mq limits raised inside it only"
                    : "private IPC namespace, but raising a limit in it failed";
    } else {
        l.note = std::string("no private IPC namespace (unshare: ") + std::strerror(errno) +
                 "); the host's SysV and POSIX mq limits apply";
    }
    if (s.wants("depth") && !s.tipc && s.netns.empty()) {
        if (::unshare(CLONE_NEWNET) == 0) {
            l.private_net = true;
            l.net_note = "private network namespace (for the AF_UNIX backlog's max_dgram_qlen)";
        } else {
            l.net_note =
                std::string("no private network namespace (unshare: ") + std::strerror(errno) + ")";
        }
    }
    l.msgmnb = read_number("/proc/sys/kernel/msgmnb");
    l.msgmax = read_number("/proc/sys/kernel/msgmax");
    l.mq_msg_max = read_number("/proc/sys/fs/mqueue/msg_max");
    l.mq_msgsize_max = read_number("/proc/sys/fs/mqueue/msgsize_max");
    return l;
}

// Where the run's files go (unix:/path sockets, the daemon's socket): a private directory.
const std::string& scratch_dir() {
    static const std::string dir = [] {
        std::string d = "/tmp/seqmq-bench-" + std::to_string(::getpid());
        ::mkdir(d.c_str(), 0700);
        return d;
    }();
    return dir;
}

void enter_netns(const std::string& name) {
    std::string path = name.find('/') == std::string::npos ? "/run/netns/" + name : name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die_errno("open " + path);
    if (::setns(fd, CLONE_NEWNET) != 0) {
        ::close(fd);
        die_errno("setns " + path);
    }
    ::close(fd);
}

// ---------------------------------------------------------------------------------------------
// Peers: each makes what both processes share before fork, then one endpoint per process.

enum class side { a, b }; // a: the parent (ping-pong initiator, throughput receiver)

enum class workload { pingpong, throughput };

struct run_setup {
    std::size_t size = 0;
    std::size_t queue_bytes = 0;
    workload kind = workload::pingpong;
    unsigned serial = 0;
};

class endpoint {
public:
    virtual ~endpoint() = default;
    /// The buffer send() sends from: the payload is written there once.
    virtual std::span<std::byte> payload() = 0;
    /// Sends `size` bytes of payload(); blocks while the queue is full.
    virtual void send(std::size_t size) = 0;
    /// Receives at least one message, blocking; returns how many (batching peers take several).
    /// Each must be `size` bytes long.
    virtual std::size_t receive(std::size_t size) = 0;
    /// Sends what a batching endpoint still holds.
    virtual void flush() {}
};

// The sending side of a seqmq endpoint (Out: seqmq::sender or seqmq::queue): one send() per
// message, or with batch > 1 the messages collected and sent `batch` at a time by send_many.
template <class Out>
class outbox {
public:
    outbox(std::size_t size, std::size_t batch, std::string what)
        : buffer_(size), batch_(batch), what_(std::move(what)) {
        pending_.reserve(batch);
    }
    std::span<std::byte> payload() { return buffer_; }
    void send(Out& out, std::size_t size) {
        const std::span<const std::byte> message(buffer_.data(), size);
        if (batch_ > 1) {
            pending_.push_back({1, message});
            if (pending_.size() == batch_)
                flush(out);
            return;
        }
        if (auto r = out.send(1, message); !r)
            die(what_ + "::send: " + r.error().message());
    }
    void flush(Out& out) {
        std::span<const seqmq::outgoing_message> left(pending_);
        while (!left.empty()) {
            auto r = out.send_many(left);
            if (!r)
                die(what_ + "::send_many: " + r.error().message());
            left = left.subspan(*r);
        }
        pending_.clear();
    }

private:
    std::vector<std::byte> buffer_;
    std::size_t batch_;
    std::string what_;
    std::vector<seqmq::outgoing_message> pending_;
};

class peer {
public:
    virtual ~peer() = default;
    virtual std::string name() const = 0;
    virtual bool does(workload) const { return true; }
    /// In the parent before fork. Empty when ready, else why this peer cannot run.
    virtual std::string prepare(const run_setup& setup) = 0;
    /// After fork, in each process.
    virtual std::unique_ptr<endpoint> open(side s) = 0;
    /// In the parent after the child has exited.
    virtual void clean_up() = 0;
    /// What holds the queued messages during a throughput run.
    virtual std::string queue_note(const run_setup& setup) const = 0;
    /// CPU time so far of a process that serves both sides (seqmqd), in ns; 0 if none. The CPU
    /// figures count it with the two processes.
    virtual std::uint64_t helper_cpu_ns() const { return 0; }
};

// One end that makes one msgsnd-shaped and one msgrcv-shaped call per message, on a queue Q: the
// kernel's msgsnd/msgrcv on an msqid, the C API's seqmq_msgsnd/seqmq_msgrcv on a seqmq_t*, or the
// shim's msgsnd/msgrcv on an msqid. The same loop for each: only the calls differ.
template <class Q>
class msg_call_endpoint : public endpoint {
public:
    using send_call = int (*)(Q, const void*, std::size_t, int);
    using receive_call = ssize_t (*)(Q, void*, std::size_t, long, int);
    msg_call_endpoint(send_call send, receive_call receive, Q out, Q in, std::size_t size,
                      const char* what)
        : send_(send), receive_(receive), out_(out), in_(in), out_buf_(sizeof(long) + size),
          in_buf_(sizeof(long) + size), what_(what) {
        long type = 1;
        std::memcpy(out_buf_.data(), &type, sizeof type);
    }
    std::span<std::byte> payload() override { return std::span(out_buf_).subspan(sizeof(long)); }
    void send(std::size_t size) override {
        while (send_(out_, out_buf_.data(), size, 0) != 0)
            if (errno != EINTR)
                die_errno(std::string(what_) + " msgsnd");
    }
    std::size_t receive(std::size_t size) override {
        ssize_t n;
        while ((n = receive_(in_, in_buf_.data(), size, 0, 0)) < 0)
            if (errno != EINTR)
                die_errno(std::string(what_) + " msgrcv");
        check_size(static_cast<std::size_t>(n), size, "msgrcv");
        return 1;
    }

private:
    send_call send_;
    receive_call receive_;
    Q out_, in_;
    std::vector<std::byte> out_buf_, in_buf_;
    const char* what_;
};

// SysV msgq: one queue per direction.
class sysv_peer final : public peer {
public:
    explicit sysv_peer(const ipc_limits& l) : limits_(l) {}
    std::string name() const override { return "sysv-msgq"; }

    std::string prepare(const run_setup& setup) override {
        setup_ = setup;
        if (setup.size > limits_.msgmax)
            return "needs msgmax >= " + std::to_string(setup.size) + " (is " +
                   std::to_string(limits_.msgmax) + ")";
        if (setup.queue_bytes > limits_.msgmnb)
            return "needs msgmnb >= " + std::to_string(setup.queue_bytes) + " (is " +
                   std::to_string(limits_.msgmnb) + ")";
        for (int& id : ids_) {
            id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
            if (id < 0)
                die_errno("msgget");
            msqid_ds ds{};
            if (::msgctl(id, IPC_STAT, &ds) != 0)
                die_errno("msgctl IPC_STAT");
            ds.msg_qbytes = setup.queue_bytes;
            if (::msgctl(id, IPC_SET, &ds) != 0)
                die_errno("msgctl IPC_SET msg_qbytes");
        }
        return {};
    }

    std::unique_ptr<endpoint> open(side s) override {
        int out = s == side::a ? ids_[0] : ids_[1];
        int in = s == side::a ? ids_[1] : ids_[0];
        if (setup_.kind == workload::throughput)
            out = in = ids_[0];
        return std::make_unique<msg_call_endpoint<int>>(::msgsnd, ::msgrcv, out, in, setup_.size,
                                                        "kernel");
    }

    void clean_up() override {
        for (int& id : ids_)
            if (id >= 0)
                ::msgctl(id, IPC_RMID, nullptr);
        ids_ = {-1, -1};
    }

    std::string queue_note(const run_setup& setup) const override {
        return "msg_qbytes " + std::to_string(setup.queue_bytes);
    }

private:
    ipc_limits limits_;
    run_setup setup_;
    std::array<int, 2> ids_{-1, -1};
};

// POSIX mq: one queue per direction; as deep as the SysV queue's bytes allow, within msg_max.
class posix_peer final : public peer {
public:
    explicit posix_peer(const ipc_limits& l) : limits_(l) {}
    std::string name() const override { return "posix-mq"; }

    std::size_t depth(const run_setup& setup) const {
        return std::clamp<std::size_t>(setup.queue_bytes / setup.size, 1, limits_.mq_msg_max);
    }

    std::string prepare(const run_setup& setup) override {
        setup_ = setup;
        if (setup.size > limits_.mq_msgsize_max)
            return "needs fs.mqueue.msgsize_max >= " + std::to_string(setup.size) + " (is " +
                   std::to_string(limits_.mq_msgsize_max) + ")";
        mq_attr attr{};
        attr.mq_maxmsg = static_cast<long>(depth(setup));
        attr.mq_msgsize = static_cast<long>(setup.size);
        int count = setup.kind == workload::throughput ? 1 : 2;
        for (int i = 0; i < count; ++i) {
            names_[i] = "/seqmq-bench-" + std::to_string(::getpid()) + "-" +
                        std::to_string(setup.serial) + "-" + std::to_string(i);
            queues_[i] = ::mq_open(names_[i].c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
            if (queues_[i] == mqd_t(-1))
                die_errno("mq_open " + names_[i] + " (maxmsg " + std::to_string(attr.mq_maxmsg) +
                          ", msgsize " + std::to_string(attr.mq_msgsize) + ")");
        }
        return {};
    }

    std::unique_ptr<endpoint> open(side s) override {
        mqd_t out = s == side::a ? queues_[0] : queues_[1];
        mqd_t in = s == side::a ? queues_[1] : queues_[0];
        if (setup_.kind == workload::throughput)
            out = in = queues_[0];
        return std::make_unique<posix_endpoint>(out, in, setup_.size);
    }

    void clean_up() override {
        for (int i = 0; i < 2; ++i)
            if (queues_[i] != mqd_t(-1)) {
                ::mq_close(queues_[i]);
                ::mq_unlink(names_[i].c_str());
                queues_[i] = mqd_t(-1);
            }
    }

    std::string queue_note(const run_setup& setup) const override {
        return "mq_maxmsg " + std::to_string(depth(setup));
    }

private:
    class posix_endpoint final : public endpoint {
    public:
        posix_endpoint(mqd_t out, mqd_t in, std::size_t size)
            : out_(out), in_(in), out_buf_(size), in_buf_(size) {}
        std::span<std::byte> payload() override { return out_buf_; }
        void send(std::size_t size) override {
            while (::mq_send(out_, reinterpret_cast<const char*>(out_buf_.data()), size, 0) != 0)
                if (errno != EINTR)
                    die_errno("mq_send");
        }
        std::size_t receive(std::size_t size) override {
            ssize_t n;
            while ((n = ::mq_receive(in_, reinterpret_cast<char*>(in_buf_.data()), in_buf_.size(),
                                     nullptr)) < 0)
                if (errno != EINTR)
                    die_errno("mq_receive");
            check_size(static_cast<std::size_t>(n), size, "mq_receive");
            return 1;
        }

    private:
        mqd_t out_, in_;
        std::vector<std::byte> out_buf_, in_buf_;
    };

    ipc_limits limits_;
    run_setup setup_;
    std::array<mqd_t, 2> queues_{mqd_t(-1), mqd_t(-1)};
    std::array<std::string, 2> names_;
};

// One end of a connected SEQPACKET socket (AF_UNIX or AF_TIPC); optionally the receiver takes
// up to 32 records per recvmmsg.
class seqpacket_endpoint final : public endpoint {
public:
    seqpacket_endpoint(int fd, std::size_t size, bool batched)
        : fd_(fd), out_buf_(size), in_buf_(size * (batched ? mmsg_batch : 1)), batched_(batched) {
        std::size_t slots = batched ? mmsg_batch : 1;
        iov_.resize(slots);
        headers_.resize(slots);
        for (std::size_t i = 0; i < slots; ++i) {
            iov_[i] = {in_buf_.data() + i * size, size};
            headers_[i] = {};
            headers_[i].msg_hdr.msg_iov = &iov_[i];
            headers_[i].msg_hdr.msg_iovlen = 1;
        }
    }
    std::span<std::byte> payload() override { return out_buf_; }
    void send(std::size_t size) override {
        while (::send(fd_, out_buf_.data(), size, 0) < 0)
            if (errno != EINTR)
                die_errno("send");
    }
    std::size_t receive(std::size_t size) override {
        if (!batched_) {
            ssize_t n;
            while ((n = ::recv(fd_, in_buf_.data(), size, MSG_TRUNC)) < 0)
                if (errno != EINTR)
                    die_errno("recv");
            check_size(static_cast<std::size_t>(n), size, "recv");
            return 1;
        }
        int n;
        while ((n = ::recvmmsg(fd_, headers_.data(), static_cast<unsigned>(headers_.size()),
                               MSG_WAITFORONE, nullptr)) < 0)
            if (errno != EINTR)
                die_errno("recvmmsg");
        // recvmmsg counts the end of the stream (the sender has sent all and closed) as one
        // more record of length 0, after the real ones; sizes here are never 0.
        int records = 0;
        for (; records < n && headers_[records].msg_len > 0; ++records) {
            if (headers_[records].msg_hdr.msg_flags & MSG_TRUNC)
                die("recvmmsg: a record longer than " + std::to_string(size));
            check_size(headers_[records].msg_len, size, "recvmmsg");
        }
        if (records == 0)
            die("recvmmsg: the sender closed the connection");
        return static_cast<std::size_t>(records);
    }

private:
    int fd_;
    std::vector<std::byte> out_buf_, in_buf_;
    std::vector<iovec> iov_;
    std::vector<mmsghdr> headers_;
    bool batched_;
};

// Raw AF_UNIX SOCK_SEQPACKET over a socketpair; optionally the receiver takes up to 32 records
// per recvmmsg.
class unix_peer final : public peer {
public:
    explicit unix_peer(bool batched) : batched_(batched) {}
    std::string name() const override {
        return batched_ ? "unix-seqpacket-mmsg32" : "unix-seqpacket";
    }
    bool does(workload w) const override { return !batched_ || w == workload::throughput; }

    std::string prepare(const run_setup& setup) override {
        setup_ = setup;
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds_.data()) != 0)
            die_errno("socketpair(AF_UNIX, SOCK_SEQPACKET)");
        return {};
    }

    std::unique_ptr<endpoint> open(side s) override {
        int mine = s == side::a ? 0 : 1;
        ::close(fds_[1 - mine]);
        fds_[1 - mine] = -1;
        return std::make_unique<seqpacket_endpoint>(fds_[mine], setup_.size, batched_);
    }

    void clean_up() override {
        for (int& fd : fds_)
            if (fd >= 0)
                ::close(fd);
        fds_ = {-1, -1};
    }

    std::string queue_note(const run_setup&) const override {
        return batched_ ? "socket buffer (default); recvmmsg batch 32" : "socket buffer (default)";
    }

private:
    bool batched_;
    run_setup setup_;
    std::array<int, 2> fds_{-1, -1};
};

// seqmq: ping-pong with a mailbox per process and a sender to the other one; throughput with
// the parent's mailbox and the child's sender. Everything is opened after fork. The mailboxes
// live at unix:@ addresses, unix:/path ones across network namespaces, or TIPC service
// addresses.
class seqmq_peer final : public peer {
public:
    enum class where { unix_abstract, unix_path, tipc };
    /// batch: the sender sends 32 messages per send_many (throughput only); spin: the mailbox
    /// spins before sleeping (mailbox_options::spin), ping-pong only.
    enum class mode { plain, batch, spin };
    static constexpr std::size_t batch = 32;
    static constexpr std::chrono::microseconds spin{50};
    explicit seqmq_peer(where w, mode m = mode::plain) : where_(w), mode_(m) {}
    std::string name() const override {
        std::string n = where_ == where::tipc ? "seqmq-mailbox-tipc" : "seqmq-mailbox";
        return mode_ == mode::batch ? n + "-batch32" : mode_ == mode::spin ? n + "-spin50us" : n;
    }
    bool does(workload w) const override {
        return mode_ == mode::plain || (mode_ == mode::batch) == (w == workload::throughput);
    }

    std::string prepare(const run_setup& setup) override {
        setup_ = setup;
        std::string stem =
            "seqmq-bench-" + std::to_string(::getpid()) + "-" + std::to_string(setup.serial);
        names_ = {stem + "-a", stem + "-b"};
        return {};
    }

    seqmq::address address_of(int index) const {
        auto a = where_ == where::tipc
                     ? seqmq::address::tipc(0x5e9a0000u + setup_.serial * 2 + index, 0)
                 : where_ == where::unix_path
                     ? seqmq::address::unix_path(scratch_dir() + "/" + names_[index] + ".sock")
                     : seqmq::address::unix_abstract(names_[index]);
        if (!a)
            die("address " + names_[index] + ": " + a.error().message());
        return *a;
    }

    std::unique_ptr<endpoint> open(side s) override {
        int mine = s == side::a ? 0 : 1;
        seqmq::mailbox_options mo;
        std::size_t limit = where_ == where::tipc ? 66000 - 24 : 65536;
        mo.max_message_size = std::min(limit, std::max<std::size_t>(setup_.size, 8192));
        mo.capacity = std::max(setup_.queue_bytes, mo.max_message_size);
        if (mode_ == mode::spin)
            mo.spin = spin;
        seqmq::sender_options so;
        so.max_message_size = mo.max_message_size;
        so.wait_for_mailbox = std::chrono::seconds(10);

        bool want_mailbox = setup_.kind == workload::pingpong || s == side::a;
        bool want_sender = setup_.kind == workload::pingpong || s == side::b;
        std::optional<seqmq::mailbox> box;
        std::optional<seqmq::sender> out;
        if (want_mailbox) {
            auto a = address_of(mine);
            auto m = seqmq::mailbox::open(a, mo);
            if (!m)
                die("seqmq::mailbox::open(" + a.to_string() + "): " + m.error().message());
            box.emplace(std::move(*m));
        }
        if (want_sender) {
            int other = setup_.kind == workload::throughput ? 0 : 1 - mine;
            auto a = address_of(other);
            auto c = seqmq::sender::connect(a, so);
            if (!c)
                die("seqmq::sender::connect(" + a.to_string() + "): " + c.error().message());
            out.emplace(std::move(*c));
        }
        return std::make_unique<seqmq_endpoint>(std::move(box), std::move(out), setup_.size,
                                                mode_ == mode::batch ? batch : 1);
    }

    void clean_up() override {}

    std::string queue_note(const run_setup& setup) const override {
        std::string at = where_ == where::tipc        ? "; TIPC"
                         : where_ == where::unix_path ? "; unix:/path"
                                                      : "";
        std::string how = mode_ == mode::batch  ? "; send_many of 32"
                          : mode_ == mode::spin ? "; spin 50 µs before sleeping"
                                                : "";
        return "capacity " + std::to_string(std::max<std::size_t>(setup.queue_bytes, 8192)) +
               " (= msg_qbytes) + socket buffer" + at + how;
    }

private:
    class seqmq_endpoint final : public endpoint {
    public:
        seqmq_endpoint(std::optional<seqmq::mailbox> box, std::optional<seqmq::sender> out,
                       std::size_t size, std::size_t batch)
            : box_(std::move(box)), out_(std::move(out)), in_buf_(size),
              outbox_(size, batch, "seqmq::sender") {}
        std::span<std::byte> payload() override { return outbox_.payload(); }
        void send(std::size_t size) override { outbox_.send(*out_, size); }
        void flush() override {
            if (out_)
                outbox_.flush(*out_);
        }
        std::size_t receive(std::size_t size) override {
            auto r = box_->receive(std::span<std::byte>(in_buf_.data(), size));
            if (!r)
                die("seqmq::mailbox::receive: " + r.error().message());
            check_size(r->untruncated_size, size, "seqmq::mailbox::receive");
            return 1;
        }

    private:
        std::optional<seqmq::mailbox> box_;
        std::optional<seqmq::sender> out_;
        std::vector<std::byte> in_buf_;
        outbox<seqmq::sender> outbox_;
    };

    where where_;
    mode mode_;
    run_setup setup_;
    std::array<std::string, 2> names_;
};

// Raw TIPC SOCK_SEQPACKET: the parent listens on a service address (cluster scope) before fork,
// the child connects to it (retrying while the name has not reached its node), one connection
// for both directions.
class tipc_peer final : public peer {
public:
    std::string name() const override { return "tipc-seqpacket"; }

    std::string prepare(const run_setup& setup) override {
        setup_ = setup;
        listener_ = ::socket(AF_TIPC, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (listener_ < 0)
            return std::string("socket(AF_TIPC): ") + std::strerror(errno);
        sockaddr_tipc a = service(setup.serial);
        a.scope = TIPC_CLUSTER_SCOPE;
        if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(listener_, 4) != 0)
            die_errno("bind/listen on a TIPC service");
        return {};
    }

    std::unique_ptr<endpoint> open(side s) override {
        if (s == side::a) {
            while ((fd_ = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC)) < 0)
                if (errno != EINTR)
                    die_errno("accept (TIPC)");
        } else {
            ::close(listener_);
            listener_ = -1;
            fd_ = ::socket(AF_TIPC, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
            if (fd_ < 0)
                die_errno("socket(AF_TIPC)");
            sockaddr_tipc a = service(setup_.serial);
            std::uint64_t give_up = now_ns() + 10'000'000'000ULL;
            while (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
                if (errno != ECONNREFUSED && errno != EHOSTUNREACH && errno != ENOENT &&
                    errno != EINTR)
                    die_errno("connect (TIPC)");
                if (now_ns() > give_up)
                    die_errno("connect (TIPC), for 10 s");
                ::usleep(2000);
            }
        }
        return std::make_unique<seqpacket_endpoint>(fd_, setup_.size, false);
    }

    void clean_up() override {
        for (int* fd : {&listener_, &fd_})
            if (*fd >= 0) {
                ::shutdown(*fd, SHUT_RDWR);
                ::close(*fd);
                *fd = -1;
            }
    }

    std::string queue_note(const run_setup&) const override { return "socket buffer (default)"; }

private:
    static sockaddr_tipc service(unsigned serial) {
        sockaddr_tipc a{};
        a.family = AF_TIPC;
        a.addrtype = TIPC_SERVICE_ADDR;
        a.addr.name.name.type = 0x5e9b0000u + serial;
        a.addr.name.name.instance = 0;
        a.addr.name.domain = 0;
        return a;
    }

    run_setup setup_;
    int listener_ = -1, fd_ = -1;
};

// seqmqd, started by the benchmark on a private socket path for the whole run.
class daemon_process {
public:
    /// Starts `path` listening at a socket in the scratch directory; empty: why it cannot.
    std::string start(const std::string& path, unsigned spin_us,
                      const std::vector<std::string>& extra = {}) {
        if (path.empty())
            return "seqmqd was not built with this benchmark (and no --daemon given)";
        if (::access(path.c_str(), X_OK) != 0)
            return path + " is not executable";
        address_ = "unix:" + scratch_dir() + "/seqmqd.sock";
        std::fflush(nullptr);
        pid_ = ::fork();
        if (pid_ < 0)
            die_errno("fork");
        if (pid_ == 0) {
            std::vector<std::string> args{path,
                                          "--listen",
                                          address_,
                                          "--max-message-size",
                                          "65536",
                                          "--max-queue-bytes",
                                          "67108864",
                                          "--log-level",
                                          "warn",
                                          "--spin-us",
                                          std::to_string(spin_us)};
            args.insert(args.end(), extra.begin(), extra.end());
            std::vector<char*> argv;
            for (auto& a : args)
                argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(path.c_str(), argv.data());
            std::fprintf(stderr, "seqmq_bench: exec %s: %s\n", path.c_str(), std::strerror(errno));
            _exit(127);
        }
        seqmq::queue_options o = options();
        o.wait_for_daemon = std::chrono::seconds(10);
        auto info = seqmq::queue::info(o);
        if (!info) {
            stop();
            return "seqmqd did not answer at " + address_ + ": " + info.error().message();
        }
        return {};
    }
    void stop() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }
    ~daemon_process() { stop(); }
    bool running() const { return pid_ > 0; }
    const std::string& address_text() const { return address_; }
    /// seqmqd's CPU time so far (user and system), in ns.
    std::uint64_t cpu_ns() const {
        clockid_t clock;
        timespec t{};
        if (pid_ <= 0 || ::clock_getcpuclockid(pid_, &clock) != 0 || ::clock_gettime(clock, &t))
            return 0;
        return std::uint64_t(t.tv_sec) * 1000000000ULL + std::uint64_t(t.tv_nsec);
    }
    seqmq::queue_options options() const {
        seqmq::queue_options o;
        o.daemon = *seqmq::address::parse(address_);
        return o;
    }

private:
    pid_t pid_ = -1;
    std::string address_;
};

// A seqmq::queue hosted by seqmqd: ping-pong over two queues, throughput over one; each process
// opens its own handles after fork.
class daemon_peer final : public peer {
public:
    /// batched (throughput only): send_many of 32, receive_many of up to 256 — all that a
    /// 16 KiB queue of 64 B messages holds, so one call may take everything waiting.
    static constexpr std::size_t batch = 32;
    static constexpr std::size_t receive_batch = 256;
    daemon_peer(const daemon_process& d, std::string why_not, bool batched = false)
        : daemon_(d), why_not_(why_not), batched_(batched) {}
    std::string name() const override {
        return batched_ ? "seqmq-queue-via-seqmqd-batch" : "seqmq-queue-via-seqmqd";
    }
    bool does(workload w) const override { return !batched_ || w == workload::throughput; }

    std::string prepare(const run_setup& setup) override {
        if (!why_not_.empty())
            return why_not_;
        setup_ = setup;
        std::string stem =
            "bench-" + std::to_string(::getpid()) + "-" + std::to_string(setup.serial);
        names_ = {stem + "-a", stem + "-b"};
        return {};
    }

    std::unique_ptr<endpoint> open(side s) override {
        auto o = daemon_.options();
        o.capacity = setup_.queue_bytes;
        auto open_queue = [&](const std::string& name) {
            auto q = seqmq::queue::open(name, seqmq::open_flags::create, 0600, o);
            if (!q)
                die("seqmq::queue::open(" + name + "): " + q.error().message());
            return std::move(*q);
        };
        int mine = s == side::a ? 0 : 1;
        std::optional<seqmq::queue> in, out;
        if (setup_.kind == workload::pingpong) {
            in.emplace(open_queue(names_[mine]));
            out.emplace(open_queue(names_[1 - mine]));
        } else if (s == side::a) {
            in.emplace(open_queue(names_[0]));
        } else {
            out.emplace(open_queue(names_[0]));
        }
        return std::make_unique<queue_endpoint>(std::move(in), std::move(out), setup_.size,
                                                batched_ ? batch : 1, batched_ ? receive_batch : 1);
    }

    void clean_up() override {
        for (const auto& name : names_)
            if (auto q = seqmq::queue::open(name, seqmq::open_flags::none, 0600, daemon_.options()))
                (void)q->remove();
    }

    std::uint64_t helper_cpu_ns() const override { return daemon_.cpu_ns(); }

    std::string queue_note(const run_setup& setup) const override {
        return "msg_qbytes " + std::to_string(setup.queue_bytes) + " in seqmqd" +
               (batched_ ? "; send_many of 32, receive_many of up to 256" : "");
    }

private:
    class queue_endpoint final : public endpoint {
    public:
        queue_endpoint(std::optional<seqmq::queue> in, std::optional<seqmq::queue> out,
                       std::size_t size, std::size_t batch, std::size_t receive_batch)
            : in_(std::move(in)), out_(std::move(out)), in_buf_(size * receive_batch),
              got_(receive_batch), batch_(receive_batch), outbox_(size, batch, "seqmq::queue") {}
        std::span<std::byte> payload() override { return outbox_.payload(); }
        void send(std::size_t size) override { outbox_.send(*out_, size); }
        void flush() override {
            if (out_)
                outbox_.flush(*out_);
        }
        std::size_t receive(std::size_t size) override {
            if (batch_ > 1) {
                auto r = in_->receive_many(in_buf_, got_);
                if (!r)
                    die("seqmq::queue::receive_many: " + r.error().message());
                for (std::size_t i = 0; i < *r; ++i)
                    check_size(got_[i].untruncated_size, size, "seqmq::queue::receive_many");
                return *r;
            }
            auto r = in_->receive(std::span<std::byte>(in_buf_.data(), size));
            if (!r)
                die("seqmq::queue::receive: " + r.error().message());
            check_size(r->untruncated_size, size, "seqmq::queue::receive");
            return 1;
        }

    private:
        std::optional<seqmq::queue> in_, out_;
        std::vector<std::byte> in_buf_;
        std::vector<seqmq::incoming_message> got_;
        std::size_t batch_;
        outbox<seqmq::queue> outbox_;
    };

    const daemon_process& daemon_;
    std::string why_not_;
    bool batched_;
    run_setup setup_;
    std::array<std::string, 2> names_;
};

// The C API on seqmqd queues, one seqmq_msgsnd / seqmq_msgrcv per message, on the daemon peer's
// queues (ping-pong over two, throughput over one; each process opens its own handles after
// fork). as_shim: handles opened as the shim opens its own (exact_sysv, no credit; see
// open_capi_as_shim), the C API path the shim adds its own work to; otherwise seqmq_queue_open's
// defaults (credit).
class capi_peer final : public peer {
public:
    capi_peer(const daemon_process& d, std::string why_not, bool as_shim)
        : daemon_(d), why_not_(why_not), as_shim_(as_shim) {}
    std::string name() const override {
        return as_shim_ ? "seqmq-capi-via-seqmqd" : "seqmq-capi-via-seqmqd-credit";
    }

    std::string prepare(const run_setup& setup) override {
        if (!why_not_.empty())
            return why_not_;
        setup_ = setup;
        std::string stem =
            "bench-capi-" + std::to_string(::getpid()) + "-" + std::to_string(setup.serial);
        names_ = {stem + "-a", stem + "-b"};
        return {};
    }

    std::unique_ptr<endpoint> open(side s) override {
        auto open_queue = [&](const std::string& name) {
            if (!as_shim_)
                return open_capi_default(name, setup_.queue_bytes);
            auto o = daemon_.options();
            o.capacity = setup_.queue_bytes;
            return open_capi_as_shim(name, o);
        };
        int mine = s == side::a ? 0 : 1;
        auto none = [] { return capi_handle(nullptr, &seqmq_close); };
        capi_handle in = none(), out = none();
        if (setup_.kind == workload::pingpong) {
            in = open_queue(names_[mine]);
            out = open_queue(names_[1 - mine]);
        } else if (s == side::a) {
            in = open_queue(names_[0]);
        } else {
            out = open_queue(names_[0]);
        }
        return std::make_unique<capi_endpoint>(std::move(in), std::move(out), setup_.size);
    }

    void clean_up() override {
        for (const auto& name : names_)
            if (auto q = seqmq::queue::open(name, seqmq::open_flags::none, 0600, daemon_.options()))
                (void)q->remove();
    }

    std::uint64_t helper_cpu_ns() const override { return daemon_.cpu_ns(); }

    std::string queue_note(const run_setup& setup) const override {
        return "msg_qbytes " + std::to_string(setup.queue_bytes) + " in seqmqd; " +
               (as_shim_ ? "exact_sysv (no credit), as the shim's handles"
                         : "seqmq_queue_open's defaults (credit)");
    }

private:
    // Owns its handles; the calls get the raw pointers.
    class capi_endpoint final : public msg_call_endpoint<seqmq_t*> {
    public:
        capi_endpoint(capi_handle in, capi_handle out, std::size_t size)
            : msg_call_endpoint(seqmq_msgsnd, seqmq_msgrcv, out.get(), in.get(), size, "C API"),
              in_(std::move(in)), out_(std::move(out)) {}

    private:
        capi_handle in_, out_;
    };

    const daemon_process& daemon_;
    std::string why_not_;
    bool as_shim_;
    run_setup setup_;
    std::array<std::string, 2> names_;
};

// libseqmq-sysv.so's msgget/msgsnd/msgrcv/msgctl in the benchmark's own processes (the built
// library, dlopen'ed: see sysv_shim), used as the sysv peer uses the kernel's: the parent makes
// two private queues before fork (msgget(IPC_PRIVATE), msgctl(IPC_SET) for msg_qbytes), the
// child inherits the msqids (the shim's fork handler drops the parent's handles in the child,
// which opens its own "#msqid" on its first call), and the parent removes them (IPC_RMID).
class shim_peer final : public peer {
public:
    shim_peer(const daemon_process& d, std::string why_not, std::string library)
        : daemon_(d), why_not_(why_not), library_(library) {}
    std::string name() const override { return "sysv-shim-via-seqmqd"; }

    std::string prepare(const run_setup& setup) override {
        if (!why_not_.empty())
            return why_not_;
        auto shim = sysv_shim::load(library_);
        if (!shim)
            return shim.error();
        shim_ = *shim;
        setup_ = setup;
        for (int& id : ids_) {
            id = shim_->msgget(IPC_PRIVATE, IPC_CREAT | 0600);
            if (id < 0)
                die_errno("msgget (shim)");
            msqid_ds ds{};
            if (shim_->msgctl(id, IPC_STAT, &ds) != 0)
                die_errno("msgctl IPC_STAT (shim)");
            ds.msg_qbytes = setup.queue_bytes;
            if (shim_->msgctl(id, IPC_SET, &ds) != 0)
                die_errno("msgctl IPC_SET msg_qbytes (shim)");
        }
        return {};
    }

    std::unique_ptr<endpoint> open(side s) override {
        int out = s == side::a ? ids_[0] : ids_[1];
        int in = s == side::a ? ids_[1] : ids_[0];
        if (setup_.kind == workload::throughput)
            out = in = ids_[0];
        return std::make_unique<msg_call_endpoint<int>>(shim_->msgsnd, shim_->msgrcv, out, in,
                                                        setup_.size, "shim");
    }

    void clean_up() override {
        for (int& id : ids_)
            if (id >= 0)
                shim_->msgctl(id, IPC_RMID, nullptr);
        ids_ = {-1, -1};
    }

    std::uint64_t helper_cpu_ns() const override { return daemon_.cpu_ns(); }

    std::string queue_note(const run_setup& setup) const override {
        return "msg_qbytes " + std::to_string(setup.queue_bytes) +
               " in seqmqd; libseqmq-sysv.so's msgsnd/msgrcv";
    }

private:
    const daemon_process& daemon_;
    std::string why_not_, library_;
    const sysv_shim* shim_ = nullptr;
    run_setup setup_;
    std::array<int, 2> ids_{-1, -1};
};

// ---------------------------------------------------------------------------------------------
// Two processes.

volatile pid_t running_child = 0;
std::string child_netns; // --netns: the namespace the child enters after fork

extern "C" void on_watchdog(int) {
    static const char text[] = "seqmq_bench: a run did not finish in time; giving up\n";
    (void)!::write(STDERR_FILENO, text, sizeof text - 1);
    if (running_child > 0)
        ::kill(running_child, SIGKILL);
    _exit(2);
}

// Runs `child_body` in a child process and `parent_body` here; the child reports "ok" or an
// error on `to_parent` once set up, then whatever child_body returns.
struct run_outcome {
    std::string child_report; // child_body's text, or its error
    bool child_ok = true;
};

template <class ChildBody, class ParentBody>
run_outcome two_processes(peer& p, ChildBody child_body, ParentBody parent_body) {
    pipe_pair to_parent, to_child;
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid < 0)
        die_errno("fork");
    if (pid == 0) {
        int code = 0;
        to_parent.close_read();
        to_child.close_write();
        try {
            if (!child_netns.empty())
                enter_netns(child_netns);
            auto ep = p.open(side::b);
            to_parent.write_text("ready");
            to_parent.write_text(child_body(*ep, to_child));
        } catch (const std::exception& e) {
            try {
                to_parent.write_text(std::string("error: ") + e.what());
            } catch (...) {
            }
            code = 1;
        }
        _exit(code); // no destructors of the parent's objects, no atexit
    }
    running_child = pid;
    to_parent.close_write();
    to_child.close_read();
    run_outcome out;
    try {
        auto ep = p.open(side::a);
        auto ready = to_parent.read_text();
        if (!ready || *ready != "ready")
            die("the child process failed: " + ready.value_or("it died"));
        parent_body(*ep, to_child);
        auto report = to_parent.read_text();
        if (!report)
            die("the child process died");
        if (report->starts_with("error: "))
            die("the child process: " + report->substr(7));
        out.child_report = *report;
    } catch (...) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        running_child = 0;
        p.clean_up();
        throw;
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    running_child = 0;
    p.clean_up();
    out.child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return out;
}

struct latency {
    double p50_us = 0, p99_us = 0;
    double cpu_us = 0; // CPU time of both processes (and seqmqd) per round trip
};

struct rate {
    double per_second = 0;
    double cpu_us = 0; // CPU time of both processes (and seqmqd) per message
};

std::uint64_t cpu_ns() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    auto ns = [](const timeval& t) {
        return static_cast<std::uint64_t>(t.tv_sec) * 1000000000ULL +
               static_cast<std::uint64_t>(t.tv_usec) * 1000ULL;
    };
    return ns(u.ru_utime) + ns(u.ru_stime);
}

latency ping_pong(peer& p, std::size_t size, std::size_t roundtrips, unsigned serial) {
    run_setup setup{size, pingpong_queue_bytes_for(size), workload::pingpong, serial};
    if (std::string why = p.prepare(setup); !why.empty())
        throw std::domain_error(why);
    std::size_t warmup = std::min<std::size_t>(1000, roundtrips / 10 + 1);
    std::size_t total = warmup + roundtrips;
    std::vector<std::uint64_t> rtt(roundtrips);
    std::uint64_t parent_cpu = 0;
    const std::uint64_t helper0 = p.helper_cpu_ns();
    auto out = two_processes(
        p,
        [&](endpoint& ep, pipe_pair&) {
            std::uint64_t c0 = cpu_ns();
            for (std::size_t i = 0; i < total; ++i) {
                ep.receive(size);
                ep.send(size);
            }
            return std::to_string(cpu_ns() - c0);
        },
        [&](endpoint& ep, pipe_pair&) {
            std::memset(ep.payload().data(), 0x5a, size);
            std::uint64_t c0 = cpu_ns();
            for (std::size_t i = 0; i < total; ++i) {
                std::uint64_t t0 = now_ns();
                ep.send(size);
                ep.receive(size);
                if (i >= warmup)
                    rtt[i - warmup] = now_ns() - t0;
            }
            parent_cpu = cpu_ns() - c0;
        });
    std::sort(rtt.begin(), rtt.end());
    auto at = [&](double q) {
        std::size_t i = std::min(rtt.size() - 1, static_cast<std::size_t>(q * rtt.size()));
        return static_cast<double>(rtt[i]) / 1000.0;
    };
    double child_cpu = std::strtod(out.child_report.c_str(), nullptr);
    const double helper_cpu = double(p.helper_cpu_ns() - helper0);
    return {at(0.50), at(0.99),
            (double(parent_cpu) + child_cpu + helper_cpu) / double(total) / 1000.0};
}

// Messages per second from the sender's first send to the receiver's last receive, and the CPU
// time of sender, receiver (and seqmqd) per message.
rate throughput(peer& p, std::size_t size, std::size_t messages, unsigned serial) {
    run_setup setup{size, queue_bytes_for(size), workload::throughput, serial};
    if (std::string why = p.prepare(setup); !why.empty())
        throw std::domain_error(why);
    std::uint64_t end = 0, parent_cpu = 0;
    const std::uint64_t helper0 = p.helper_cpu_ns();
    auto out = two_processes(
        p,
        [&](endpoint& ep, pipe_pair& from_parent) {
            std::memset(ep.payload().data(), 0xa5, size);
            if (!from_parent.read_text())
                die("the parent went away before the start");
            std::uint64_t c0 = cpu_ns();
            std::uint64_t start = now_ns();
            for (std::size_t i = 0; i < messages; ++i)
                ep.send(size);
            ep.flush();
            return std::to_string(start) + " " + std::to_string(cpu_ns() - c0);
        },
        [&](endpoint& ep, pipe_pair& to_child) {
            std::uint64_t c0 = cpu_ns();
            to_child.write_text("go");
            std::size_t got = 0;
            while (got < messages)
                got += ep.receive(size);
            end = now_ns();
            parent_cpu = cpu_ns() - c0;
            if (got != messages)
                die("received " + std::to_string(got) + " messages, sent " +
                    std::to_string(messages));
        });
    char* rest = nullptr;
    std::uint64_t start = std::strtoull(out.child_report.c_str(), &rest, 10);
    const double child_cpu = std::strtod(rest, nullptr);
    const double helper_cpu = double(p.helper_cpu_ns() - helper0);
    return {static_cast<double>(messages) / (static_cast<double>(end - start) / 1e9),
            (double(parent_cpu) + child_cpu + helper_cpu) / double(messages) / 1000.0};
}

// ---------------------------------------------------------------------------------------------
// Results.

struct peer_result {
    std::string peer;
    std::size_t size = 0;
    std::optional<std::string> rtt_skipped, throughput_skipped; // why, when not measured
    std::vector<double> p50_runs, p99_runs, cpu_runs, rate_runs, rate_cpu_runs;
    std::size_t roundtrips = 0, messages = 0;
    std::string queue;
    bool has_rtt() const { return !p50_runs.empty(); }
    bool has_rate() const { return !rate_runs.empty(); }
};

// Issue 10 compares these two: the shim, and the C API on handles opened as the shim's.
constexpr const char* shim_peer_name = "sysv-shim-via-seqmqd";
constexpr const char* capi_peer_name = "seqmq-capi-via-seqmqd";

const peer_result* result_of(const std::vector<peer_result>& results, const std::string& peer,
                             std::size_t size) {
    for (const auto& r : results)
        if (r.peer == peer && r.size == size)
            return &r;
    return nullptr;
}

// The peers ratios are taken to: SysV and raw AF_UNIX; over TIPC, raw AF_UNIX and raw TIPC.
struct references {
    std::string first, second, first_label, second_label;
};

references references_for(const settings& s) {
    if (s.tipc)
        return {"unix-seqpacket", "tipc-seqpacket", "/unix", "/tipc"};
    return {"sysv-msgq", "unix-seqpacket", "/SysV", "/unix"};
}

void print_table(std::ostream& out, std::size_t size, const std::vector<peer_result>& results,
                 const settings& s) {
    references ref = references_for(s);
    const peer_result *first = nullptr, *second = nullptr;
    for (const auto& r : results)
        if (r.size == size) {
            if (r.peer == ref.first)
                first = &r;
            if (r.peer == ref.second)
                second = &r;
        }
    out << "\n"
        << size_text(size) << " messages — ping-pong: " << s.roundtrips
        << " round trips per run; throughput: " << messages_for(s, size)
        << " messages per run; median of " << s.repeat << " runs\n";
    out << pad("peer", 30) << pad("RTT p50", 11, true) << pad("p99", 11, true)
        << pad("p50" + ref.first_label, 10, true) << pad("p50" + ref.second_label, 10, true)
        << pad("CPU/RT", 10, true) << pad("msg/s", 11, true)
        << pad("rate" + ref.first_label, 11, true) << pad("rate" + ref.second_label, 11, true)
        << pad("CPU/msg", 10, true) << "   queue (throughput)\n";
    std::vector<std::string> notes;
    auto ratio = [](double a, double b) { return fixed(a / b, 2) + "×"; };
    for (const auto& r : results) {
        if (r.size != size)
            continue;
        std::string p50 = "—", p99 = "—", t1 = "—", t2 = "—", cpu = "—", rate = "—", r1 = "—",
                    r2 = "—", rate_cpu = "—";
        if (r.has_rtt()) {
            double m50 = median(r.p50_runs);
            p50 = fixed(m50, 2) + " µs";
            p99 = fixed(median(r.p99_runs), 2) + " µs";
            cpu = fixed(median(r.cpu_runs), 2) + " µs";
            if (first && first->has_rtt())
                t1 = ratio(m50, median(first->p50_runs));
            if (second && second->has_rtt())
                t2 = ratio(m50, median(second->p50_runs));
        } else if (r.rtt_skipped) {
            notes.push_back(r.peer + " ping-pong skipped: " + *r.rtt_skipped);
        }
        if (r.has_rate()) {
            double m = median(r.rate_runs);
            rate = fixed(m / 1e6, 3) + " M";
            rate_cpu = fixed(median(r.rate_cpu_runs), 2) + " µs";
            if (first && first->has_rate())
                r1 = ratio(m, median(first->rate_runs));
            if (second && second->has_rate())
                r2 = ratio(m, median(second->rate_runs));
        } else if (r.throughput_skipped) {
            notes.push_back(r.peer + " throughput skipped: " + *r.throughput_skipped);
        }
        out << pad(r.peer, 30) << pad(p50, 11, true) << pad(p99, 11, true) << pad(t1, 10, true)
            << pad(t2, 10, true) << pad(cpu, 10, true) << pad(rate, 11, true) << pad(r1, 11, true)
            << pad(r2, 11, true) << pad(rate_cpu, 10, true) << "   "
            << (r.has_rtt() || r.has_rate() ? r.queue : "(not run)") << "\n";
    }
    for (const auto& n : notes)
        out << "  note: " << n << "\n";
    const peer_result* shim = result_of(results, shim_peer_name, size);
    const peer_result* capi = result_of(results, capi_peer_name, size);
    if (shim && capi && (shim->has_rtt() || shim->has_rate())) {
        out << "  shim/C API (the same handles' options): RTT p50 "
            << (shim->has_rtt() && capi->has_rtt()
                    ? ratio(median(shim->p50_runs), median(capi->p50_runs))
                    : "—")
            << ", msg/s "
            << (shim->has_rate() && capi->has_rate()
                    ? ratio(median(shim->rate_runs), median(capi->rate_runs))
                    : "—")
            << "\n";
    }
}

std::vector<result_record> transfer_records(const std::vector<peer_result>& results,
                                            const settings& s) {
    std::vector<result_record> out;
    for (const auto& r : results) {
        auto add = [&](const char* metric, const std::vector<double>& runs, std::size_t count,
                       const char* unit) {
            if (runs.empty())
                return;
            result_record rec;
            rec.suite = s.tipc ? "transfer-tipc" : "transfer";
            rec.peer = r.peer;
            rec.metric = metric;
            rec.size = r.size;
            rec.count = count;
            rec.value = median(runs);
            rec.unit = unit;
            if (!s.netns.empty())
                rec.note = "netns " + s.netns[0] + "," + s.netns[1];
            out.push_back(rec);
        };
        add("rtt_p50", r.p50_runs, r.roundtrips, "us");
        add("rtt_p99", r.p99_runs, r.roundtrips, "us");
        add("cpu_per_roundtrip", r.cpu_runs, r.roundtrips, "us");
        add("throughput", r.rate_runs, r.messages, "msg/s");
        add("cpu_per_message", r.rate_cpu_runs, r.messages, "us");
    }
    // The ratios the table and the goals show: each peer to SysV (over TIPC: to raw AF_UNIX),
    // and the shim to the C API on handles opened alike (issue 10).
    const references ref = references_for(s);
    const std::string to_reference = s.tipc ? "_vs_unix" : "_vs_sysv";
    for (const auto& r : results) {
        auto add_ratio = [&](const peer_result* base, const std::string& suffix) {
            if (!base || base == &r)
                return;
            auto add = [&](const char* metric, const std::vector<double>& runs,
                           const std::vector<double>& base_runs, std::size_t count) {
                if (runs.empty() || base_runs.empty())
                    return;
                result_record rec;
                rec.suite = s.tipc ? "transfer-tipc" : "transfer";
                rec.peer = r.peer;
                rec.metric = metric + suffix;
                rec.size = r.size;
                rec.count = count;
                rec.value = median(runs) / median(base_runs);
                rec.unit = "ratio";
                rec.note = r.peer + " / " + base->peer;
                out.push_back(rec);
            };
            add("rtt_p50", r.p50_runs, base->p50_runs, r.roundtrips);
            add("throughput", r.rate_runs, base->rate_runs, r.messages);
        };
        add_ratio(result_of(results, ref.first, r.size), to_reference);
        if (r.peer == shim_peer_name)
            add_ratio(result_of(results, capi_peer_name, r.size), "_vs_capi");
    }
    return out;
}

// --- the results as JSON (nlohmann) --------------------------------------------------------------
// {"machine": {...}, "ipc": {...}, "settings": {...}, "records": [{...}, ...]}. Strings are
// written with invalid UTF-8 replaced (U+FFFD): the machine's description is the only text not
// our own, and it is informational.

using json = nlohmann::ordered_json;

json settings_json(const settings& s) {
    // "depths" stays the comma-separated text older files have, so that they still compare.
    std::string depths;
    for (std::size_t d : s.depth.depths)
        depths += (depths.empty() ? "" : ",") + std::to_string(d);
    return {{"messages", s.messages},
            {"roundtrips", s.roundtrips},
            {"repeat", s.repeat},
            {"senders_messages", s.senders.messages},
            {"depths", depths},
            {"full_walk_max", s.depth.full_walk_max},
            {"walk_samples", s.depth.walk_samples}};
}

template <class J>
std::string json_text(const J& j, int indent = -1) {
    return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

void write_json(const std::string& path, const machine& m, const ipc_limits& l, const settings& s,
                const std::vector<result_record>& records) {
    json doc;
    doc["machine"] = {{"host", m.host}, {"kernel", m.kernel}, {"cpus", m.cpus}, {"cpu", m.cpu}};
    doc["ipc"] = {{"private_namespace", l.private_namespace},
                  {"msgmnb", l.msgmnb},
                  {"msgmax", l.msgmax},
                  {"mq_msg_max", l.mq_msg_max},
                  {"mq_msgsize_max", l.mq_msgsize_max}};
    doc["settings"] = settings_json(s);
    json& list = doc["records"] = json::array();
    for (const auto& r : records)
        list.push_back({{"suite", r.suite},
                        {"peer", r.peer},
                        {"metric", r.metric},
                        {"size", r.size},
                        {"depth", r.depth},
                        {"senders", r.senders},
                        {"count", r.count},
                        {"value", r.value}, // NaN or infinity: null
                        {"unit", r.unit},
                        {"note", r.note}});
    std::ofstream out(path);
    if (!out)
        die_errno("cannot write " + path);
    out << json_text(doc, 2) << "\n";
    if (!out.flush())
        die_errno("cannot write " + path);
}

// --- comparing two saved runs ------------------------------------------------------------------

struct saved_run {
    nlohmann::json settings; // its fields sorted: equal settings compare equal in any order
    std::string machine;
    std::vector<result_record> records;
};

saved_run read_json(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        throw std::invalid_argument("--compare: cannot read " + path);
    saved_run run;
    try {
        const auto doc = nlohmann::json::parse(in);
        run.settings = doc.at("settings");
        if (!run.settings.is_object())
            throw std::invalid_argument("\"settings\" is not an object");
        const auto& m = doc.at("machine");
        run.machine =
            m.at("kernel").get<std::string>() + " (" + m.at("host").get<std::string>() + ")";
        for (const auto& e : doc.at("records")) {
            result_record r;
            r.suite = e.at("suite").get<std::string>();
            r.peer = e.at("peer").get<std::string>();
            r.metric = e.at("metric").get<std::string>();
            r.size = e.at("size").get<std::size_t>();
            r.depth = e.at("depth").get<std::size_t>();
            r.senders = e.at("senders").get<std::size_t>();
            r.count = e.at("count").get<std::size_t>();
            const auto& value = e.at("value");
            r.value =
                value.is_null() ? std::numeric_limits<double>::quiet_NaN() : value.get<double>();
            r.unit = e.at("unit").get<std::string>();
            r.note = e.value("note", std::string());
            run.records.push_back(r);
        }
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument("--compare: " + path + " is not a seqmq_bench --json file (" +
                                    e.what() + ")");
    }
    return run;
}

int compare_runs(const std::string& old_path, const std::string& new_path) {
    saved_run a = read_json(old_path), b = read_json(new_path);
    std::cout << "old: " << old_path << " — " << a.machine << "\nnew: " << new_path << " — "
              << b.machine << "\n";
    auto key = [](const result_record& r) {
        return r.suite + "/" + r.peer + "/" + r.metric + "/" + std::to_string(r.size) + "/" +
               std::to_string(r.depth) + "/" + std::to_string(r.senders);
    };
    std::map<std::string, const result_record*> old_records;
    for (const auto& r : a.records)
        old_records[key(r)] = &r;
    std::vector<std::string> mismatched;
    if (a.settings != b.settings)
        mismatched.push_back("settings differ: old " + json_text(a.settings) + ", new " +
                             json_text(b.settings));
    for (const auto& r : b.records)
        if (auto it = old_records.find(key(r));
            it != old_records.end() && it->second->count != r.count)
            mismatched.push_back(key(r) + ": " + std::to_string(it->second->count) + " vs " +
                                 std::to_string(r.count) + " messages");
    if (!mismatched.empty()) {
        std::cerr << "seqmq_bench: refusing to compare runs with different message counts:\n";
        for (const auto& m : mismatched)
            std::cerr << "  " << m << "\n";
        return 65;
    }
    std::cout << pad("record", 64) << pad("old", 14, true) << pad("new", 14, true)
              << pad("new/old", 10, true) << "\n";
    for (const auto& r : b.records)
        if (auto it = old_records.find(key(r)); it != old_records.end())
            std::cout << pad(key(r), 64) << pad(fixed(it->second->value, 3), 14, true)
                      << pad(fixed(r.value, 3), 14, true)
                      << pad(fixed(r.value / it->second->value, 3) + "×", 10, true) << " " << r.unit
                      << "\n";
    return 0;
}

// --- issue 5's goals ---------------------------------------------------------------------------

std::optional<double> find(const std::vector<result_record>& records, const std::string& suite,
                           const std::string& peer, const std::string& metric,
                           std::size_t size = 64, std::size_t depth = 0, std::size_t senders = 0) {
    for (const auto& r : records)
        if (r.suite == suite && r.peer == peer && r.metric == metric && r.size == size &&
            r.depth == depth && r.senders == senders)
            return r.value;
    return std::nullopt;
}

void print_goals(std::ostream& out, const std::vector<result_record>& records, const settings& s) {
    out << "\nGoals of issues 5, 9 and 10 (ratios from this run, medians of " << s.repeat << "):\n";
    auto line = [&](const std::string& goal, std::optional<double> value, double target,
                    bool at_least, const std::string& how) {
        std::string verdict = !value                                             ? "not measured"
                              : (at_least ? *value >= target : *value <= target) ? "MET"
                                                                                 : "NOT MET";
        out << "  " << pad(verdict, 13) << pad(goal, 64) << " "
            << (value ? fixed(*value, *value < 10 ? 2 : 0) + "×" : std::string("—")) << "  ("
            << (at_least ? "≥ " : "≤ ") << fixed(target, target < 10 ? 2 : 0) << "×) " << how
            << "\n";
    };
    auto quotient = [](std::optional<double> a, std::optional<double> b) -> std::optional<double> {
        if (!a || !b || *b <= 0)
            return std::nullopt;
        return *a / *b;
    };
    std::size_t deepest = *std::max_element(s.depth.depths.begin(), s.depth.depths.end());
    std::size_t shallowest = *std::min_element(s.depth.depths.begin(), s.depth.depths.end());
    std::string at = " at depth " + count_text(deepest);
    auto tail_sysv = find(records, "depth", "sysv-msgq", "tail_receive", 64, deepest);
    auto tail_seqmq = find(records, "depth", "seqmq-mailbox", "tail_receive", 64, deepest);
    auto tail_seqmq_small = find(records, "depth", "seqmq-mailbox", "tail_receive", 64, shallowest);
    line("selective receive of the tail, SysV/seqmq" + at, quotient(tail_sysv, tail_seqmq), 300,
         true,
         tail_seqmq && tail_seqmq_small
             ? "seqmq " + duration_text(*tail_seqmq_small) + " at " + count_text(shallowest) +
                   ", " + duration_text(*tail_seqmq) + " at " + count_text(deepest)
             : "");
    auto list_sysv = find(records, "depth", "sysv-msgq", "list_all", 64, deepest);
    auto list_seqmq = find(records, "depth", "seqmq-mailbox", "list_all", 64, deepest);
    line("list every waiting message, SysV MSG_COPY/seqmq list()" + at,
         quotient(list_sysv, list_seqmq), 500, true,
         deepest > s.depth.full_walk_max
             ? "(SysV extrapolated from " + std::to_string(s.depth.walk_samples) + " positions)"
             : "");
    auto rate = [&](const std::string& peer) {
        return find(records, "transfer", peer, "throughput");
    };
    auto p50 = [&](const std::string& peer) { return find(records, "transfer", peer, "rtt_p50"); };
    line("64 B throughput, mailbox/SysV", quotient(rate("seqmq-mailbox"), rate("sysv-msgq")), 2,
         true, "one send per message");
    line("64 B throughput, mailbox with send_many(32)/SysV",
         quotient(rate("seqmq-mailbox-batch32"), rate("sysv-msgq")), 2, true, "");
    line("64 B round trip p50, mailbox/raw AF_UNIX",
         quotient(p50("seqmq-mailbox"), p50("unix-seqpacket")), 1.05, false, "");
    auto cpu = find(records, "transfer", "seqmq-mailbox-spin50us", "cpu_per_roundtrip");
    auto cpu_plain = find(records, "transfer", "seqmq-mailbox", "cpu_per_roundtrip");
    line("64 B round trip p50, mailbox spin 50 µs/SysV",
         quotient(p50("seqmq-mailbox-spin50us"), p50("sysv-msgq")), 0.8, false,
         cpu && cpu_plain ? "CPU per round trip " + fixed(*cpu, 2) + " µs (without spin " +
                                fixed(*cpu_plain, 2) + " µs)"
                          : "");
    auto rate_at = [&](const std::string& peer, std::size_t size) {
        return find(records, "transfer", peer, "throughput", size);
    };
    for (std::size_t size : {std::size_t(1024), std::size_t(8192)})
        line("daemon: " + size_text(size) + " throughput, one call per message/SysV",
             quotient(rate_at("seqmq-queue-via-seqmqd", size), rate_at("sysv-msgq", size)), 0.3,
             true, "(issue 9)");
    line("daemon: 64 B round trip p50, queue/SysV",
         quotient(p50("seqmq-queue-via-seqmqd"), p50("sysv-msgq")), 2.5, false,
         "(issue 9: pinned to one CPU)");
    line("daemon: 64 B throughput, one call per message/SysV",
         quotient(rate("seqmq-queue-via-seqmqd"), rate("sysv-msgq")), 0.5, true,
         rate("seqmq-queue-via-seqmqd") && rate("seqmq-mailbox")
             ? "(queue/mailbox " +
                   fixed(*rate("seqmq-queue-via-seqmqd") / *rate("seqmq-mailbox"), 2) + "×)"
             : "");
    line(
        "daemon: 64 B throughput, queue with send_many/receive_many/SysV",
        quotient(rate("seqmq-queue-via-seqmqd-batch"), rate("sysv-msgq")), 1, true,
        rate("seqmq-queue-via-seqmqd-batch") && rate("seqmq-mailbox-batch32")
            ? "(/mailbox batch32 " +
                  fixed(*rate("seqmq-queue-via-seqmqd-batch") / *rate("seqmq-mailbox-batch32"), 2) +
                  "×)"
            : "");
    line("daemon: 64 B round trip p50, queue/raw AF_UNIX",
         quotient(p50("seqmq-queue-via-seqmqd"), p50("unix-seqpacket")), 1.6, false,
         p50("seqmq-queue-via-seqmqd") && p50("seqmq-mailbox")
             ? "(queue/mailbox " +
                   fixed(*p50("seqmq-queue-via-seqmqd") / *p50("seqmq-mailbox"), 2) + "×)"
             : "");
    // Issue 10: the shim adds at most 5% per call to the C API's path (handles opened alike).
    for (std::size_t size : s.sizes) {
        if (!find(records, "transfer", shim_peer_name, "rtt_p50", size) &&
            !find(records, "transfer", shim_peer_name, "throughput", size))
            continue;
        line("shim: " + size_text(size) + " round trip p50, shim/C API",
             find(records, "transfer", shim_peer_name, "rtt_p50_vs_capi", size), 1.05, false,
             "(issue 10)");
        line("shim: " + size_text(size) + " throughput, shim/C API",
             find(records, "transfer", shim_peer_name, "throughput_vs_capi", size), 1 / 1.05, true,
             "(issue 10: at most 5% more time per message)");
    }
    auto sends = find(records, "steady", "seqmq sender → mailbox", "allocations_per_send");
    auto receives =
        find(records, "steady", "seqmq sender → mailbox", "allocations_per_receive_into_buffer");
    std::string verdict = !sends || !receives             ? "not measured"
                          : *sends == 0 && *receives == 0 ? "MET"
                                                          : "NOT MET";
    out << "  " << pad(verdict, 13)
        << pad("no heap allocation per message (mailbox send, receive into a buffer)", 64) << " "
        << (sends ? fixed(*sends, 3) : "—") << " / " << (receives ? fixed(*receives, 3) : "—")
        << " allocations per message\n";
    for (const auto& r : records)
        if (r.metric == "stash_peak_bytes") {
            std::size_t capacity = std::strtoull(r.note.c_str() + 9, nullptr, 10);
            out << "  " << pad(r.value <= double(capacity) ? "MET" : "NOT MET", 13)
                << pad("stash never above its capacity (16 senders)", 64) << " peak "
                << fixed(r.value, 0) << " of " << capacity << " bytes\n";
        }
}

std::unique_ptr<peer> make_peer(const std::string& name, const ipc_limits& l, const settings& s,
                                const daemon_process& d, const std::string& daemon_why) {
    using w = seqmq_peer::where;
    using m = seqmq_peer::mode;
    w local = s.netns.empty() ? w::unix_abstract : w::unix_path;
    if (name == "sysv")
        return std::make_unique<sysv_peer>(l);
    if (name == "posix")
        return std::make_unique<posix_peer>(l);
    if (name == "unix")
        return std::make_unique<unix_peer>(false);
    if (name == "unix-mmsg")
        return std::make_unique<unix_peer>(true);
    if (name == "tipc")
        return std::make_unique<tipc_peer>();
    if (name == "seqmq-tipc")
        return std::make_unique<seqmq_peer>(w::tipc);
    if (name == "seqmq-batch")
        return std::make_unique<seqmq_peer>(local, m::batch);
    if (name == "seqmq-spin")
        return std::make_unique<seqmq_peer>(local, m::spin);
    if (name == "daemon")
        return std::make_unique<daemon_peer>(d, daemon_why);
    if (name == "daemon-batch")
        return std::make_unique<daemon_peer>(d, daemon_why, true);
    if (name == "daemon-capi")
        return std::make_unique<capi_peer>(d, daemon_why, true);
    if (name == "daemon-capi-credit")
        return std::make_unique<capi_peer>(d, daemon_why, false);
    if (name == "shim")
        return std::make_unique<shim_peer>(d, daemon_why, s.shim_path);
    return std::make_unique<seqmq_peer>(local);
}

int run(int argc, char** argv) {
    settings s = parse_arguments(argc, argv);
    if (!s.compare.empty())
        return compare_runs(s.compare[0], s.compare[1]);
    std::uint64_t started = now_ns();
    (void)scratch_dir(); // named after this process: made before any fork
    machine m = describe_machine();
    if (!s.netns.empty()) {
        enter_netns(s.netns[0]);
        child_netns = s.netns[1];
    }
    ipc_limits limits = set_up_ipc(s);
    struct sigaction sa {};
    sa.sa_handler = on_watchdog;
    ::sigaction(SIGALRM, &sa, nullptr);

    std::cout << "seqmq_bench on " << m.host << ": " << m.kernel << "\n"
              << "CPU: " << m.cpus << " × " << m.cpu << "; this run on CPU " << m.affinity
              << (m.pinned ? " (pinned)" : "") << "\n"
              << "IPC: " << limits.note << " (msgmnb " << limits.msgmnb << ", msgmax "
              << limits.msgmax << ", mqueue msg_max " << limits.mq_msg_max << ", msgsize_max "
              << limits.mq_msgsize_max << ")\n";
    if (!limits.net_note.empty())
        std::cout << "Network: " << limits.net_note << "\n";
    if (!s.netns.empty())
        std::cout << "Namespaces: parent (receiver, ping-pong initiator) in " << s.netns[0]
                  << ", child in " << s.netns[1]
                  << "; unix-seqpacket is a socketpair made before fork, seqmq-mailbox uses "
                     "unix:/path\n";
    std::cout << "Settings: " << json_text(settings_json(s)) << (s.quick ? " (--quick)" : "")
              << "\n";
    std::cout.flush();

    daemon_process daemon;
    std::string daemon_why = "not requested";
    bool daemon_wanted =
        !s.tipc && ((s.wants("transfer") && std::any_of(s.peers.begin(), s.peers.end(),
                                                        [](const std::string& p) {
                                                            return p.starts_with("daemon") ||
                                                                   p == "shim";
                                                        })) ||
                    s.wants("steady"));
    if (daemon_wanted) {
        daemon_why = daemon.start(s.daemon_path, s.daemon_spin_us, s.daemon_args);
        // seqmq_queue_open (daemon-capi-credit) and the shim find seqmqd there.
        if (daemon_why.empty())
            ::setenv("SEQMQ_DAEMON", daemon.address_text().c_str(), 1);
        std::cout << "Daemon: "
                  << (daemon_why.empty()
                          ? "seqmqd at " + daemon.address_text() +
                                (s.daemon_spin_us
                                     ? ", --spin-us " + std::to_string(s.daemon_spin_us)
                                     : std::string()) +
                                [&] {
                                    std::string a;
                                    for (const auto& w : s.daemon_args)
                                        a += " " + w;
                                    return a;
                                }()
                          : "not measured — " + daemon_why)
                  << "\n";
    }

    std::vector<result_record> records;
    if (s.wants("transfer")) {
        std::cout << "\n== transfer: two processes"
                  << (m.pinned ? ", pinned to CPU " + m.affinity : ", not pinned")
                  << ". Ping-pong: one queue per "
                     "direction (seqmq: a mailbox per process).\n   Throughput: one queue, one "
                     "sender process, one receiver process; the seqmq mailbox gets the SysV "
                     "queue's msg_qbytes.\n   CPU/RT: CPU time of both processes per round "
                     "trip.\n";
        std::vector<peer_result> results;
        unsigned serial = 0;
        for (std::size_t size : s.sizes) {
            // Runs interleave the peers (run 1 of each, then run 2 of each, ...): a machine
            // that slows down for a while slows every peer alike, not the one measured then.
            std::vector<std::unique_ptr<peer>> peers;
            const std::size_t first = results.size();
            for (const auto& name : s.peers) {
                peers.push_back(make_peer(name, limits, s, daemon, daemon_why));
                peer_result r;
                r.peer = peers.back()->name();
                r.size = size;
                r.roundtrips = s.roundtrips;
                r.messages = messages_for(s, size);
                r.queue = peers.back()->queue_note(
                    {size, queue_bytes_for(size), workload::throughput, 0});
                results.push_back(std::move(r));
            }
            for (std::size_t run = 0; run < s.repeat; ++run) {
                for (std::size_t i = 0; i < peers.size(); ++i) {
                    peer& p = *peers[i];
                    peer_result& r = results[first + i];
                    if (p.does(workload::pingpong) && !r.rtt_skipped) {
                        ::alarm(watchdog_seconds);
                        try {
                            latency l = ping_pong(p, size, s.roundtrips, ++serial);
                            r.p50_runs.push_back(l.p50_us);
                            r.p99_runs.push_back(l.p99_us);
                            r.cpu_runs.push_back(l.cpu_us);
                        } catch (const std::domain_error& e) {
                            r.rtt_skipped = e.what();
                        } catch (const std::exception& e) {
                            r.rtt_skipped = std::string("failed: ") + e.what();
                            r.p50_runs.clear();
                            r.p99_runs.clear();
                            r.cpu_runs.clear();
                        }
                    }
                    if (p.does(workload::throughput) && !r.throughput_skipped) {
                        ::alarm(watchdog_seconds);
                        try {
                            const rate t = throughput(p, size, r.messages, ++serial);
                            r.rate_runs.push_back(t.per_second);
                            r.rate_cpu_runs.push_back(t.cpu_us);
                        } catch (const std::domain_error& e) {
                            r.throughput_skipped = e.what();
                        } catch (const std::exception& e) {
                            r.throughput_skipped = std::string("failed: ") + e.what();
                            r.rate_runs.clear();
                            r.rate_cpu_runs.clear();
                        }
                    }
                    ::alarm(0);
                }
            }
            print_table(std::cout, size, results, s);
            std::cout.flush();
        }
        auto t = transfer_records(results, s);
        records.insert(records.end(), t.begin(), t.end());
    }
    if (s.wants("depth")) {
        std::cout << "\n== depth: one process; N type-1 messages and one type-2 message at the "
                     "tail\n";
        s.depth.private_ipc = limits.private_namespace;
        s.depth.private_net = limits.private_net;
        ::alarm(1200);
        auto d = run_depth_suite(s.depth, std::cout);
        ::alarm(0);
        records.insert(records.end(), d.begin(), d.end());
        if (!s.plot_path.empty()) {
            // The plot's data and gnuplot script: beside the JSON file (the build directory),
            // not beside the PNG.
            std::string data =
                s.json_path.empty() ? scratch_dir() + "/depth.dat" : s.json_path + ".depth.dat";
            std::string title = "seqmq vs SysV msgq: time per operation against queue depth (" +
                                m.host + ", " + std::to_string(m.cpus) + " CPUs, medians of " +
                                std::to_string(s.repeat) + ")";
            std::cout << write_depth_plot(records, s.plot_path, data, title) << "\n";
        }
        std::cout.flush();
    }
    if (s.wants("senders")) {
        std::cout << "\n== senders";
        ::alarm(600);
        auto d = run_senders_suite(s.senders, std::cout);
        ::alarm(0);
        records.insert(records.end(), d.begin(), d.end());
        std::cout.flush();
    }
    if (s.wants("steady")) {
        std::cout << "\n== steady state";
        steady_state_settings st;
        st.messages = s.quick ? 4096 : 20000;
        if (daemon_why.empty())
            st.daemon = daemon.address_text();
        st.shim = s.shim_path;
        ::alarm(300);
        auto d = run_steady_state_suite(st, std::cout);
        ::alarm(0);
        records.insert(records.end(), d.begin(), d.end());
    }
    if (!s.tipc && !daemon_why.empty() && s.wants("transfer"))
        std::cout << "\nTODO daemon: not measured — " << daemon_why << "\n";
    if (!s.tipc)
        print_goals(std::cout, records, s);
    daemon.stop();
    std::filesystem::remove_all(scratch_dir());
    if (!s.json_path.empty()) {
        write_json(s.json_path, m, limits, s, records);
        std::cout << "\nJSON written to " << s.json_path << "\n";
    }
    std::cout << "\nTotal time: " << fixed(double(now_ns() - started) / 1e9, 1) << " s\n";
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::invalid_argument& e) {
        std::cerr << "seqmq_bench: " << e.what() << "\n";
        return 64;
    } catch (const std::exception& e) {
        std::cerr << "seqmq_bench: " << e.what() << "\n";
        return 1;
    }
}
