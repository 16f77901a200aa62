// Two suites: many sender processes into one mailbox (throughput, next to SysV), and the steady
// state of one mailbox — heap allocations per message in send and receive, and the stash's
// peak bytes against its capacity.
#include "depth.hpp"
#include "sysv_calls.hpp"

#include <seqmq/address.hpp>
#include <seqmq/mailbox.hpp>
#include <seqmq/queue.hpp>
#include <seqmq/sender.hpp>
#include <seqmq/seqmq.h>

#include <array>
#include <csignal>
#include <ostream>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>

namespace seqmq_bench {
namespace {

constexpr std::size_t message_size = 64;
constexpr std::size_t queue_bytes = 16384; // Linux's msgmnb, seqmq's default capacity

// Runs `senders` child processes, each calling `send_all(count)` once its `connect()` is done
// and the parent says go; the parent runs `receive_all()`. Returns the seconds from go to the
// end of receive_all.
template <class Connect, class Receive>
double fan_in(std::size_t senders, std::size_t messages, Connect connect, Receive receive_all) {
    pipe_pair ready, go;
    std::vector<pid_t> children;
    std::fflush(nullptr);
    for (std::size_t k = 0; k < senders; ++k) {
        std::size_t share = messages / senders + (k < messages % senders ? 1 : 0);
        pid_t pid = ::fork();
        if (pid < 0)
            die_errno("fork");
        if (pid == 0) {
            int code = 0;
            ready.close_read();
            go.close_write();
            try {
                auto send_all = connect();
                ready.write_byte();
                if (!go.read_byte())
                    _exit(1);
                send_all(share);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "seqmq_bench: sender %zu: %s\n", k, e.what());
                code = 1;
            }
            _exit(code);
        }
        children.push_back(pid);
    }
    ready.close_write();
    go.close_read();
    auto reap = [&](bool kill) {
        bool ok = true;
        for (pid_t pid : children) {
            if (kill)
                ::kill(pid, SIGKILL);
            int status = 0;
            ::waitpid(pid, &status, 0);
            ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
        }
        return ok;
    };
    double seconds = 0;
    try {
        for (std::size_t k = 0; k < senders; ++k)
            if (!ready.read_byte())
                die("a sender process failed to connect");
        std::uint64_t t0 = now_ns();
        for (std::size_t k = 0; k < senders; ++k)
            go.write_byte();
        receive_all();
        seconds = double(now_ns() - t0) / 1e9;
    } catch (...) {
        reap(true);
        throw;
    }
    if (!reap(false))
        die("a sender process failed");
    return seconds;
}

seqmq::address mailbox_address(const std::string& what, unsigned serial) {
    auto a = seqmq::address::unix_abstract(
        "seqmq-bench-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(serial));
    if (!a)
        die("address: " + a.error().message());
    return *a;
}

struct mailbox_run {
    double rate = 0;
    std::size_t peak_bytes = 0, capacity = 0;
};

// `sample_every` > 0: stat() after that many receives, for the stash's peak bytes.
mailbox_run mailbox_fan_in(std::size_t senders, std::size_t messages, unsigned serial,
                           std::size_t sample_every = 0) {
    auto where = mailbox_address("fan-in", serial);
    seqmq::mailbox_options mo;
    mo.capacity = queue_bytes;
    auto box = seqmq::mailbox::open(where, mo);
    if (!box)
        die("mailbox::open: " + box.error().message());
    mailbox_run run;
    run.capacity = mo.capacity;
    double seconds = fan_in(
        senders, messages,
        [&] {
            // The child leaves its copy of the mailbox alone: it ends with _exit, so nothing
            // shuts down the parent's sockets.
            seqmq::sender_options so;
            so.wait_for_mailbox = std::chrono::seconds(10);
            auto c = seqmq::sender::connect(where, so);
            if (!c)
                die("sender::connect: " + c.error().message());
            return [to = std::make_shared<seqmq::sender>(std::move(*c))](std::size_t count) {
                std::array<std::byte, message_size> payload{};
                for (std::size_t i = 0; i < count; ++i)
                    if (auto r = to->send(1, payload); !r)
                        die("sender::send: " + r.error().message());
            };
        },
        [&] {
            std::array<std::byte, message_size> in{};
            for (std::size_t i = 0; i < messages; ++i) {
                auto r = box->receive(in);
                if (!r)
                    die("mailbox::receive: " + r.error().message());
                if (sample_every && i % sample_every == 0) {
                    auto st = box->stat();
                    if (!st)
                        die("mailbox::stat: " + st.error().message());
                    run.peak_bytes = std::max(run.peak_bytes, st->bytes);
                }
            }
        });
    run.rate = double(messages) / seconds;
    return run;
}

double sysv_fan_in(std::size_t senders, std::size_t messages) {
    int id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (id < 0)
        die_errno("msgget");
    struct message {
        long type;
        std::array<char, message_size> text;
    };
    double seconds = 0;
    try {
        msqid_ds ds{};
        if (::msgctl(id, IPC_STAT, &ds) != 0)
            die_errno("msgctl IPC_STAT");
        ds.msg_qbytes = queue_bytes;
        if (::msgctl(id, IPC_SET, &ds) != 0)
            die_errno("msgctl IPC_SET");
        seconds = fan_in(
            senders, messages,
            [&] {
                return [id](std::size_t count) {
                    message m{1, {}};
                    for (std::size_t i = 0; i < count; ++i)
                        while (::msgsnd(id, &m, message_size, 0) != 0)
                            if (errno != EINTR)
                                die_errno("msgsnd");
                };
            },
            [&] {
                message m{};
                for (std::size_t i = 0; i < messages; ++i)
                    while (::msgrcv(id, &m, message_size, 0, 0) < 0)
                        if (errno != EINTR)
                            die_errno("msgrcv");
            });
    } catch (...) {
        ::msgctl(id, IPC_RMID, nullptr);
        throw;
    }
    ::msgctl(id, IPC_RMID, nullptr);
    return double(messages) / seconds;
}

} // namespace

std::vector<result_record> run_senders_suite(const senders_settings& s, std::ostream& out) {
    std::vector<result_record> records;
    out << "\nMany senders into one queue (64 B, " << s.messages
        << " messages in all, shared evenly; one sender process each; capacity / msg_qbytes "
        << queue_bytes << "), median of " << s.repeat << "\n"
        << pad("senders", 9) << pad("SysV msg/s", 14, true) << pad("seqmq msg/s", 14, true)
        << pad("seqmq/SysV", 12, true) << "\n";
    unsigned serial = 0;
    for (std::size_t k : s.senders) {
        std::vector<double> sysv, seqmq;
        std::string failed;
        for (std::size_t rep = 0; rep < s.repeat && failed.empty(); ++rep) {
            try {
                if (s.sysv)
                    sysv.push_back(sysv_fan_in(k, s.messages));
                seqmq.push_back(mailbox_fan_in(k, s.messages, ++serial).rate);
            } catch (const std::exception& e) {
                failed = e.what();
            }
        }
        auto cell = [](const std::vector<double>& v) {
            return v.empty() ? std::string("—") : fixed(median(v) / 1e6, 3) + " M";
        };
        std::string ratio =
            sysv.empty() || seqmq.empty() ? "—" : fixed(median(seqmq) / median(sysv), 2) + "×";
        out << pad(std::to_string(k), 9) << pad(cell(sysv), 14, true) << pad(cell(seqmq), 14, true)
            << pad(ratio, 12, true) << "\n";
        if (!failed.empty())
            out << "  note: " << k << " senders failed: " << failed << "\n";
        for (auto [peer, runs] : {std::pair{"sysv-msgq", &sysv}, {"seqmq-mailbox", &seqmq}})
            if (!runs->empty()) {
                result_record r;
                r.suite = "senders";
                r.peer = peer;
                r.metric = "throughput";
                r.size = message_size;
                r.senders = k;
                r.count = s.messages;
                r.value = median(*runs);
                r.unit = "msg/s";
                records.push_back(r);
            }
    }
    return records;
}

std::vector<result_record> run_steady_state_suite(const steady_state_settings& s,
                                                  std::ostream& out) {
    std::vector<result_record> records;
    constexpr std::size_t batch = 32;
    const std::size_t warmup = 4096;
    const std::size_t messages = std::max<std::size_t>(batch, s.messages / batch * batch);
    std::array<std::byte, message_size> payload{}, in{};

    struct counts {
        std::uint64_t send = 0, receive_into = 0, receive_copy = 0;
        bool has_copy = true; // the endpoint has a receive() returning a copy
    };
    auto measure = [&](auto& send_one, auto& receive_into, auto& receive_copy) {
        counts c;
        for (std::size_t i = 0; i < warmup / batch; ++i) {
            for (std::size_t j = 0; j < batch; ++j)
                send_one();
            for (std::size_t j = 0; j < batch; ++j)
                j % 2 ? receive_into() : receive_copy();
        }
        for (std::size_t i = 0; i < messages / batch; ++i) {
            allocation_count::start();
            for (std::size_t j = 0; j < batch; ++j)
                send_one();
            c.send += allocation_count::stop();
            bool copy = i % 2;
            allocation_count::start();
            for (std::size_t j = 0; j < batch; ++j)
                copy ? receive_copy() : receive_into();
            (copy ? c.receive_copy : c.receive_into) += allocation_count::stop();
        }
        return c;
    };

    out << "\nSteady state (64 B, one process, batches of " << batch << " sends then " << batch
        << " receives, after " << warmup << " warm-up messages; " << messages
        << " measured): heap allocations per message\n"
        << pad("endpoint", 34) << pad("send", 8, true) << pad("receive(buffer)", 17, true)
        << pad("receive() copy", 16, true) << "\n";
    auto row = [&](const std::string& name, const counts& c) {
        double half = double(messages) / 2;
        out << pad(name, 34) << pad(fixed(double(c.send) / double(messages), 3), 8, true)
            << pad(fixed(double(c.receive_into) / half, 3), 17, true)
            << pad(c.has_copy ? fixed(double(c.receive_copy) / half, 3) : "—", 16, true) << "\n";
        for (auto [metric, value, n] :
             {std::tuple{"allocations_per_send", double(c.send), double(messages)},
              {"allocations_per_receive_into_buffer", double(c.receive_into), half},
              {"allocations_per_receive_copy", double(c.receive_copy), half}}) {
            result_record r;
            r.suite = "steady";
            r.peer = name;
            r.metric = metric;
            r.size = message_size;
            r.count = messages;
            r.value = value / n;
            r.unit = "allocations/message";
            if (c.has_copy || metric != std::string_view("allocations_per_receive_copy"))
                records.push_back(r);
        }
    };

    // The mailbox and its sender.
    try {
        auto where = mailbox_address("steady", 0);
        auto box = seqmq::mailbox::open(where);
        if (!box)
            die("mailbox::open: " + box.error().message());
        auto to = seqmq::sender::connect(where);
        if (!to)
            die("sender::connect: " + to.error().message());
        auto send_one = [&] {
            if (auto r = to->send(1, payload); !r)
                die("sender::send: " + r.error().message());
        };
        auto receive_into = [&] {
            if (auto r = box->receive(in); !r)
                die("mailbox::receive: " + r.error().message());
        };
        auto receive_copy = [&] {
            if (auto r = box->receive(); !r)
                die("mailbox::receive: " + r.error().message());
        };
        row("seqmq sender → mailbox", measure(send_one, receive_into, receive_copy));
    } catch (const std::exception& e) {
        out << "  note: mailbox: " << e.what() << "\n";
    }

    // A daemon-hosted queue, one handle sending and receiving.
    if (s.daemon) {
        try {
            seqmq::queue_options qo;
            qo.daemon = *seqmq::address::parse(*s.daemon);
            auto q = seqmq::queue::open("bench-steady-" + std::to_string(::getpid()),
                                        seqmq::open_flags::create, 0600, qo);
            if (!q)
                die("queue::open: " + q.error().message());
            auto send_one = [&] {
                if (auto r = q->send(1, payload); !r)
                    die("queue::send: " + r.error().message());
            };
            auto receive_into = [&] {
                if (auto r = q->receive(in); !r)
                    die("queue::receive: " + r.error().message());
            };
            auto receive_copy = [&] {
                if (auto r = q->receive(); !r)
                    die("queue::receive: " + r.error().message());
            };
            row("seqmq::queue (client, via seqmqd)", measure(send_one, receive_into, receive_copy));
            // The batch calls: send_many of 32, then receive_many until the 32 are back.
            std::vector<seqmq::outgoing_message> many(batch, {1, payload});
            std::vector<std::byte> room(batch * message_size);
            std::vector<seqmq::incoming_message> got(batch);
            auto batch_round = [&](counts& c) {
                allocation_count::start();
                if (auto r = q->send_many(many); !r || *r != batch)
                    die("queue::send_many: " + (r ? std::string("short") : r.error().message()));
                c.send += allocation_count::stop();
                allocation_count::start();
                for (std::size_t taken = 0; taken < batch;) {
                    auto r = q->receive_many(room, got);
                    if (!r)
                        die("queue::receive_many: " + r.error().message());
                    taken += *r;
                }
                c.receive_into += allocation_count::stop();
            };
            counts warm, c;
            for (std::size_t i = 0; i < warmup / batch; ++i)
                batch_round(warm);
            for (std::size_t i = 0; i < messages / batch; ++i)
                batch_round(c);
            c.receive_into /= 2; // the row divides receives by half the messages (two kinds)
            c.has_copy = false;
            row("seqmq::queue send_many/receive_many", c);
            (void)q->remove();
        } catch (const std::exception& e) {
            out << "  note: daemon queue: " << e.what() << "\n";
        }

        // msgsnd/msgrcv-shaped calls: the C API on a handle opened as the shim's, and the shim.
        // Neither has a receive returning a copy: each receive is counted as into a buffer.
        struct sysv_message {
            long type = 1;
            std::array<std::byte, message_size> text{};
        } sent, got;
        auto sysv_counts = [&](auto send_call, auto receive_call) {
            auto send_one = [&] {
                if (send_call(&sent, message_size) != 0)
                    die_errno("msgsnd");
            };
            auto receive_one = [&] {
                if (receive_call(&got, message_size) != ssize_t(message_size))
                    die_errno("msgrcv");
            };
            counts c = measure(send_one, receive_one, receive_one);
            c.has_copy = false;
            return c;
        };
        try {
            seqmq::queue_options qo;
            qo.daemon = *seqmq::address::parse(*s.daemon);
            const std::string name = "bench-steady-capi-" + std::to_string(::getpid());
            capi_handle h = open_capi_as_shim(name, qo);
            row("C API, handle as the shim's",
                sysv_counts(
                    [&](const void* m, std::size_t n) { return seqmq_msgsnd(h.get(), m, n, 0); },
                    [&](void* m, std::size_t n) { return seqmq_msgrcv(h.get(), m, n, 0, 0); }));
            (void)seqmq_msgctl(h.get(), IPC_RMID, nullptr);
        } catch (const std::exception& e) {
            out << "  note: C API: " << e.what() << "\n";
        }
        if (auto shim = sysv_shim::load(s.shim)) {
            try {
                const sysv_shim& calls = **shim;
                const int id = calls.msgget(IPC_PRIVATE, IPC_CREAT | 0600);
                if (id < 0)
                    die_errno("msgget (shim)");
                row("libseqmq-sysv.so msgsnd/msgrcv",
                    sysv_counts(
                        [&](const void* m, std::size_t n) { return calls.msgsnd(id, m, n, 0); },
                        [&](void* m, std::size_t n) { return calls.msgrcv(id, m, n, 0, 0); }));
                (void)calls.msgctl(id, IPC_RMID, nullptr);
            } catch (const std::exception& e) {
                out << "  note: shim: " << e.what() << "\n";
            }
        } else {
            out << "  note: shim: not measured (" << shim.error() << ")\n";
        }
    } else {
        out << "  note: daemon queue: not measured (no seqmqd)\n";
    }
    out << "  (receive() copy returns an owned std::vector by design: one allocation per message "
           "is its price; send_many/receive_many have no copy form.)\n";

    // The stash's peak under 16 senders.
    try {
        std::size_t n = std::max<std::size_t>(s.messages * 4, 20000);
        auto run = mailbox_fan_in(16, n, 1000, 16);
        out << "\nStash bytes under 16 senders (64 B, " << n
            << " messages, stat() after every 16 receives): peak " << run.peak_bytes << " of "
            << run.capacity << " capacity ("
            << fixed(100.0 * double(run.peak_bytes) / double(run.capacity), 1) << "%) — "
            << (run.peak_bytes <= run.capacity ? "never above" : "ABOVE") << " the capacity\n";
        result_record r;
        r.suite = "steady";
        r.peer = "seqmq-mailbox";
        r.metric = "stash_peak_bytes";
        r.size = message_size;
        r.senders = 16;
        r.count = n;
        r.value = double(run.peak_bytes);
        r.unit = "bytes";
        r.note = "capacity " + std::to_string(run.capacity);
        records.push_back(r);
    } catch (const std::exception& e) {
        out << "  note: stash peak: " << e.what() << "\n";
    }
    return records;
}

} // namespace seqmq_bench
