import ArgumentParser
import Benchmarks
import Gateway

/// The `vangnet` command: the gateway and every tool around it.
@main
struct Vangnet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vangnet",
        abstract: "Privacy-preserving data-exchange gateway between DUO, UWV and the RMC / Doorstroompunt regions.",
        subcommands: [
            DemoCommand.self, ServeCommand.self, ConfigCommand.self, PolicyCommand.self, RetentionCommand.self,
            PKICommand.self, KeysCommand.self, SynthCommand.self,
            SealCommand.self, PushCommand.self, PullCommand.self, AuditCommand.self, ReceiptCommand.self,
            KeysCommand.Reveal.self,
            BenchCommand.self,
        ]
    )

    static func main() async {
        // Two malloc arenas and a fixed mapping threshold (``ProcessMemory``); the environment
        // variables are the sure way (operations.md), this asks for the same at start.
        ProcessMemory.configure()
        await main(nil)
    }
}
