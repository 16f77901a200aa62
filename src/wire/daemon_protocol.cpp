#include "wire/daemon_protocol.hpp"

#include "wire/byte_order.hpp"

#include <cstring>

namespace seqmq::detail::proto {
namespace {

template <class T>
void put(std::vector<std::byte>& out, T v) {
    out.resize(out.size() + sizeof v);
    put_big_endian(out.data() + out.size() - sizeof v, v);
}

constexpr std::uint32_t all_open_bits =
    open_create | open_exclusive | open_private | open_by_id | open_no_credit;
constexpr std::uint32_t all_op_bits = op_nowait | op_noerror | op_except;
constexpr std::uint32_t all_set_bits = set_mode | set_uid | set_gid | set_capacity;

} // namespace

std::string_view to_string(opcode op) noexcept {
    switch (op) {
    case opcode::open:
        return "open";
    case opcode::send:
        return "send";
    case opcode::receive:
        return "receive";
    case opcode::peek:
        return "peek";
    case opcode::peek_at:
        return "peek_at";
    case opcode::list:
        return "list";
    case opcode::stat:
        return "stat";
    case opcode::set:
        return "set";
    case opcode::remove:
        return "remove";
    case opcode::info:
        return "info";
    case opcode::list_queues:
        return "list_queues";
    case opcode::cancel:
        return "cancel";
    case opcode::release:
        return "release";
    case opcode::ack:
        return "ack";
    case opcode::sync:
        return "sync";
    case opcode::receive_many:
        return "receive_many";
    case opcode::ack_many:
        return "ack_many";
    case opcode::send_many:
        return "send_many";
    case opcode::attach:
        return "attach";
    case opcode::taken:
        return "taken";
    case opcode::wait_delivery:
        return "wait_delivery";
    case opcode::stat_index:
        return "stat_index";
    case opcode::grant:
        return "grant";
    case opcode::revoke:
        return "revoke";
    case opcode::removed:
        return "removed";
    case opcode::closing:
        return "closing";
    case opcode::ask:
        return "ask";
    case opcode::too_long:
        return "too_long";
    }
    return "unknown";
}

// --- writer / reader ---------------------------------------------------------------------------

writer& writer::u16(std::uint16_t v) {
    put(out_, v);
    return *this;
}
writer& writer::u32(std::uint32_t v) {
    put(out_, v);
    return *this;
}
writer& writer::u64(std::uint64_t v) {
    put(out_, v);
    return *this;
}
writer& writer::bytes(std::span<const std::byte> b) {
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
}

bool reader::take(std::size_t n) noexcept {
    if (!ok_ || in_.size() - at_ < n) {
        ok_ = false;
        return false;
    }
    return true;
}

template <class T>
T reader::number() {
    if (!take(sizeof(T)))
        return 0;
    auto v = get_big_endian<T>(in_.data() + at_);
    at_ += sizeof(T);
    return v;
}

std::uint16_t reader::u16() {
    return number<std::uint16_t>();
}
std::uint32_t reader::u32() {
    return number<std::uint32_t>();
}
std::uint64_t reader::u64() {
    return number<std::uint64_t>();
}
std::span<const std::byte> reader::bytes(std::size_t n) {
    if (!take(n))
        return {};
    auto s = in_.subspan(at_, n);
    at_ += n;
    return s;
}
std::span<const std::byte> reader::rest() {
    if (!ok_)
        return {};
    auto s = in_.subspan(at_);
    at_ = in_.size();
    return s;
}

// --- records -----------------------------------------------------------------------------------

std::vector<std::byte> start_record(frame_kind kind, std::int64_t type, std::uint64_t sequence) {
    std::vector<std::byte> r;
    start_record(r, kind, type, sequence);
    return r;
}

void start_record(std::vector<std::byte>& out, frame_kind kind, std::int64_t type,
                  std::uint64_t sequence) {
    out.resize(frame_header::size);
    encode(frame_header{kind, 0, sequence, type},
           std::span(out.data(), frame_header::size).first<frame_header::size>());
}

void start_reply(std::vector<std::byte>& out, opcode op, std::uint64_t sequence, int error) {
    start_record(out, frame_kind::control_reply, static_cast<std::int64_t>(op), sequence);
    writer(out).i32(error).u32(0);
}

std::vector<std::byte>& finish_record(std::vector<std::byte>& record) {
    auto length = static_cast<std::uint32_t>(record.size() - frame_header::size);
    if constexpr (std::endian::native == std::endian::little)
        length = std::byteswap(length);
    std::memcpy(record.data() + 4, &length, sizeof length);
    return record;
}

std::vector<std::byte> start_reply(opcode op, std::uint64_t sequence, int error) {
    auto r = start_record(frame_kind::control_reply, static_cast<std::int64_t>(op), sequence);
    writer(r).i32(error).u32(0);
    return r;
}

// --- encoders ----------------------------------------------------------------------------------

void encode(writer& w, const open_request& r) {
    w.u32(r.flags).u32(r.mode).u64(r.capacity).u64(r.id).text(r.name);
}
void encode(writer& w, const open_reply& r) {
    w.u64(r.id).u64(r.max_message_size).u64(r.capacity);
}
void encode(writer& w, const send_request& r) {
    w.i64(r.type).u32(r.flags).u32(0).bytes(r.text);
}
void encode(writer& w, const receive_request& r) {
    w.i64(r.type).u32(r.flags).u32(0).u64(r.buffer);
}
void encode(writer& w, const send_many_request& r) {
    w.u32(r.flags).u32(r.count).bytes(r.entries);
}
void encode(writer& w, const receive_many_request& r) {
    w.i64(r.type).u32(r.flags).u32(0).u64(r.buffer).u32(r.count).u32(0);
}
void encode(writer& w, const batch_header& r) {
    w.u32(r.count).u32(0);
}
void encode(writer& w, const ack_many_body& r) {
    w.u64(r.count).u64(r.last_arrival);
}
void encode(writer& w, const peek_request& r) {
    w.i64(r.type).u32(r.flags).u32(0);
}
void encode(writer& w, const message_body& r) {
    w.i64(r.type).u64(r.arrival).i32(r.sender_pid).u32(r.size).bytes(r.data);
}
void encode(writer& w, const list_request& r) {
    w.u32(r.flags).u32(r.max_data);
}
void encode(writer& w, const list_part_header& r) {
    w.u32(r.total).u32(r.count).u32(r.last ? 1 : 0).u32(0);
}
void encode_entry(writer& w, const message_body& r) {
    w.i64(r.type).u64(r.arrival).i32(r.sender_pid).u32(r.size);
    w.u32(static_cast<std::uint32_t>(r.data.size())).bytes(r.data);
}
void encode(writer& w, const stat_body& r) {
    w.u64(r.id).u32(r.mode).u32(r.uid).u32(r.gid).u32(r.cuid).u32(r.cgid).u32(0);
    w.u64(r.count).u64(r.bytes).u64(r.capacity).u64(r.max_message_size);
    w.i32(r.last_send_pid).i32(r.last_receive_pid);
    w.i64(r.send_time).i64(r.receive_time).i64(r.change_time);
    w.u32(r.waiting_receivers).u32(r.waiting_senders);
    w.u16(static_cast<std::uint16_t>(r.name.size())).text(r.name);
}
void encode(writer& w, const stat_index_request& r) {
    w.u32(r.index).u32(r.flags);
}
void encode(writer& w, const set_request& r) {
    w.u32(r.which).u32(r.mode).u32(r.uid).u32(r.gid).u64(r.capacity);
}
void encode(writer& w, const info_body& r) {
    w.u64(r.queues).u64(r.messages).u64(r.bytes).u64(r.clients).u64(r.protocol_errors);
    w.u64(r.max_queues).u64(r.max_queue_bytes).u64(r.max_message_size).u64(r.max_clients);
    w.u64(r.memory).u64(r.max_memory).u64(r.default_capacity).i64(r.highest_index);
    w.u32(r.sync_policy).u32(r.sync_interval_ms).u64(r.store_bytes).u64(r.store_used);
    w.i64(r.last_sync).text(r.state_dir);
}
void encode(writer& w, const grant_body& r) {
    w.u64(r.bytes).u64(r.messages).u64(r.upto);
}

// --- decoders ----------------------------------------------------------------------------------

std::optional<open_request> decode_open_request(std::span<const std::byte> in) {
    reader r(in);
    open_request o;
    o.flags = r.u32();
    o.mode = r.u32();
    o.capacity = r.u64();
    o.id = r.u64();
    auto name = r.rest();
    if (!r.done() || (o.flags & ~all_open_bits) || (o.mode & ~0777u) ||
        name.size() > max_name_length)
        return std::nullopt;
    o.name.assign(reinterpret_cast<const char*>(name.data()), name.size());
    if (o.name.find('\0') != std::string::npos)
        return std::nullopt;
    // Exactly one way to name the queue.
    const bool by_name = !o.name.empty();
    const bool is_private = o.flags & open_private, by_id = o.flags & open_by_id;
    if (int(by_name) + int(is_private) + int(by_id) != 1)
        return std::nullopt;
    if (!by_id && o.id != 0)
        return std::nullopt;
    return o;
}

std::optional<open_reply> decode_open_reply(reader& r) {
    open_reply o{r.u64(), r.u64(), r.u64()};
    if (!r.done())
        return std::nullopt;
    return o;
}

std::optional<send_request> decode_send_request(std::span<const std::byte> in) {
    reader r(in);
    send_request s;
    s.type = r.i64();
    s.flags = r.u32();
    auto zero = r.u32();
    s.text = r.rest();
    if (!r.done() || zero != 0 || (s.flags & ~std::uint32_t(op_nowait)))
        return std::nullopt;
    return s;
}

std::optional<receive_request> decode_receive_request(std::span<const std::byte> in) {
    reader r(in);
    receive_request q;
    q.type = r.i64();
    q.flags = r.u32();
    auto zero = r.u32();
    q.buffer = r.u64();
    if (!r.done() || zero != 0 || (q.flags & ~all_op_bits))
        return std::nullopt;
    return q;
}

std::optional<send_many_request> decode_send_many_request(std::span<const std::byte> in) {
    reader r(in);
    send_many_request q;
    q.flags = r.u32();
    q.count = r.u32();
    q.entries = r.rest();
    if (!r.done() || q.count == 0 || (q.flags & ~std::uint32_t(op_nowait)))
        return std::nullopt;
    return q;
}

std::optional<receive_many_request> decode_receive_many_request(std::span<const std::byte> in) {
    reader r(in);
    receive_many_request q;
    q.type = r.i64();
    q.flags = r.u32();
    auto zero = r.u32();
    q.buffer = r.u64();
    q.count = r.u32();
    auto zero2 = r.u32();
    if (!r.done() || zero != 0 || zero2 != 0 || q.count == 0 || (q.flags & ~all_op_bits))
        return std::nullopt;
    return q;
}

std::optional<batch_header> decode_batch_header(reader& r) {
    batch_header h;
    h.count = r.u32();
    auto zero = r.u32();
    if (!r.ok() || zero != 0 || h.count == 0)
        return std::nullopt;
    return h;
}

std::optional<ack_many_body> decode_ack_many(std::span<const std::byte> in) {
    reader r(in);
    ack_many_body a{r.u64(), r.u64()};
    if (!r.done() || a.count == 0)
        return std::nullopt;
    return a;
}

std::optional<peek_request> decode_peek_request(std::span<const std::byte> in) {
    reader r(in);
    peek_request q;
    q.type = r.i64();
    q.flags = r.u32();
    auto zero = r.u32();
    if (!r.done() || zero != 0 || (q.flags & ~std::uint32_t(op_except)))
        return std::nullopt;
    return q;
}

std::optional<message_body> decode_message(reader& r) {
    message_body m;
    m.type = r.i64();
    m.arrival = r.u64();
    m.sender_pid = r.i32();
    m.size = r.u32();
    m.data = r.rest();
    if (!r.done() || m.data.size() > m.size)
        return std::nullopt;
    return m;
}

std::optional<list_request> decode_list_request(std::span<const std::byte> in) {
    reader r(in);
    list_request q{r.u32(), r.u32()};
    if (!r.done() || (q.flags & ~std::uint32_t(list_with_data)))
        return std::nullopt;
    return q;
}

std::optional<list_part_header> decode_list_part(reader& r) {
    list_part_header h;
    h.total = r.u32();
    h.count = r.u32();
    auto last = r.u32();
    auto zero = r.u32();
    if (!r.ok() || last > 1 || zero != 0 || h.count > h.total)
        return std::nullopt;
    h.last = last == 1;
    return h;
}

std::optional<message_body> decode_entry(reader& r) {
    message_body m;
    m.type = r.i64();
    m.arrival = r.u64();
    m.sender_pid = r.i32();
    m.size = r.u32();
    auto n = r.u32();
    m.data = r.bytes(n);
    if (!r.ok() || n > m.size)
        return std::nullopt;
    return m;
}

std::optional<stat_body> decode_stat(reader& r) {
    stat_body s;
    s.id = r.u64();
    s.mode = r.u32();
    s.uid = r.u32();
    s.gid = r.u32();
    s.cuid = r.u32();
    s.cgid = r.u32();
    auto zero = r.u32();
    s.count = r.u64();
    s.bytes = r.u64();
    s.capacity = r.u64();
    s.max_message_size = r.u64();
    s.last_send_pid = r.i32();
    s.last_receive_pid = r.i32();
    s.send_time = r.i64();
    s.receive_time = r.i64();
    s.change_time = r.i64();
    s.waiting_receivers = r.u32();
    s.waiting_senders = r.u32();
    auto n = r.u16();
    auto name = r.bytes(n);
    if (!r.ok() || zero != 0 || n > max_name_length)
        return std::nullopt;
    s.name.assign(reinterpret_cast<const char*>(name.data()), name.size());
    return s;
}

std::optional<stat_index_request> decode_stat_index_request(std::span<const std::byte> in) {
    reader r(in);
    stat_index_request s;
    s.index = r.u32();
    s.flags = r.u32();
    if (!r.done() || (s.flags & ~std::uint32_t(stat_any)))
        return std::nullopt;
    return s;
}

std::optional<set_request> decode_set_request(std::span<const std::byte> in) {
    reader r(in);
    set_request s;
    s.which = r.u32();
    s.mode = r.u32();
    s.uid = r.u32();
    s.gid = r.u32();
    s.capacity = r.u64();
    if (!r.done() || (s.which & ~all_set_bits))
        return std::nullopt;
    return s;
}

std::optional<info_body> decode_info(reader& r) {
    info_body i;
    i.queues = r.u64();
    i.messages = r.u64();
    i.bytes = r.u64();
    i.clients = r.u64();
    i.protocol_errors = r.u64();
    i.max_queues = r.u64();
    i.max_queue_bytes = r.u64();
    i.max_message_size = r.u64();
    i.max_clients = r.u64();
    i.memory = r.u64();
    i.max_memory = r.u64();
    i.default_capacity = r.u64();
    i.highest_index = r.i64();
    i.sync_policy = r.u32();
    i.sync_interval_ms = r.u32();
    i.store_bytes = r.u64();
    i.store_used = r.u64();
    i.last_sync = r.i64();
    auto dir = r.rest();
    if (!r.done() || i.highest_index < -1 || i.sync_policy > 3 ||
        (i.sync_policy == 0) != dir.empty() || dir.size() > 4096)
        return std::nullopt;
    i.state_dir.assign(reinterpret_cast<const char*>(dir.data()), dir.size());
    return i;
}

std::optional<grant_body> decode_grant(std::span<const std::byte> in) {
    reader r(in);
    grant_body c{r.u64(), r.u64(), r.u64()};
    if (!r.done())
        return std::nullopt;
    return c;
}

std::optional<std::uint64_t> decode_u64(std::span<const std::byte> in) {
    reader r(in);
    auto v = r.u64();
    if (!r.done())
        return std::nullopt;
    return v;
}

std::optional<int> decode_result(reader& r) {
    auto error = r.i32();
    auto zero = r.u32();
    if (!r.ok() || zero != 0 || error < 0)
        return std::nullopt;
    return error;
}

} // namespace seqmq::detail::proto
