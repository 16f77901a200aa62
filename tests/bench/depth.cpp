// The depth suite: a queue holding N type-1 messages and one type-2 message at its tail.
//   - selective receive of the tail message: SysV msgrcv(type 2) vs mailbox receive(of_type(2));
//   - listing every waiting message: SysV msgrcv(MSG_COPY) at 0..N-1, an AF_UNIX SO_PEEK_OFF
//     walk of a socket queue, and mailbox list().
// The kernel's two walks are O(N²) overall; above `full_walk_max` they are timed at a sample of
// positions spread evenly over the queue and the whole walk is extrapolated from them (each
// step costs in proportion to its position, so the sample's mean times N is the estimate); the
// table says so. Everything runs in this one process: the mailbox's sender too, with nowait
// sends and stat() to pull what it sent into the stash.
#include "depth.hpp"

#include <seqmq/address.hpp>
#include <seqmq/mailbox.hpp>
#include <seqmq/sender.hpp>

#include <array>
#include <cstdio>
#include <map>
#include <ostream>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/socket.h>

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

namespace seqmq_bench {
namespace {

constexpr std::size_t message_size = 64;

struct sysv_message {
    long type;
    std::array<char, message_size> text;
};

// Operations timed per repetition for a per-operation figure: many at small depths (where one
// operation takes about a microsecond), a few at large ones.
std::size_t ops_per_repetition(std::size_t depth) {
    return std::clamp<std::size_t>(200000 / depth, 3, 500);
}

// Positions timed for a sampled walk: the midpoints of `samples` equal slices of the queue.
std::vector<std::size_t> sample_positions(std::size_t depth, std::size_t samples) {
    std::vector<std::size_t> at;
    for (std::size_t j = 0; j < samples; ++j)
        at.push_back((2 * j + 1) * depth / (2 * samples));
    return at;
}

struct walk_figure {
    std::vector<double> runs_ns; // the whole walk, per repetition
    std::size_t positions_timed = 0;
    bool extrapolated = false;
    std::string skipped;
};

// --- SysV --------------------------------------------------------------------------------------

class sysv_queue {
public:
    explicit sysv_queue(std::size_t bytes) {
        id_ = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        if (id_ < 0)
            die_errno("msgget");
        msqid_ds ds{};
        if (::msgctl(id_, IPC_STAT, &ds) != 0)
            die_errno("msgctl IPC_STAT");
        ds.msg_qbytes = bytes;
        if (::msgctl(id_, IPC_SET, &ds) != 0)
            die_errno("msgctl IPC_SET msg_qbytes " + std::to_string(bytes));
    }
    ~sysv_queue() { ::msgctl(id_, IPC_RMID, nullptr); }
    sysv_queue(const sysv_queue&) = delete;
    sysv_queue& operator=(const sysv_queue&) = delete;

    void send(long type) {
        msg_.type = type;
        if (::msgsnd(id_, &msg_, message_size, IPC_NOWAIT) != 0)
            die_errno("msgsnd (type " + std::to_string(type) + ")");
    }
    void receive(long type, int flags = 0) {
        ssize_t n = ::msgrcv(id_, &in_, message_size, type, flags | IPC_NOWAIT);
        if (n < 0)
            die_errno("msgrcv (msgtyp " + std::to_string(type) + ")");
        check_size(static_cast<std::size_t>(n), message_size, "msgrcv");
    }

private:
    int id_ = -1;
    sysv_message msg_{1, {}}, in_{};
};

// --- AF_UNIX -----------------------------------------------------------------------------------

class unix_backlog {
public:
    explicit unix_backlog(std::size_t depth) {
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds_) != 0)
            die_errno("socketpair");
        int big = 1 << 30; // SO_SNDBUFFORCE: CAP_NET_ADMIN; the records' kernel memory
        if (::setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) != 0)
            die_errno("setsockopt SO_SNDBUFFORCE");
        std::array<char, message_size> text{};
        for (std::size_t i = 0; i < depth; ++i)
            if (::send(fds_[0], text.data(), text.size(), MSG_DONTWAIT) < 0)
                die_errno("send of record " + std::to_string(i));
    }
    ~unix_backlog() {
        ::close(fds_[0]);
        ::close(fds_[1]);
    }
    unix_backlog(const unix_backlog&) = delete;
    unix_backlog& operator=(const unix_backlog&) = delete;

    void peek_from(std::size_t position) {
        int offset = static_cast<int>(position * message_size);
        if (::setsockopt(fds_[1], SOL_SOCKET, SO_PEEK_OFF, &offset, sizeof offset) != 0)
            die_errno("setsockopt SO_PEEK_OFF");
    }
    void peek() {
        ssize_t n = ::recv(fds_[1], in_.data(), in_.size(), MSG_PEEK | MSG_DONTWAIT);
        if (n < 0)
            die_errno("recv MSG_PEEK");
        check_size(static_cast<std::size_t>(n), message_size, "recv MSG_PEEK");
    }

private:
    int fds_[2];
    std::array<char, message_size> in_{};
};

// --- the mailbox -------------------------------------------------------------------------------

struct mailbox_backlog {
    seqmq::mailbox box;
    seqmq::sender to;
    std::array<std::byte, message_size> payload{};

    static mailbox_backlog open(std::size_t depth, unsigned serial) {
        auto where = seqmq::address::unix_abstract(
            "seqmq-bench-depth-" + std::to_string(::getpid()) + "-" + std::to_string(serial));
        seqmq::mailbox_options mo;
        mo.capacity = std::max<std::size_t>(mo.capacity, (depth + 2) * message_size);
        auto box = seqmq::mailbox::open(*where, mo);
        if (!box)
            die("mailbox::open: " + box.error().message());
        auto to = seqmq::sender::connect(*where);
        if (!to)
            die("sender::connect: " + to.error().message());
        mailbox_backlog b{std::move(*box), std::move(*to), {}};
        for (std::size_t i = 0; i < depth; ++i)
            b.send(1);
        b.send(2);
        b.settle(depth + 1);
        return b;
    }

    // Sends without waiting; when the socket is full, lets the mailbox read it.
    void send(long type) {
        for (;;) {
            auto r = to.send(type, payload, seqmq::send_flags::nowait);
            if (r)
                return;
            if (r.error() != std::errc::resource_unavailable_try_again)
                die("sender::send: " + r.error().message());
            if (auto s = box.stat(); !s)
                die("mailbox::stat: " + s.error().message());
        }
    }

    // Until everything sent is in the stash.
    void settle(std::size_t expected) {
        for (int i = 0; i < 100000; ++i) {
            auto s = box.stat();
            if (!s)
                die("mailbox::stat: " + s.error().message());
            if (s->count == expected)
                return;
        }
        die("the mailbox never held the " + std::to_string(expected) + " messages sent");
    }
};

} // namespace

std::vector<result_record> run_depth_suite(const depth_settings& s, std::ostream& out) {
    std::vector<result_record> records;
    struct row {
        std::size_t depth = 0;
        std::vector<double> sysv_tail, seqmq_tail; // ns per receive, per repetition
        walk_figure sysv_copy, unix_walk;
        std::vector<double> seqmq_list; // ns per list() of the whole backlog
        std::string sysv_skipped, seqmq_skipped;
    };
    std::vector<row> rows;
    unsigned serial = 0;

    std::size_t deepest = *std::max_element(s.depths.begin(), s.depths.end());
    std::string sysv_reason, unix_reason;
    if (!s.private_ipc)
        sysv_reason = "needs a private IPC namespace to raise msgmnb";
    else if (!raise_limit("/proc/sys/kernel/msgmnb", (deepest + 1) * message_size + 1024))
        sysv_reason = "could not raise msgmnb inside the private IPC namespace";
    if (!s.private_net)
        unix_reason = "needs a private network namespace to raise net.unix.max_dgram_qlen";
    else if (!raise_limit("/proc/sys/net/unix/max_dgram_qlen", deepest + 16))
        unix_reason = "could not raise net.unix.max_dgram_qlen in the private network namespace";

    for (std::size_t depth : s.depths) {
        row r;
        r.depth = depth;
        bool full = depth <= s.full_walk_max;
        std::vector<std::size_t> positions;
        if (full)
            for (std::size_t i = 0; i < depth; ++i)
                positions.push_back(i);
        else
            positions = sample_positions(depth, s.walk_samples);
        const double scale = full ? 1.0 : double(depth) / double(positions.size());
        std::size_t ops = ops_per_repetition(depth);

        // SysV: selective receive of the tail, then MSG_COPY at every (or each sampled)
        // position.
        r.sysv_skipped = sysv_reason;
        if (sysv_reason.empty()) {
            try {
                sysv_queue q(std::max<std::size_t>((depth + 1) * message_size, depth + 1));
                for (std::size_t i = 0; i < depth; ++i)
                    q.send(1);
                q.send(2);
                for (std::size_t rep = 0; rep < s.repeat; ++rep) {
                    std::uint64_t spent = 0;
                    for (std::size_t i = 0; i < ops; ++i) {
                        std::uint64_t t0 = now_ns();
                        q.receive(2);
                        spent += now_ns() - t0;
                        q.send(2); // back at the tail
                    }
                    r.sysv_tail.push_back(double(spent) / double(ops));
                }
                r.sysv_copy.positions_timed = positions.size();
                r.sysv_copy.extrapolated = !full;
                for (std::size_t rep = 0; rep < s.repeat; ++rep) {
                    std::uint64_t spent = 0;
                    if (full) {
                        std::uint64_t t0 = now_ns();
                        for (std::size_t p : positions)
                            q.receive(static_cast<long>(p), MSG_COPY);
                        spent = now_ns() - t0;
                    } else {
                        for (std::size_t p : positions) {
                            std::uint64_t t0 = now_ns();
                            q.receive(static_cast<long>(p), MSG_COPY);
                            spent += now_ns() - t0;
                        }
                    }
                    r.sysv_copy.runs_ns.push_back(double(spent) * scale);
                }
            } catch (const std::exception& e) {
                r.sysv_skipped = std::string("failed: ") + e.what();
            }
        }

        // AF_UNIX: a SO_PEEK_OFF walk, whole or at the sampled positions.
        r.unix_walk.skipped = unix_reason;
        if (unix_reason.empty()) {
            try {
                unix_backlog b(depth + 1);
                r.unix_walk.positions_timed = positions.size();
                r.unix_walk.extrapolated = !full;
                for (std::size_t rep = 0; rep < s.repeat; ++rep) {
                    std::uint64_t spent = 0;
                    if (full) {
                        std::uint64_t t0 = now_ns();
                        b.peek_from(0);
                        for (std::size_t i = 0; i < depth; ++i)
                            b.peek();
                        spent = now_ns() - t0;
                    } else {
                        for (std::size_t p : positions) {
                            b.peek_from(p);
                            std::uint64_t t0 = now_ns();
                            b.peek();
                            spent += now_ns() - t0;
                        }
                    }
                    r.unix_walk.runs_ns.push_back(double(spent) * scale);
                }
            } catch (const std::exception& e) {
                r.unix_walk.skipped = std::string("failed: ") + e.what();
            }
        }

        // The mailbox: the same backlog, in its stash.
        try {
            auto b = mailbox_backlog::open(depth, ++serial);
            std::array<std::byte, message_size> in{};
            for (std::size_t rep = 0; rep < s.repeat; ++rep) {
                std::uint64_t spent = 0;
                for (std::size_t i = 0; i < ops; ++i) {
                    std::uint64_t t0 = now_ns();
                    auto got = b.box.receive(in, seqmq::selector::of_type(2),
                                             seqmq::receive_flags::nowait);
                    spent += now_ns() - t0;
                    if (!got || got->type != 2)
                        die("mailbox::receive(of_type(2)): " +
                            (got ? std::string("type ") + std::to_string(got->type)
                                 : got.error().message()));
                    b.send(2);
                    b.settle(depth + 1);
                }
                r.seqmq_tail.push_back(double(spent) / double(ops));
            }
            std::size_t list_ops = std::clamp<std::size_t>(100000 / depth, 1, 100);
            for (std::size_t rep = 0; rep < s.repeat; ++rep) {
                std::uint64_t t0 = now_ns();
                for (std::size_t i = 0; i < list_ops; ++i) {
                    auto all = b.box.list();
                    if (!all || all->size() != depth + 1)
                        die("mailbox::list: " + (all ? std::to_string(all->size()) + " messages"
                                                     : all.error().message()));
                }
                r.seqmq_list.push_back(double(now_ns() - t0) / double(list_ops));
            }
        } catch (const std::exception& e) {
            r.seqmq_skipped = std::string("failed: ") + e.what();
        }
        rows.push_back(std::move(r));
    }

    // Tables.
    auto cell = [](const std::vector<double>& runs) {
        return runs.empty() ? std::string("—") : duration_text(median(runs));
    };
    auto ratio = [](const std::vector<double>& slow, const std::vector<double>& fast) {
        if (slow.empty() || fast.empty() || median(fast) <= 0)
            return std::string("—");
        double x = median(slow) / median(fast);
        return fixed(x, x < 10 ? 2 : 0) + "×";
    };
    out << "\nSelective receive of the one type-2 message behind N type-1 messages (64 B): time "
           "per receive,\nmedian of "
        << s.repeat
        << " repetitions (each the mean of several receives; the message is sent again to the "
           "tail between them)\n"
        << pad("depth N", 9) << pad("SysV msgrcv(2)", 17, true)
        << pad("seqmq receive(of_type(2))", 28, true) << pad("SysV/seqmq", 13, true) << "\n";
    for (const auto& r : rows) {
        out << pad(count_text(r.depth), 9) << pad(cell(r.sysv_tail), 17, true)
            << pad(cell(r.seqmq_tail), 28, true) << pad(ratio(r.sysv_tail, r.seqmq_tail), 13, true)
            << "\n";
    }
    out << "\nListing every waiting message (N+1 messages of 64 B; nothing taken): time for the "
           "whole backlog,\nmedian of "
        << s.repeat << " repetitions\n"
        << pad("depth N", 9) << pad("SysV MSG_COPY 0..N", 20, true)
        << pad("AF_UNIX SO_PEEK_OFF", 21, true) << pad("seqmq list()", 15, true)
        << pad("SysV/seqmq", 12, true) << pad("AF_UNIX/seqmq", 15, true) << "   how\n";
    std::vector<std::string> notes;
    for (const auto& r : rows) {
        std::string how = r.depth <= s.full_walk_max
                              ? "every position walked"
                              : "kernel walks extrapolated from " +
                                    std::to_string(std::max(r.sysv_copy.positions_timed,
                                                            r.unix_walk.positions_timed)) +
                                    " evenly spread positions";
        out << pad(count_text(r.depth), 9) << pad(cell(r.sysv_copy.runs_ns), 20, true)
            << pad(cell(r.unix_walk.runs_ns), 21, true) << pad(cell(r.seqmq_list), 15, true)
            << pad(ratio(r.sysv_copy.runs_ns, r.seqmq_list), 12, true)
            << pad(ratio(r.unix_walk.runs_ns, r.seqmq_list), 15, true) << "   " << how << "\n";
        if (!r.sysv_skipped.empty())
            notes.push_back("SysV at " + count_text(r.depth) + ": " + r.sysv_skipped);
        if (!r.unix_walk.skipped.empty())
            notes.push_back("AF_UNIX at " + count_text(r.depth) + ": " + r.unix_walk.skipped);
        if (!r.seqmq_skipped.empty())
            notes.push_back("seqmq at " + count_text(r.depth) + ": " + r.seqmq_skipped);
    }
    for (const auto& n : notes)
        out << "  note: " << n << "\n";
    out << "  (seqmq: the backlog is in the mailbox's stash — stat() read it in, untimed — as "
           "SysV's is in the kernel's list.)\n";

    // Records and the plot.
    auto add = [&](const row& r, const std::string& peer, const std::string& metric,
                   const std::vector<double>& runs, std::size_t count, const std::string& note) {
        if (runs.empty())
            return;
        result_record rec;
        rec.suite = "depth";
        rec.peer = peer;
        rec.metric = metric;
        rec.size = message_size;
        rec.depth = r.depth;
        rec.count = count;
        rec.value = median(runs);
        rec.unit = "ns";
        rec.note = note;
        records.push_back(rec);
    };
    for (const auto& r : rows) {
        std::string sampled =
            r.depth <= s.full_walk_max
                ? ""
                : "extrapolated from " + std::to_string(r.sysv_copy.positions_timed) + " positions";
        add(r, "sysv-msgq", "tail_receive", r.sysv_tail, ops_per_repetition(r.depth), "");
        add(r, "seqmq-mailbox", "tail_receive", r.seqmq_tail, ops_per_repetition(r.depth), "");
        add(r, "sysv-msgq", "list_all", r.sysv_copy.runs_ns, r.sysv_copy.positions_timed, sampled);
        add(r, "unix-seqpacket", "list_all", r.unix_walk.runs_ns, r.unix_walk.positions_timed,
            sampled);
        add(r, "seqmq-mailbox", "list_all", r.seqmq_list, r.depth + 1, "");
    }
    return records;
}

std::string write_depth_plot(const std::vector<result_record>& records, const std::string& png,
                             const std::string& data_path, const std::string& title) {
    // One data column per series; rows by depth.
    const std::vector<std::pair<std::string, std::string>> series{
        {"sysv-msgq/tail_receive", "SysV msgrcv(type 2), tail"},
        {"seqmq-mailbox/tail_receive", "seqmq receive(of\\_type(2)), tail"},
        {"sysv-msgq/list_all", "SysV MSG\\_COPY 0..N (list all)"},
        {"unix-seqpacket/list_all", "AF\\_UNIX SO\\_PEEK\\_OFF walk (list all)"},
        {"seqmq-mailbox/list_all", "seqmq list() (list all)"},
    };
    std::map<std::size_t, std::map<std::string, double>> table;
    for (const auto& r : records)
        if (r.suite == "depth")
            table[r.depth][r.peer + "/" + r.metric] = r.value / 1000.0;
    if (table.size() < 2)
        return "plot not written: fewer than two depths measured";
    {
        std::ofstream data(data_path);
        if (!data)
            return "plot not written: cannot write " + data_path;
        data << "# depth";
        for (const auto& [key, label] : series)
            data << " " << key;
        data << "   (µs; ? = not measured)\n";
        for (const auto& [depth, values] : table) {
            data << depth;
            for (const auto& [key, label] : series) {
                auto it = values.find(key);
                data << " " << (it == values.end() ? std::string("?") : fixed(it->second, 4));
            }
            data << "\n";
        }
    }
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0)
        return "plot not written: gnuplot not found (apt-get install gnuplot-nox); data in " +
               data_path;
    std::string script_path = data_path + ".gp";
    {
        std::ofstream gp(script_path);
        gp << "set terminal pngcairo size 900,600 font 'sans,10'\n"
           << "set output '" << png << "'\n"
           << "set title \"" << title << "\"\n"
           << "set logscale xy\nset datafile missing '?'\n"
           << "set xlabel 'queue depth N (messages of 64 B waiting)'\n"
           << "set ylabel 'time per operation (µs)'\n"
           << "set format y '10^{%L}'\nset format x '10^{%L}'\n"
           << "set grid\nset key left top\n"
           << "plot ";
        const char* styles[] = {"lc rgb '#d62728' pt 7", "lc rgb '#1f77b4' pt 7",
                                "lc rgb '#ff7f0e' pt 5", "lc rgb '#7f7f7f' pt 9",
                                "lc rgb '#2ca02c' pt 5"};
        for (std::size_t i = 0; i < series.size(); ++i)
            gp << (i ? ", \\\n     " : "") << "'" << data_path << "' using 1:" << i + 2
               << " with linespoints lw 2 " << styles[i] << " title '" << series[i].second << "'";
        gp << "\n";
    }
    std::string command = "gnuplot '" + script_path + "' 2>&1";
    if (std::system(command.c_str()) != 0)
        return "plot not written: gnuplot failed (" + command + ")";
    return "plot written to " + png;
}

} // namespace seqmq_bench
