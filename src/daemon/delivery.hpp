// A queue's delivery socket: the I/O half of kernel-arbitrated delivery. The daemon copies the
// head of a queue, in order, into one end of a SOCK_SEQPACKET socketpair; receivers that hold
// the other end (passed to them with SCM_RIGHTS) each take one whole record per recv, and the
// kernel decides who gets which — no request, no reply. The daemon keeps the receiving end
// too: SIOCINQ tells it how many bytes are still unread (so which records were taken: they go
// from the head), and reading from it takes back whatever is unread at any moment. Every
// message is so in exactly one place: in the queue (and perhaps copied into the socket), or
// taken by exactly one receiver. The socket's send buffer bounds the window; the kernel wakes
// the daemon (EPOLLOUT) when receivers have drained it to a quarter.
#pragma once

#include "store/message_store.hpp"
#include "sys/fd.hpp"
#include "wire/daemon_protocol.hpp"

#include <seqmq/error.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace seqmq::daemon {

class delivery_socket {
public:
    /// A socketpair whose writing end holds at most `window_bytes` (SO_SNDBUF, as the kernel
    /// counts it). Errors: the errno of socketpair or setsockopt.
    static result<std::unique_ptr<delivery_socket>> create(std::size_t window_bytes);

    int reading_end() const noexcept { return reader_.get(); }
    int writing_end() const noexcept { return writer_.get(); }

    enum class written { yes, full };
    /// Copies `m` into the socket as a delivery record. `full`: the window is full (nothing
    /// written); the socket is writable again once receivers have drained it.
    written write(const detail::queued_message& m);
    /// Writes an `ask` record (its taker makes a request of its receive) or a `too_long` one
    /// (its taker's receive fails with E2BIG).
    written write_ask(detail::proto::opcode op = detail::proto::opcode::ask);

    struct taken_records {
        std::size_t messages = 0, others = 0; ///< messages, and ask or too_long records
    };
    /// The records written that are no longer in the socket: receivers took them, from the
    /// oldest. They are forgotten here.
    taken_records taken();

    /// Reads back every record still unread and appends their arrival numbers, oldest first,
    /// to `returned`. After it the socket is empty, and the next record starts a new epoch.
    void reclaim(std::vector<std::uint64_t>& returned);
    /// The next record starts a new epoch (its number is 1).
    void new_epoch() noexcept {
        ++epoch_;
        number_ = 0;
    }

    std::size_t records() const noexcept { return count_; } ///< written, not known taken
    std::size_t asks() const noexcept { return asks_; }     ///< ... of them `ask` records
    bool armed = false; ///< EPOLLOUT is asked for (the window was full)

private:
    delivery_socket(detail::unique_fd writer, detail::unique_fd reader)
        : writer_(std::move(writer)), reader_(std::move(reader)) {}
    enum class kind : std::uint32_t { message = 0, ask = 1u << 31, notice = 1u << 30 };
    written send_record(kind k);
    void write_header(std::int64_t type, std::uint64_t sequence, pid_t sender, bool ask);
    void push_size(std::uint32_t size, kind k);
    kind pop_size() noexcept;
    static constexpr std::uint32_t kind_bits = 3u << 30;

    detail::unique_fd writer_, reader_;
    // Sizes of the records written and not known taken, oldest first, in a ring that grows to
    // the largest window once and is then reused.
    std::vector<std::uint32_t> sizes_;
    std::size_t head_ = 0, count_ = 0;
    std::size_t unread_bytes_ = 0; // their sum: what SIOCINQ says while none is taken
    std::size_t asks_ = 0;
    std::uint32_t epoch_ = 1, number_ = 0; // of the last record written
    std::vector<std::byte> record_;
};

} // namespace seqmq::daemon
