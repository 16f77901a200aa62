#!/usr/bin/python3
"""Python's sysv_ipc (Debian python3-sysv-ipc) driving System V queues: one line per call,
deterministic, the same on the kernel and under libseqmq-sysv.so (test_shim compares them)."""
import os
import sysv_ipc as ipc

KEY = 0x5E9A0066


def attempt(what, call):
    try:
        result = call()
        print(f"{what}: ok" + ("" if result is None else f" {result}"))
        return result
    except ipc.ExistentialError as e:
        print(f"{what}: ExistentialError")
    except ipc.BusyError:
        print(f"{what}: BusyError")
    except ipc.PermissionsError:
        print(f"{what}: PermissionsError")
    except ipc.Error as e:
        print(f"{what}: {type(e).__name__}")
    except OSError as e:
        print(f"{what}: OSError {e.errno}")
    return None


q = ipc.MessageQueue(KEY, ipc.IPC_CREX, 0o600)
print("create key: ok")
attempt("create again, exclusive", lambda: ipc.MessageQueue(KEY, ipc.IPC_CREX, 0o600) and None)
same = ipc.MessageQueue(KEY)
print("open existing: same id", same.id == q.id)
attempt("open missing", lambda: ipc.MessageQueue(KEY + 1) and None)

for t in (1, 2, 3):
    attempt(f"send type {t}", lambda t=t: q.send(f"song {t}".encode(), block=False, type=t))
attempt("send type 2 again", lambda: q.send(b"encore", block=False, type=2))
print("current_messages", q.current_messages, "max_size", q.max_size,
      "mode", oct(q.mode & 0o777), "uid is me", q.uid == os.geteuid(),
      "last_send_pid is me", q.last_send_pid == os.getpid())

attempt("receive type 2", lambda: q.receive(block=False, type=2))
attempt("receive lowest <= 3", lambda: q.receive(block=False, type=-3))
attempt("receive any", lambda: q.receive(block=False))
attempt("receive any", lambda: q.receive(block=False))
attempt("receive from empty", lambda: q.receive(block=False))

# A byte limit reached: max_size (msg_qbytes) 64, then sends until BusyError.
q.max_size = 64
print("max_size now", q.max_size)
sent = 0
while True:
    try:
        q.send(b"x" * 10, block=False, type=1)
        sent += 1
    except ipc.BusyError:
        break
print("sent before full", sent, "current_messages", q.current_messages)

p = attempt("private queue", lambda: ipc.MessageQueue(None, ipc.IPC_CREX) and None)
attempt("remove key", lambda: q.remove())
attempt("send after remove", lambda: q.send(b"late", block=False))
print("== done")
