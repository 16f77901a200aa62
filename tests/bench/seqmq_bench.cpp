// seqmq_bench: ping-pong round-trip time and one-way throughput of a seqmq mailbox, side by side
// with the kernel's own queues (SysV msgq, POSIX mq) and raw AF_UNIX SEQPACKET, each between two
// processes. A program that prints a table (and, with --json, a file), never a test: nothing here
// asserts a timing.
//
// Larger queues or messages than the host's SysV/POSIX limits allow are only set up inside a
// private IPC namespace (unshare(CLONE_NEWIPC) at start); the host's limits are never changed.
// Without one, a peer that would need more than the host allows is reported as skipped.

#include <seqmq/address.hpp>
#include <seqmq/mailbox.hpp>
#include <seqmq/message.hpp>
#include <seqmq/sender.hpp>

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
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mqueue.h>
#include <optional>
#include <sched.h>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------
// Settings.

struct settings {
    std::size_t messages = 200000;  // throughput: messages per run (scaled down above 1 KiB)
    std::size_t roundtrips = 20000; // ping-pong: measured round trips per run
    std::size_t repeat = 5;
    std::vector<std::size_t> sizes{64};
    std::vector<std::string> peers{"sysv", "posix", "unix", "unix-mmsg", "seqmq"};
    std::string json_path;
};

const std::vector<std::string> known_peers{"sysv", "posix", "unix", "unix-mmsg", "seqmq"};

constexpr std::size_t default_queue_bytes = 16384; // Linux msgmnb; seqmq's default capacity
constexpr std::size_t mmsg_batch = 32;
constexpr int watchdog_seconds = 120;

void usage(std::ostream& out) {
    out << "usage: seqmq_bench [options]\n"
           "  --messages N     messages per throughput run (default 200000; above 1 KiB scaled\n"
           "                   down to about the same number of bytes, at least 2000)\n"
           "  --roundtrips N   measured ping-pong round trips per run (default 20000)\n"
           "  --repeat R       runs per measurement; the median is reported (default 5)\n"
           "  --sizes LIST     message sizes, e.g. 16,64,1K,8K,64K (default 64)\n"
           "  --peers LIST     of sysv,posix,unix,unix-mmsg,seqmq (default all)\n"
           "  --json FILE      also write the results as JSON\n";
}

std::size_t parse_count(std::string_view text, std::string_view option) {
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
        multiplier = 1024;
    else if (ends_with("MiB") || ends_with("M"))
        multiplier = 1024 * 1024;
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

settings parse_arguments(int argc, char** argv) {
    settings s;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            usage(std::cout);
            std::exit(0);
        }
        if (i + 1 >= argc)
            throw std::invalid_argument(std::string(arg) + ": needs a value (see --help)");
        std::string_view value = argv[++i];
        if (arg == "--messages")
            s.messages = parse_count(value, arg);
        else if (arg == "--roundtrips")
            s.roundtrips = parse_count(value, arg);
        else if (arg == "--repeat")
            s.repeat = parse_count(value, arg);
        else if (arg == "--json")
            s.json_path = value;
        else if (arg == "--sizes") {
            s.sizes.clear();
            for (const auto& part : split(value))
                s.sizes.push_back(parse_count(part, arg));
        } else if (arg == "--peers") {
            s.peers = split(value);
            for (const auto& p : s.peers)
                if (std::find(known_peers.begin(), known_peers.end(), p) == known_peers.end())
                    throw std::invalid_argument("--peers: unknown peer " + p +
                                                " (known: sysv,posix,unix,unix-mmsg,seqmq)");
        } else
            throw std::invalid_argument("unknown option " + std::string(arg) + " (see --help)");
    }
    if (s.messages == 0 || s.roundtrips == 0 || s.repeat == 0)
        throw std::invalid_argument("--messages, --roundtrips and --repeat must be at least 1");
    if (s.sizes.empty() || s.peers.empty())
        throw std::invalid_argument("--sizes and --peers need at least one entry");
    for (std::size_t size : s.sizes)
        if (size == 0 || size > 65536)
            throw std::invalid_argument("--sizes: each size must be 1..65536 bytes");
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

std::string read_first_line(const char* path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

std::size_t read_number(const char* path) {
    std::string line = read_first_line(path);
    return line.empty() ? 0 : static_cast<std::size_t>(std::strtoull(line.c_str(), nullptr, 10));
}

bool write_number(const char* path, std::size_t value) {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    std::string text = std::to_string(value);
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
}

struct machine {
    std::string kernel, cpu;
    long cpus = 0;
};

machine describe_machine() {
    machine m;
    utsname u{};
    if (::uname(&u) == 0)
        m.kernel = u.release;
    m.cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
        if (line.starts_with("model name")) {
            auto colon = line.find(':');
            m.cpu = colon == std::string::npos ? line : line.substr(colon + 2);
            break;
        }
    return m;
}

struct ipc_limits {
    bool private_namespace = false;
    std::string note;
    std::size_t msgmnb = 0, msgmax = 0;             // SysV
    std::size_t mq_msg_max = 0, mq_msgsize_max = 0; // POSIX
};

// Enters a private IPC namespace and raises the limits there to what the sizes need.
ipc_limits set_up_ipc(const settings& s) {
    ipc_limits l;
    std::size_t largest = *std::max_element(s.sizes.begin(), s.sizes.end());
    std::size_t smallest = *std::min_element(s.sizes.begin(), s.sizes.end());
    if (::unshare(CLONE_NEWIPC) == 0) {
        l.private_namespace = true;
        std::size_t mnb = queue_bytes_for(largest);
        std::size_t max = std::max<std::size_t>(8192, largest);
        bool ok = true;
        if (read_number("/proc/sys/kernel/msgmnb") < mnb)
            ok &= write_number("/proc/sys/kernel/msgmnb", mnb);
        if (read_number("/proc/sys/kernel/msgmax") < max)
            ok &= write_number("/proc/sys/kernel/msgmax", max);
        if (read_number("/proc/sys/fs/mqueue/msgsize_max") < max)
            ok &= write_number("/proc/sys/fs/mqueue/msgsize_max", max);
        std::size_t depth = std::min<std::size_t>(65536, queue_bytes_for(smallest) / smallest);
        if (read_number("/proc/sys/fs/mqueue/msg_max") < depth)
            ok &= write_number("/proc/sys/fs/mqueue/msg_max", depth);
        l.note = ok ? "private IPC namespace; SysV and POSIX mq limits raised inside it only"
                    : "private IPC namespace, but raising a limit in it failed";
    } else {
        l.note = std::string("no private IPC namespace (unshare: ") + std::strerror(errno) +
                 "); the host's SysV and POSIX mq limits apply";
    }
    l.msgmnb = read_number("/proc/sys/kernel/msgmnb");
    l.msgmax = read_number("/proc/sys/kernel/msgmax");
    l.mq_msg_max = read_number("/proc/sys/fs/mqueue/msg_max");
    l.mq_msgsize_max = read_number("/proc/sys/fs/mqueue/msgsize_max");
    return l;
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
};

[[noreturn]] void die(const std::string& what) {
    throw std::runtime_error(what);
}
[[noreturn]] void die_errno(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

void check_size(std::size_t got, std::size_t want, const char* who) {
    if (got != want)
        die(std::string(who) + ": received " + std::to_string(got) + " bytes, expected " +
            std::to_string(want));
}

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
        return std::make_unique<sysv_endpoint>(out, in, setup_.size);
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
    class sysv_endpoint final : public endpoint {
    public:
        sysv_endpoint(int out, int in, std::size_t size)
            : out_(out), in_(in), out_buf_(sizeof(long) + size), in_buf_(sizeof(long) + size) {
            long type = 1;
            std::memcpy(out_buf_.data(), &type, sizeof type);
        }
        std::span<std::byte> payload() override {
            return std::span(out_buf_).subspan(sizeof(long));
        }
        void send(std::size_t size) override {
            while (::msgsnd(out_, out_buf_.data(), size, 0) != 0)
                if (errno != EINTR)
                    die_errno("msgsnd");
        }
        std::size_t receive(std::size_t size) override {
            ssize_t n;
            while ((n = ::msgrcv(in_, in_buf_.data(), size, 0, 0)) < 0)
                if (errno != EINTR)
                    die_errno("msgrcv");
            check_size(static_cast<std::size_t>(n), size, "msgrcv");
            return 1;
        }

    private:
        int out_, in_;
        std::vector<std::byte> out_buf_, in_buf_;
    };

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
        return std::make_unique<unix_endpoint>(fds_[mine], setup_.size, batched_);
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
    class unix_endpoint final : public endpoint {
    public:
        unix_endpoint(int fd, std::size_t size, bool batched)
            : fd_(fd), out_buf_(size), in_buf_(size * (batched ? mmsg_batch : 1)),
              batched_(batched) {
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

    bool batched_;
    run_setup setup_;
    std::array<int, 2> fds_{-1, -1};
};

// seqmq: ping-pong with a mailbox per process and a sender to the other one; throughput with
// the parent's mailbox and the child's sender. Everything is opened after fork.
class seqmq_peer final : public peer {
public:
    std::string name() const override { return "seqmq-mailbox"; }

    std::string prepare(const run_setup& setup) override {
        setup_ = setup;
        std::string stem =
            "seqmq-bench-" + std::to_string(::getpid()) + "-" + std::to_string(setup.serial);
        names_ = {stem + "-a", stem + "-b"};
        return {};
    }

    std::unique_ptr<endpoint> open(side s) override {
        int mine = s == side::a ? 0 : 1;
        seqmq::mailbox_options mo;
        mo.max_message_size = std::max<std::size_t>(setup_.size, mo.max_message_size);
        mo.capacity = std::max(setup_.queue_bytes, mo.max_message_size);
        seqmq::sender_options so;
        so.max_message_size = mo.max_message_size;
        so.wait_for_mailbox = std::chrono::seconds(10);

        bool want_mailbox = setup_.kind == workload::pingpong || s == side::a;
        bool want_sender = setup_.kind == workload::pingpong || s == side::b;
        std::optional<seqmq::mailbox> box;
        std::optional<seqmq::sender> out;
        if (want_mailbox) {
            auto where = seqmq::address::unix_abstract(names_[mine]);
            if (!where)
                die("address " + names_[mine] + ": " + where.error().message());
            auto m = seqmq::mailbox::open(*where, mo);
            if (!m)
                die("seqmq::mailbox::open(unix:@" + names_[mine] + "): " + m.error().message());
            box.emplace(std::move(*m));
        }
        if (want_sender) {
            int other = setup_.kind == workload::throughput ? 0 : 1 - mine;
            auto where = seqmq::address::unix_abstract(names_[other]);
            if (!where)
                die("address " + names_[other] + ": " + where.error().message());
            auto c = seqmq::sender::connect(*where, so);
            if (!c)
                die("seqmq::sender::connect(unix:@" + names_[other] + "): " + c.error().message());
            out.emplace(std::move(*c));
        }
        return std::make_unique<seqmq_endpoint>(std::move(box), std::move(out), setup_.size);
    }

    void clean_up() override {}

    std::string queue_note(const run_setup& setup) const override {
        return "capacity " + std::to_string(std::max<std::size_t>(setup.queue_bytes, 8192)) +
               " (= msg_qbytes) + socket buffer";
    }

private:
    class seqmq_endpoint final : public endpoint {
    public:
        seqmq_endpoint(std::optional<seqmq::mailbox> box, std::optional<seqmq::sender> out,
                       std::size_t size)
            : box_(std::move(box)), out_(std::move(out)), out_buf_(size), in_buf_(size) {}
        std::span<std::byte> payload() override { return out_buf_; }
        void send(std::size_t size) override {
            auto r = out_->send(1, std::span<const std::byte>(out_buf_.data(), size));
            if (!r)
                die("seqmq::sender::send: " + r.error().message());
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
        std::vector<std::byte> out_buf_, in_buf_;
    };

    run_setup setup_;
    std::array<std::string, 2> names_;
};

// ---------------------------------------------------------------------------------------------
// Two processes.

std::uint64_t now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

class pipe_pair {
public:
    pipe_pair() {
        if (::pipe2(fds_, O_CLOEXEC) != 0)
            die_errno("pipe2");
    }
    ~pipe_pair() {
        close_read();
        close_write();
    }
    pipe_pair(const pipe_pair&) = delete;
    pipe_pair& operator=(const pipe_pair&) = delete;
    void close_read() {
        if (fds_[0] >= 0)
            ::close(fds_[0]);
        fds_[0] = -1;
    }
    void close_write() {
        if (fds_[1] >= 0)
            ::close(fds_[1]);
        fds_[1] = -1;
    }
    void write_text(const std::string& text) {
        std::uint32_t n = static_cast<std::uint32_t>(text.size());
        write_all(&n, sizeof n);
        write_all(text.data(), n);
    }
    /// std::nullopt at end of file (the other process died).
    std::optional<std::string> read_text() {
        std::uint32_t n = 0;
        if (!read_all(&n, sizeof n))
            return std::nullopt;
        std::string text(n, '\0');
        if (!read_all(text.data(), n))
            return std::nullopt;
        return text;
    }

private:
    void write_all(const void* p, std::size_t n) {
        auto* c = static_cast<const char*>(p);
        while (n > 0) {
            ssize_t w = ::write(fds_[1], c, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                die_errno("write to pipe");
            c += w;
            n -= static_cast<std::size_t>(w);
        }
    }
    bool read_all(void* p, std::size_t n) {
        auto* c = static_cast<char*>(p);
        while (n > 0) {
            ssize_t r = ::read(fds_[0], c, n);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return false;
            c += r;
            n -= static_cast<std::size_t>(r);
        }
        return true;
    }
    int fds_[2];
};

volatile pid_t running_child = 0;

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
};

latency ping_pong(peer& p, std::size_t size, std::size_t roundtrips, unsigned serial) {
    run_setup setup{size, pingpong_queue_bytes_for(size), workload::pingpong, serial};
    if (std::string why = p.prepare(setup); !why.empty())
        throw std::domain_error(why);
    std::size_t warmup = std::min<std::size_t>(1000, roundtrips / 10 + 1);
    std::size_t total = warmup + roundtrips;
    std::vector<std::uint64_t> rtt(roundtrips);
    two_processes(
        p,
        [&](endpoint& ep, pipe_pair&) {
            for (std::size_t i = 0; i < total; ++i) {
                ep.receive(size);
                ep.send(size);
            }
            return std::string("done");
        },
        [&](endpoint& ep, pipe_pair&) {
            std::memset(ep.payload().data(), 0x5a, size);
            for (std::size_t i = 0; i < total; ++i) {
                std::uint64_t t0 = now_ns();
                ep.send(size);
                ep.receive(size);
                if (i >= warmup)
                    rtt[i - warmup] = now_ns() - t0;
            }
        });
    std::sort(rtt.begin(), rtt.end());
    auto at = [&](double q) {
        std::size_t i = std::min(rtt.size() - 1, static_cast<std::size_t>(q * rtt.size()));
        return static_cast<double>(rtt[i]) / 1000.0;
    };
    return {at(0.50), at(0.99)};
}

// Messages per second from the sender's first send to the receiver's last receive.
double throughput(peer& p, std::size_t size, std::size_t messages, unsigned serial) {
    run_setup setup{size, queue_bytes_for(size), workload::throughput, serial};
    if (std::string why = p.prepare(setup); !why.empty())
        throw std::domain_error(why);
    std::uint64_t end = 0;
    auto out = two_processes(
        p,
        [&](endpoint& ep, pipe_pair& from_parent) {
            std::memset(ep.payload().data(), 0xa5, size);
            if (!from_parent.read_text())
                die("the parent went away before the start");
            std::uint64_t start = now_ns();
            for (std::size_t i = 0; i < messages; ++i)
                ep.send(size);
            return std::to_string(start);
        },
        [&](endpoint& ep, pipe_pair& to_child) {
            to_child.write_text("go");
            std::size_t got = 0;
            while (got < messages)
                got += ep.receive(size);
            end = now_ns();
            if (got != messages)
                die("received " + std::to_string(got) + " messages, sent " +
                    std::to_string(messages));
        });
    std::uint64_t start = std::strtoull(out.child_report.c_str(), nullptr, 10);
    return static_cast<double>(messages) / (static_cast<double>(end - start) / 1e9);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// ---------------------------------------------------------------------------------------------
// Results.

struct peer_result {
    std::string peer;
    std::size_t size = 0;
    std::optional<std::string> rtt_skipped, throughput_skipped; // why, when not measured
    std::vector<double> p50_runs, p99_runs, rate_runs;
    std::size_t roundtrips = 0, messages = 0;
    std::string queue;
    bool has_rtt() const { return !p50_runs.empty(); }
    bool has_rate() const { return !rate_runs.empty(); }
};

std::string fixed(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string pad(std::string s, std::size_t width, bool right = false) {
    // Count UTF-8 code points, so "µs" and "×" take one column.
    std::size_t columns = 0;
    for (unsigned char c : s)
        columns += (c & 0xc0) != 0x80;
    if (columns < width)
        s = right ? std::string(width - columns, ' ') + s : s + std::string(width - columns, ' ');
    return s;
}

std::string size_text(std::size_t size) {
    if (size >= 1024 && size % 1024 == 0)
        return std::to_string(size / 1024) + " KiB";
    return std::to_string(size) + " B";
}

void print_table(std::ostream& out, std::size_t size, const std::vector<peer_result>& results,
                 const settings& s) {
    const peer_result* sysv = nullptr;
    for (const auto& r : results)
        if (r.size == size && r.peer == "sysv-msgq")
            sysv = &r;
    out << "\n"
        << size_text(size) << " messages — ping-pong: " << s.roundtrips
        << " round trips per run; throughput: " << messages_for(s, size)
        << " messages per run; median of " << s.repeat << " runs\n";
    out << pad("peer", 23) << pad("RTT p50", 11, true) << pad("RTT p99", 11, true)
        << pad("time/SysV", 11, true) << pad("msg/s", 14, true) << pad("rate/SysV", 11, true)
        << "   queue (throughput)\n";
    std::vector<std::string> notes;
    for (const auto& r : results) {
        if (r.size != size)
            continue;
        std::string p50 = "—", p99 = "—", time_ratio = "—", rate = "—", rate_ratio = "—";
        if (r.has_rtt()) {
            double m50 = median(r.p50_runs);
            p50 = fixed(m50, 2) + " µs";
            p99 = fixed(median(r.p99_runs), 2) + " µs";
            if (sysv && sysv->has_rtt())
                time_ratio = fixed(m50 / median(sysv->p50_runs), 2) + "×";
        } else if (r.rtt_skipped) {
            notes.push_back(r.peer + " ping-pong skipped: " + *r.rtt_skipped);
        }
        if (r.has_rate()) {
            double m = median(r.rate_runs);
            rate = fixed(m / 1e6, 3) + " M";
            if (sysv && sysv->has_rate())
                rate_ratio = fixed(m / median(sysv->rate_runs), 2) + "×";
        } else if (r.throughput_skipped) {
            notes.push_back(r.peer + " throughput skipped: " + *r.throughput_skipped);
        }
        out << pad(r.peer, 23) << pad(p50, 11, true) << pad(p99, 11, true)
            << pad(time_ratio, 11, true) << pad(rate, 14, true) << pad(rate_ratio, 11, true)
            << "   " << (r.has_rtt() || r.has_rate() ? r.queue : "(not run)") << "\n";
    }
    for (const auto& n : notes)
        out << "  note: " << n << "\n";
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else
            out += c;
    }
    return out + "\"";
}

std::string json_array(const std::vector<double>& v) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i)
        out += (i ? ", " : "") + fixed(v[i], 4);
    return out + "]";
}

void write_json(const std::string& path, const machine& m, const ipc_limits& l, const settings& s,
                const std::vector<peer_result>& results) {
    std::ofstream out(path);
    if (!out)
        die_errno("cannot write " + path);
    out << "{\n  \"machine\": {\"kernel\": " << json_string(m.kernel) << ", \"cpus\": " << m.cpus
        << ", \"cpu\": " << json_string(m.cpu) << "},\n";
    out << "  \"ipc\": {\"private_namespace\": " << (l.private_namespace ? "true" : "false")
        << ", \"msgmnb\": " << l.msgmnb << ", \"msgmax\": " << l.msgmax
        << ", \"mq_msg_max\": " << l.mq_msg_max << ", \"mq_msgsize_max\": " << l.mq_msgsize_max
        << "},\n";
    out << "  \"settings\": {\"roundtrips\": " << s.roundtrips << ", \"messages\": " << s.messages
        << ", \"repeat\": " << s.repeat << "},\n  \"results\": [\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        out << "    {\"peer\": " << json_string(r.peer) << ", \"size\": " << r.size;
        if (r.has_rtt())
            out << ", \"roundtrips\": " << r.roundtrips
                << ", \"rtt_p50_us\": " << fixed(median(r.p50_runs), 4)
                << ", \"rtt_p99_us\": " << fixed(median(r.p99_runs), 4)
                << ", \"rtt_p50_us_runs\": " << json_array(r.p50_runs)
                << ", \"rtt_p99_us_runs\": " << json_array(r.p99_runs);
        else if (r.rtt_skipped)
            out << ", \"rtt_skipped\": " << json_string(*r.rtt_skipped);
        if (r.has_rate())
            out << ", \"messages\": " << r.messages
                << ", \"messages_per_s\": " << fixed(median(r.rate_runs), 1)
                << ", \"messages_per_s_runs\": " << json_array(r.rate_runs);
        else if (r.throughput_skipped)
            out << ", \"throughput_skipped\": " << json_string(*r.throughput_skipped);
        out << ", \"queue\": " << json_string(r.queue) << "}" << (i + 1 < results.size() ? "," : "")
            << "\n";
    }
    out << "  ]\n}\n";
}

std::unique_ptr<peer> make_peer(const std::string& name, const ipc_limits& l) {
    if (name == "sysv")
        return std::make_unique<sysv_peer>(l);
    if (name == "posix")
        return std::make_unique<posix_peer>(l);
    if (name == "unix")
        return std::make_unique<unix_peer>(false);
    if (name == "unix-mmsg")
        return std::make_unique<unix_peer>(true);
    return std::make_unique<seqmq_peer>();
}

int run(int argc, char** argv) {
    settings s = parse_arguments(argc, argv);
    machine m = describe_machine();
    ipc_limits limits = set_up_ipc(s);
    struct sigaction sa {};
    sa.sa_handler = on_watchdog;
    ::sigaction(SIGALRM, &sa, nullptr);

    std::cout << "seqmq_bench — kernel " << m.kernel << ", " << m.cpus << " CPUs, " << m.cpu << "\n"
              << "IPC: " << limits.note << " (msgmnb " << limits.msgmnb << ", msgmax "
              << limits.msgmax << ", mqueue msg_max " << limits.mq_msg_max << ", msgsize_max "
              << limits.mq_msgsize_max << ")\n"
              << "Two processes, nothing pinned. Ping-pong: one queue per direction (seqmq: a "
                 "mailbox per process). Throughput: one queue,\none sender process, one "
                 "receiver process; the seqmq mailbox gets the SysV queue's msg_qbytes as its "
                 "capacity.\n";
    std::cout.flush();

    std::vector<peer_result> results;
    unsigned serial = 0;
    for (std::size_t size : s.sizes) {
        for (const auto& name : s.peers) {
            auto p = make_peer(name, limits);
            peer_result r;
            r.peer = p->name();
            r.size = size;
            r.roundtrips = s.roundtrips;
            r.messages = messages_for(s, size);
            r.queue = p->queue_note({size, queue_bytes_for(size), workload::throughput, 0});
            for (std::size_t run = 0; run < s.repeat; ++run) {
                if (p->does(workload::pingpong) && !r.rtt_skipped) {
                    ::alarm(watchdog_seconds);
                    try {
                        latency l = ping_pong(*p, size, s.roundtrips, ++serial);
                        r.p50_runs.push_back(l.p50_us);
                        r.p99_runs.push_back(l.p99_us);
                    } catch (const std::domain_error& e) {
                        r.rtt_skipped = e.what();
                    } catch (const std::exception& e) {
                        r.rtt_skipped = std::string("failed: ") + e.what();
                        r.p50_runs.clear();
                        r.p99_runs.clear();
                    }
                }
                if (p->does(workload::throughput) && !r.throughput_skipped) {
                    ::alarm(watchdog_seconds);
                    try {
                        r.rate_runs.push_back(throughput(*p, size, r.messages, ++serial));
                    } catch (const std::domain_error& e) {
                        r.throughput_skipped = e.what();
                    } catch (const std::exception& e) {
                        r.throughput_skipped = std::string("failed: ") + e.what();
                        r.rate_runs.clear();
                    }
                }
                ::alarm(0);
            }
            if (!p->does(workload::pingpong))
                r.rtt_skipped.reset();
            results.push_back(std::move(r));
        }
        print_table(std::cout, size, results, s);
        std::cout.flush();
    }
    if (!s.json_path.empty()) {
        write_json(s.json_path, m, limits, s, results);
        std::cout << "\nJSON written to " << s.json_path << "\n";
    }
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
