import ArgumentParser

/// The `vangnet` command: the gateway and every tool around it.
@main
struct Vangnet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vangnet",
        abstract: "Privacy-preserving data-exchange gateway between DUO, UWV and the RMC / Doorstroompunt regions.",
        subcommands: [
            DemoCommand.self, ServeCommand.self, ConfigCommand.self, PolicyCommand.self, RetentionCommand.self, PKICommand.self, KeysCommand.self, SynthCommand.self,
            SealCommand.self, PushCommand.self, PullCommand.self, AuditCommand.self, ReceiptCommand.self, BenchCommand.self,
        ]
    )

    static func main() async {
        #if os(Linux)
        // glibc gives threads that allocate at once arenas of their own (up to eight per core) and
        // keeps what is freed in each. With NIO's threads, SQLite's queues and the delivery rules'
        // thread, the gateway's peak RSS was 261-358 MiB in `vangnet bench pull --records 500000`
        // (2M records stored) and 213-215 MiB with `MALLOC_ARENA_MAX=2`, at the same speed. The
        // environment variable is the sure way (operations.md); this asks for the same at start.
        _ = mallopt(-8 /* M_ARENA_MAX, malloc.h */, 2)
        // And glibc raises the size from which it maps a block of its own to the largest block
        // freed so far, so SQLite's sorter and page cache buffers, once freed, end up as holes in
        // the heaps that later allocations fit badly: in the same benchmark a batch's commit grew
        // the heaps by 30-80 MiB each month, to a peak of 256-266 MiB. A fixed threshold of 1 MiB
        // (which also stops the raising) gives such blocks back when they are freed: peak 178-215
        // MiB. 64 KiB held it at 197-204 MiB, but every page's rows and body were then mapped and
        // faulted in afresh (a seventh of the gateway's time, streaming pages of 10,000).
        _ = mallopt(-3 /* M_MMAP_THRESHOLD */, 1024 * 1024)
        #endif
        await main(nil)
    }
}

#if os(Linux)
/// glibc's `int mallopt(int param, int value)` (malloc.h, which Glibc's module map leaves out).
@_silgen_name("mallopt")
private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
