// The calling program's memory, read and written the way the kernel does it for a system call:
// a bad pointer is EFAULT, never a crash in the shim.
#pragma once

#include <cstddef>
#include <span>
#include <sys/types.h>
#include <sys/uio.h>

namespace seqmq::shim {

/// Copies the caller's memory `from` into ours, `to`, one part after the other, as far as it
/// can be read. Returns how many bytes were copied: all of them, or fewer when a part (and so
/// everything after it) is not readable — the kernel's copy_from_user would fail with EFAULT.
/// `self` is this process's pid (getpid()).
std::size_t read_user(pid_t self, std::span<const iovec> to, std::span<const iovec> from) noexcept;

/// Copies ours, `from`, into the caller's memory `to`, as far as it can be written. Returns
/// how many bytes were written (fewer than asked: copy_to_user's EFAULT).
std::size_t write_user(pid_t self, std::span<const iovec> to, std::span<const iovec> from) noexcept;

} // namespace seqmq::shim
