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
        #endif
        await main(nil)
    }
}

#if os(Linux)
/// glibc's `int mallopt(int param, int value)` (malloc.h, which Glibc's module map leaves out).
@_silgen_name("mallopt")
private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
