#pragma once

#include <bit>
#include <cstddef>
#include <cstring>

namespace seqmq::detail {

/// Writes `v` big-endian at `at` (sizeof v bytes): the wire's one byte order.
template <class T>
void put_big_endian(std::byte* at, T v) noexcept {
    if constexpr (std::endian::native == std::endian::little)
        v = std::byteswap(v);
    std::memcpy(at, &v, sizeof v);
}

/// Reads a big-endian T at `at`.
template <class T>
T get_big_endian(const std::byte* at) noexcept {
    T v;
    std::memcpy(&v, at, sizeof v);
    if constexpr (std::endian::native == std::endian::little)
        v = std::byteswap(v);
    return v;
}

} // namespace seqmq::detail
