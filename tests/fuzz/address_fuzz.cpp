// fuzz_address: the address parser (seqmq::address::parse), which reads SEQMQ_DAEMON and every
// address a program is given, and TIPC node identities (seqmq::tipc::node_identity), parsed
// from text and built from the 16 bytes the kernel sends. The input is the text; its first 16
// bytes are also taken as an identity's bytes.
//
// Invariants (the ones their headers promise): an address that parses has a canonical text form
// that parses back to an equal address and is its own canonical form; an error is one of the
// parser's named conditions and equals invalid_argument; a non-empty identity's to_string()
// parses back to an equal identity.
#include "fuzz_support.hpp"

#include <seqmq/address.hpp>
#include <seqmq/error.hpp>
#include <seqmq/tipc.hpp>

#include <cstring>
#include <string_view>
#include <system_error>

namespace {

void check_address(std::string_view text) {
    auto a = seqmq::address::parse(text);
    if (!a) {
        SEQMQ_FUZZ_EXPECT(a.error() == std::errc::invalid_argument);
        const auto e = seqmq::errc(a.error().value());
        SEQMQ_FUZZ_EXPECT(a.error().category() == seqmq::category());
        SEQMQ_FUZZ_EXPECT(e == seqmq::errc::bad_scheme || e == seqmq::errc::bad_unix_path ||
                          e == seqmq::errc::bad_abstract_name || e == seqmq::errc::bad_tipc_type ||
                          e == seqmq::errc::reserved_tipc_type ||
                          e == seqmq::errc::bad_tipc_instance || e == seqmq::errc::bad_tipc_scope ||
                          e == seqmq::errc::bad_auto_name);
        return;
    }
    const std::string canonical = a->to_string();
    auto again = seqmq::address::parse(canonical);
    SEQMQ_FUZZ_EXPECT(again.has_value());
    SEQMQ_FUZZ_EXPECT(*again == *a);
    SEQMQ_FUZZ_EXPECT(again->to_string() == canonical);
    switch (a->family()) {
    case seqmq::address_family::unix_path:
        SEQMQ_FUZZ_EXPECT(!a->name().empty() && a->name().front() == '/');
        SEQMQ_FUZZ_EXPECT(a->name().size() <= 107); // sun_path with its NUL
        break;
    case seqmq::address_family::unix_abstract:
        SEQMQ_FUZZ_EXPECT(!a->name().empty() && a->name().size() <= 106);
        break;
    case seqmq::address_family::tipc:
        SEQMQ_FUZZ_EXPECT(a->tipc_type() >= 64);
        break;
    case seqmq::address_family::automatic:
        SEQMQ_FUZZ_EXPECT(seqmq::address::auto_tipc_type(a->name()) >= 0x80000000u);
        break;
    }
    SEQMQ_FUZZ_EXPECT(a->name().find('\0') == std::string::npos);
}

void check_identity_text(std::string_view text) {
    auto id = seqmq::tipc::node_identity::parse(text);
    if (!id) {
        SEQMQ_FUZZ_EXPECT(id.error() == std::errc::invalid_argument);
        return;
    }
    SEQMQ_FUZZ_EXPECT(!id->empty());
    auto again = seqmq::tipc::node_identity::parse(id->to_string());
    SEQMQ_FUZZ_EXPECT(again.has_value() && *again == *id);
}

void check_identity_bytes(std::span<const std::uint8_t> raw) {
    seqmq::tipc::node_identity::bytes_type bytes{};
    std::memcpy(bytes.data(), raw.data(), std::min(raw.size(), bytes.size()));
    const seqmq::tipc::node_identity id(bytes);
    SEQMQ_FUZZ_EXPECT(id.hex().size() == 32);
    if (id.empty())
        return;
    if (auto name = id.name())
        SEQMQ_FUZZ_EXPECT(!name->empty() && name->size() <= 16);
    auto again = seqmq::tipc::node_identity::parse(id.to_string());
    SEQMQ_FUZZ_EXPECT(again.has_value() && *again == id);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    check_address(text);
    check_identity_text(text);
    check_identity_bytes(std::span(data, size));
    return 0;
}
