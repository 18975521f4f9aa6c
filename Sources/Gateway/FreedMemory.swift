#if canImport(Glibc)
import Glibc
#endif

/// Gives memory that the process freed back to the system.
///
/// glibc keeps what is freed inside its heaps: after a large batch the gateway held 95 MiB and
/// its heaps 220 MiB (`malloc_stats` after each commit in `vangnet bench pull --records 500000`),
/// growing with every batch as new allocations fit the holes of earlier ones less well.
/// `malloc_trim` returns every free page of every heap (not only the top of the main heap).
enum FreedMemory {
    static func release() {
        #if canImport(Glibc)
        _ = malloc_trim(0)
        #endif
    }
}

#if canImport(Glibc)
/// glibc's `int malloc_trim(size_t pad)` (malloc.h, which Glibc's module map leaves out).
@_silgen_name("malloc_trim")
private func malloc_trim(_ pad: Int) -> Int32
#endif
