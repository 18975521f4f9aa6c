#if canImport(Glibc)
import Glibc
#endif

/// How the gateway process asks glibc to keep its memory, in one place: set at start, applied
/// after every commit, and passed on to the gateways the benchmarks start (`environment`).
package enum ProcessMemory {
    /// Two malloc arenas. glibc gives threads that allocate at once arenas of their own (up to
    /// eight per core) and keeps what is freed in each: with NIO's threads, SQLite's queues and the
    /// delivery rules' thread, the peak RSS was 261-358 MiB in `vangnet bench pull --records
    /// 500000` (2M records stored) and 213-215 MiB with two, at the same speed.
    static let arenas: Int32 = 2
    /// Blocks from 1 MiB up mapped on their own. glibc otherwise raises this size to the largest
    /// block freed so far, so SQLite's sorter and page cache buffers, once freed, end up as holes
    /// in the heaps that later allocations fit badly: in the same benchmark each month's batches
    /// grew the heaps by 30-80 MiB, to a peak of 256-266 MiB; with 1 MiB fixed, 178-217 MiB.
    /// 64 KiB held it at 197-204 MiB, but every page's rows and body were then mapped and faulted
    /// in afresh (a seventh of the gateway's time, streaming pages of 10,000).
    static let mappingThreshold: Int32 = 1024 * 1024

    /// The same settings as environment variables (glibc reads them before the first
    /// allocation), as operations.md advises for every gateway process.
    package static let environment = [
        "MALLOC_ARENA_MAX": String(arenas), "MALLOC_MMAP_THRESHOLD_": String(mappingThreshold),
    ]

    /// Asks glibc for these settings; call first thing in the process.
    package static func configure() {
        #if canImport(Glibc)
        let arenaMax: Int32 = -8
        let mmapThreshold: Int32 = -3  // M_ARENA_MAX, M_MMAP_THRESHOLD (malloc.h)
        _ = mallopt(arenaMax, arenas)
        _ = mallopt(mmapThreshold, mappingThreshold)
        #endif
    }

    /// Gives memory the process freed back to the system. After a large batch the gateway held
    /// 95 MiB and its heaps 220 MiB (`malloc_stats` after each commit in the benchmark above);
    /// `malloc_trim` returns every free page of every heap, not only the top of the main one.
    static func releaseFreed() {
        #if canImport(Glibc)
        _ = malloc_trim(0)
        #endif
    }
}

#if canImport(Glibc)
// glibc's malloc.h, which Glibc's module map leaves out.
@_silgen_name("mallopt")
private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
@_silgen_name("malloc_trim")
private func malloc_trim(_ pad: Int) -> Int32
#endif
