#include <seqmq/sender.hpp>

#include "log.hpp"
#include "store/sysv_rules.hpp"
#include "sys/aligned_buffer.hpp"
#include "transport/transport.hpp"
#include "wire/frame.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <thread>

namespace seqmq {

using namespace detail;

namespace {

std::unexpected<std::error_code> fail(std::errc e) {
    return std::unexpected(std::make_error_code(e));
}

} // namespace

struct sender::impl {
    address where;
    const transport* via;
    unique_fd fd;
    std::uint64_t sequence = 1;
    std::size_t max_message_size;
    bool told = false;        // the mailbox's hello has been read
    bool established = false; // a send has gone through: ENOTCONN now means gone
    std::error_code cut_for;  // why the mailbox cut us, once it said so
    aligned_buffer buffer;    // header + payload, one record

    impl(const address& a, const transport* t, unique_fd f, std::size_t max)
        : where(a), via(t), fd(std::move(f)), max_message_size(max),
          buffer(frame_header::size + max) {}

    ~impl() {
        if (fd)
            via->close_connection(std::move(fd));
    }

    // Reads the notices the mailbox has sent (hello, closing) without waiting.
    void read_notices() {
        std::array<std::byte, 64> in;
        for (;;) {
            ssize_t n =
                retry_eintr([&] { return ::recv(fd.get(), in.data(), in.size(), MSG_DONTWAIT); });
            if (n <= 0)
                return;
            auto notice = decode_notice(std::span(in.data(), std::size_t(n)));
            if (!notice) {
                log().warn("sender {}: ignoring a malformed notice: {}", where.to_string(),
                           to_string(notice.error()));
                continue;
            }
            if (notice->op == mailbox_control::hello) {
                told = true;
                adopt_limit(notice->first);
            } else if (notice->op == mailbox_control::closing) {
                const int reason = int(notice->first);
                cut_for = reason == EMSGSIZE ? std::make_error_code(std::errc::message_size)
                          : reason == EACCES ? std::make_error_code(std::errc::permission_denied)
                          : reason == EUSERS ? std::error_code(EUSERS, std::generic_category())
                                             : make_error_code(errc::bad_frame);
                adopt_limit(notice->second);
            }
        }
    }

    void adopt_limit(std::uint64_t limit) {
        std::size_t max = std::min<std::size_t>(limit, via->max_payload());
        if (max == max_message_size)
            return;
        if (max > max_message_size)
            buffer = aligned_buffer(frame_header::size + max);
        max_message_size = max;
    }

    // Checks what a send must refuse before anything goes out.
    result<void> check(long type, std::size_t size) {
        if (!told)
            read_notices(); // the mailbox's own maximum may have come meanwhile, or a refusal
        if (cut_for)
            return std::unexpected(cut_for);
        if (auto e = sysv::send_error(sysv::check_send(type, size, max_message_size)))
            return std::unexpected(e);
        return {};
    }

    // Frames one message in the buffer as a data record; returns the record's length.
    std::size_t frame_single(long type, std::span<const std::byte> payload) {
        encode(frame_header{frame_kind::data, std::uint32_t(payload.size()), sequence, type},
               std::span(buffer.data(), frame_header::size).first<frame_header::size>());
        if (!payload.empty())
            std::memcpy(buffer.data() + frame_header::size, payload.data(), payload.size());
        return frame_header::size + payload.size();
    }

    // Sends the record of `length` bytes in the buffer, which carries `count` messages.
    result<void> transmit(std::size_t length, std::uint64_t count, send_flags flags,
                          const deadline& until) {
        auto sent = send_record(fd.get(), std::span(buffer.data(), length), established, until,
                                flags & send_flags::nowait);
        if (sent) {
            sequence += count;
            return {};
        }
        const auto& err = sent.error();
        if (err == std::errc::broken_pipe || err == std::errc::connection_reset ||
            err == std::errc::not_connected) {
            read_notices();
            return std::unexpected(cut_for ? cut_for : make_error_code(errc::mailbox_closed));
        }
        return sent;
    }

    result<void> send(long type, std::span<const std::byte> payload, send_flags flags,
                      timeout limit) {
        if (auto ok = check(type, payload.size()); !ok)
            return ok;
        return transmit(frame_single(type, payload), 1, flags, deadline(limit));
    }

    // Packs messages[from..] into one record: a batch of as many as fit the mailbox's maximum
    // message size, or a single data record. Returns the record's length and message count.
    std::pair<std::size_t, std::size_t> frame_batch(std::span<const outgoing_message> messages) {
        std::size_t count = 0, bytes = 0;
        for (const auto& m : messages) {
            if (bytes + batch_entry::header_size + m.payload.size() > max_message_size)
                break;
            bytes += batch_entry::header_size + m.payload.size();
            ++count;
        }
        if (count <= 1) // alone, or too big for a batch: no entry header needed
            return {frame_single(messages[0].type, messages[0].payload), 1};
        std::byte* at = buffer.data() + frame_header::size;
        for (const auto& m : messages.first(count)) {
            encode_batch_entry(at, m.type, std::uint32_t(m.payload.size()));
            at += batch_entry::header_size;
            if (!m.payload.empty())
                std::memcpy(at, m.payload.data(), m.payload.size());
            at += m.payload.size();
        }
        encode(frame_header{frame_kind::data_batch, std::uint32_t(bytes), sequence,
                            std::int64_t(count)},
               std::span(buffer.data(), frame_header::size).first<frame_header::size>());
        return {frame_header::size + bytes, count};
    }

    result<std::size_t> send_many(std::span<const outgoing_message> messages, send_flags flags,
                                  timeout limit) {
        for (const auto& m : messages)
            if (auto ok = check(m.type, m.payload.size()); !ok)
                return std::unexpected(ok.error());
        const deadline until(limit);
        std::size_t sent = 0;
        while (sent < messages.size()) {
            auto [length, count] = frame_batch(messages.subspan(sent));
            if (auto r = transmit(length, count, flags, until); !r) {
                if (sent == 0)
                    return std::unexpected(r.error());
                return sent; // the error shows again on the next call
            }
            sent += count;
        }
        return sent;
    }
};

sender::sender(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
sender::sender(sender&&) noexcept = default;
sender& sender::operator=(sender&&) noexcept = default;
sender::~sender() = default;

result<sender> sender::connect(const address& where_given, const sender_options& options) {
    const address where = where_given.resolve();
    auto via = transport_for(where);
    if (!via)
        return std::unexpected(via.error());
    if (options.max_message_size == 0 || options.max_message_size > (*via)->max_payload())
        return fail(std::errc::invalid_argument);

    auto fd = connect_waiting(**via, where, options.wait_for_mailbox);
    if (!fd)
        return std::unexpected(fd.error());
    if (options.require_owner) {
        const peer_identity owner = (*via)->peer(fd->get());
        if (!owner.has_credentials)
            return fail(std::errc::operation_not_supported);
        if (owner.uid != *options.require_owner) {
            log().warn("sender {}: the mailbox there runs as uid {}, not uid {}: not sending",
                       where.to_string(), owner.uid, *options.require_owner);
            return fail(std::errc::permission_denied);
        }
    }
    return sender(std::make_unique<impl>(where, *via, std::move(*fd), options.max_message_size));
}

result<void> sender::send(long type, std::span<const std::byte> payload, send_flags flags,
                          timeout limit) {
    return impl_->send(type, payload, flags, limit);
}

result<std::size_t> sender::send_many(std::span<const outgoing_message> messages, send_flags flags,
                                      timeout limit) {
    return impl_->send_many(messages, flags, limit);
}

std::size_t sender::max_message_size() const noexcept {
    return impl_->max_message_size;
}

int sender::native_handle() const noexcept {
    return impl_->fd.get();
}

} // namespace seqmq
